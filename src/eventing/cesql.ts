// CloudEvents SQL (CESQL v1) parser and evaluator, written from the spec (cloudevents/spec cesql/spec.md) because
// no maintained JavaScript implementation exists. Precedence follows the spec's grammar, tightest first:
//   NOT / unary minus  >  LIKE, IN  >  * / %  >  + -  >  comparisons  >  AND, OR, XOR (one level, right-assoc).
// Evaluation is total: errors (missing attribute, cast, division by zero) are collected and the operator returns
// its zero value; a subexpression that touches a missing attribute evaluates to false. As a filter, an expression
// passes only when it yields boolean true with no errors.
import type { AttrValue } from './event.js';

export type Value = string | number | boolean;
type Type = 'string' | 'int' | 'bool';

export type Node =
  | { k: 'lit'; v: Value }
  | { k: 'id'; name: string }
  | { k: 'not'; e: Node }
  | { k: 'neg'; e: Node }
  | { k: 'bin'; op: string; l: Node; r: Node }
  | { k: 'like'; e: Node; re: RegExp; not: boolean }
  | { k: 'exists'; name: string }
  | { k: 'in'; e: Node; set: Node[]; not: boolean }
  | { k: 'call'; fn: string; args: Node[] };

export class CesqlSyntaxError extends Error {}

// ---------------------------------------------------------------- lexer

type Tok =
  | { t: 'op'; v: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'int'; v: number; pos: number }
  | { t: 'word'; v: string; pos: number }
  | { t: 'fn'; v: string; pos: number }
  | { t: 'eof'; pos: number };

const KEYWORDS = new Set(['AND', 'OR', 'XOR', 'NOT', 'LIKE', 'IN', 'EXISTS', 'TRUE', 'FALSE']);

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const pos = i;
    if (c === "'" || c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new CesqlSyntaxError(`unterminated string literal at ${pos}`);
        const d = src[i]!;
        if (d === '\\' && src[i + 1] === c) {
          s += c;
          i += 2;
          continue;
        }
        if (d === c) {
          i++;
          break;
        }
        s += d;
        i++;
      }
      out.push({ t: 'str', v: s, pos });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      out.push({ t: 'op', v: two, pos });
      i += 2;
      continue;
    }
    if ('()=<>+-*/%,'.includes(c)) {
      out.push({ t: 'op', v: c, pos });
      i++;
      continue;
    }
    if (/[A-Za-z0-9_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      const word = src.slice(i, j);
      i = j;
      if (/^[0-9]+$/.test(word)) {
        const n = Number(word);
        if (n > 2147483648) throw new CesqlSyntaxError(`integer literal ${word} out of 32-bit range`);
        out.push({ t: 'int', v: n, pos });
        continue;
      }
      let k = i;
      while (k < src.length && /\s/.test(src[k]!)) k++;
      if (src[k] === '(' && !KEYWORDS.has(word.toUpperCase())) out.push({ t: 'fn', v: word.toUpperCase(), pos });
      else out.push({ t: 'word', v: word, pos });
      continue;
    }
    throw new CesqlSyntaxError(`unexpected character ${JSON.stringify(c)} at ${pos}`);
  }
  out.push({ t: 'eof', pos: src.length });
  return out;
}

// ---------------------------------------------------------------- functions

interface FnDef {
  params: Type[];
  /** Type of every argument past `params` (variadic), or null. */
  rest: Type | null;
  ret: Type;
  impl: (a: Value[], errs: string[]) => Value;
}

const chars = (s: string): string[] => Array.from(s);

/** LEFT(s, n) / RIGHT(s, n): the first / last n characters; a negative n is an error that yields s unchanged. */
function leftRight(name: 'LEFT' | 'RIGHT'): FnDef {
  return {
    params: ['string', 'int'],
    rest: null,
    ret: 'string',
    impl: (a, errs) => {
      const s = a[0] as string;
      const n = a[1] as number;
      if (n < 0) {
        errs.push(`${name}: negative length`);
        return s;
      }
      const cs = chars(s);
      if (name === 'LEFT') return cs.slice(0, n).join('');
      return n >= cs.length ? s : cs.slice(cs.length - n).join('');
    },
  };
}

const FUNCTIONS: Record<string, FnDef[]> = {
  LENGTH: [{ params: ['string'], rest: null, ret: 'int', impl: (a) => chars(a[0] as string).length }],
  CONCAT: [{ params: [], rest: 'string', ret: 'string', impl: (a) => (a as string[]).join('') }],
  CONCAT_WS: [{ params: ['string'], rest: 'string', ret: 'string', impl: (a) => (a.slice(1) as string[]).join(a[0] as string) }],
  LOWER: [{ params: ['string'], rest: null, ret: 'string', impl: (a) => (a[0] as string).toLowerCase() }],
  UPPER: [{ params: ['string'], rest: null, ret: 'string', impl: (a) => (a[0] as string).toUpperCase() }],
  TRIM: [{ params: ['string'], rest: null, ret: 'string', impl: (a) => (a[0] as string).trim() }],
  LEFT: [leftRight('LEFT')],
  RIGHT: [leftRight('RIGHT')],
  SUBSTRING: [
    { params: ['string', 'int'], rest: null, ret: 'string', impl: (a, errs) => substring(a[0] as string, a[1] as number, null, errs) },
    { params: ['string', 'int', 'int'], rest: null, ret: 'string', impl: (a, errs) => substring(a[0] as string, a[1] as number, a[2] as number, errs) },
  ],
  ABS: [
    {
      params: ['int'],
      rest: null,
      ret: 'int',
      impl: (a, errs) => {
        const n = a[0] as number;
        if (n === -2147483648) {
          errs.push('ABS: integer overflow');
          return 2147483647;
        }
        return Math.abs(n);
      },
    },
  ],
  INT: [{ params: ['int'], rest: null, ret: 'int', impl: (a) => a[0]! }],
  BOOL: [{ params: ['bool'], rest: null, ret: 'bool', impl: (a) => a[0]! }],
  STRING: [{ params: ['string'], rest: null, ret: 'string', impl: (a) => a[0]! }],
  IS_BOOL: [{ params: ['string'], rest: null, ret: 'bool', impl: (a) => /^(true|false)$/i.test(a[0] as string) }],
  IS_INT: [{ params: ['string'], rest: null, ret: 'bool', impl: (a) => parseIntStrict(a[0] as string) !== null }],
};

function substring(s: string, pos: number, len: number | null, errs: string[]): string {
  const cs = chars(s);
  if (pos > cs.length || pos < -cs.length) {
    errs.push('SUBSTRING: position out of range');
    return '';
  }
  if (len !== null && len < 0) {
    errs.push('SUBSTRING: negative length');
    return '';
  }
  if (pos === 0) return '';
  const start = pos > 0 ? pos - 1 : cs.length + pos;
  const end = len === null ? cs.length : Math.min(cs.length, start + len);
  return cs.slice(start, end).join('');
}

function pickOverload(name: string, arity: number): FnDef | undefined {
  const defs = FUNCTIONS[name];
  if (!defs) return undefined;
  return defs.find((d) => (d.rest ? arity >= d.params.length : arity === d.params.length));
}

// ---------------------------------------------------------------- parser

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    return this.toks[this.i++]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private isKw(v: string): boolean {
    const t = this.peek();
    return t.t === 'word' && t.v.toUpperCase() === v;
  }
  private expectOp(v: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw new CesqlSyntaxError(`expected "${v}" at ${t.pos}`);
  }

  parseAll(): Node {
    const n = this.logic();
    const t = this.peek();
    if (t.t !== 'eof') throw new CesqlSyntaxError(`unexpected token at ${t.pos}`);
    return n;
  }

  private logic(): Node {
    const l = this.comparison();
    for (const op of ['AND', 'OR', 'XOR']) {
      if (this.isKw(op)) {
        this.next();
        return { k: 'bin', op, l, r: this.logic() }; // right-associative, one shared level
      }
    }
    return l;
  }

  private comparison(): Node {
    let l = this.additive();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && ['=', '!=', '<>', '<', '<=', '>', '>='].includes(t.v)) {
        this.next();
        l = { k: 'bin', op: t.v === '<>' ? '!=' : t.v, l, r: this.additive() };
      } else return l;
    }
  }

  private additive(): Node {
    let l = this.multiplicative();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && (t.v === '+' || t.v === '-')) {
        this.next();
        l = { k: 'bin', op: t.v, l, r: this.multiplicative() };
      } else return l;
    }
  }

  private multiplicative(): Node {
    let l = this.postfix();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && (t.v === '*' || t.v === '/' || t.v === '%')) {
        this.next();
        l = { k: 'bin', op: t.v, l, r: this.postfix() };
      } else return l;
    }
  }

  /** LIKE / IN (optionally negated) bind tighter than arithmetic. */
  private postfix(): Node {
    let e = this.unary();
    for (;;) {
      const save = this.i;
      let not = false;
      if (this.isKw('NOT')) {
        this.next();
        not = true;
      }
      if (this.isKw('LIKE')) {
        this.next();
        const t = this.next();
        if (t.t !== 'str') throw new CesqlSyntaxError(`LIKE needs a string literal pattern at ${t.pos}`);
        e = { k: 'like', e, re: likeRegExp(t.v), not };
      } else if (this.isKw('IN')) {
        this.next();
        this.expectOp('(');
        const set: Node[] = [this.logic()];
        while (this.isOp(',')) {
          this.next();
          set.push(this.logic());
        }
        this.expectOp(')');
        e = { k: 'in', e, set, not };
      } else {
        this.i = save;
        return e;
      }
    }
  }

  private unary(): Node {
    if (this.isKw('NOT')) {
      this.next();
      return { k: 'not', e: this.unary() };
    }
    if (this.isOp('-')) {
      this.next();
      const t = this.peek();
      if (t.t === 'int') {
        this.next();
        return { k: 'lit', v: -t.v };
      }
      return { k: 'neg', e: this.unary() };
    }
    return this.primary();
  }

  private primary(): Node {
    const t = this.next();
    switch (t.t) {
      case 'int':
        if (t.v > 2147483647) throw new CesqlSyntaxError(`integer literal ${t.v} out of 32-bit range`);
        return { k: 'lit', v: t.v };
      case 'str':
        return { k: 'lit', v: t.v };
      case 'fn': {
        this.expectOp('(');
        const args: Node[] = [];
        if (!this.isOp(')')) {
          args.push(this.logic());
          while (this.isOp(',')) {
            this.next();
            args.push(this.logic());
          }
        }
        this.expectOp(')');
        if (!FUNCTIONS[t.v]) throw new CesqlSyntaxError(`unknown function ${t.v}`);
        if (!pickOverload(t.v, args.length)) throw new CesqlSyntaxError(`function ${t.v} does not take ${args.length} argument(s)`);
        return { k: 'call', fn: t.v, args };
      }
      case 'word': {
        const up = t.v.toUpperCase();
        if (up === 'TRUE') return { k: 'lit', v: true };
        if (up === 'FALSE') return { k: 'lit', v: false };
        if (up === 'EXISTS') {
          const id = this.next();
          if (id.t !== 'word' || !/^[a-z0-9]+$/.test(id.v)) throw new CesqlSyntaxError(`EXISTS needs an attribute name at ${id.pos}`);
          return { k: 'exists', name: id.v };
        }
        if (KEYWORDS.has(up)) throw new CesqlSyntaxError(`unexpected keyword ${t.v} at ${t.pos}`);
        if (!/^[a-z0-9]+$/.test(t.v)) throw new CesqlSyntaxError(`invalid attribute name "${t.v}" at ${t.pos} (lower-case letters and digits only)`);
        return { k: 'id', name: t.v };
      }
      case 'op':
        if (t.v === '(') {
          const e = this.logic();
          this.expectOp(')');
          return e;
        }
        throw new CesqlSyntaxError(`unexpected "${t.v}" at ${t.pos}`);
      default:
        throw new CesqlSyntaxError('unexpected end of expression');
    }
  }
}

function likeRegExp(pattern: string): RegExp {
  let re = '^';
  const cs = chars(pattern);
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '\\' && i + 1 < cs.length) {
      re += cs[++i]!.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    } else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(re + '$', 'u');
}

/** Parse a CESQL expression; throws CesqlSyntaxError with a position. */
export function parseCesql(src: string): Node {
  return new Parser(lex(src)).parseAll();
}

// ---------------------------------------------------------------- evaluation

const MISSING = Symbol('missing');
type V = Value | typeof MISSING;

function typeOf(v: Value): Type {
  return typeof v === 'string' ? 'string' : typeof v === 'number' ? 'int' : 'bool';
}

function parseIntStrict(s: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(s.trim())) return null;
  const n = Number(s.trim());
  return n >= -2147483648 && n <= 2147483647 ? n : null;
}

function cast(v: Value, to: Type, errs: string[]): Value {
  switch (to) {
    case 'int':
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      {
        const n = parseIntStrict(v);
        if (n === null) {
          errs.push(`cast: ${JSON.stringify(v)} is not an integer`);
          return 0;
        }
        return n;
      }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'number') return v !== 0;
      {
        const l = v.toLowerCase();
        if (l === 'true') return true;
        if (l === 'false') return false;
        errs.push(`cast: ${JSON.stringify(v)} is not a boolean`);
        return false;
      }
    default:
      return typeof v === 'string' ? v : String(v);
  }
}

const ZERO: Record<Type, Value> = { string: '', int: 0, bool: false };

function i32(n: number): number {
  return n | 0;
}

function evalNode(n: Node, attrs: Record<string, AttrValue>, errs: string[]): V {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'id': {
      const v = attrs[n.name];
      if (v === undefined) {
        errs.push(`missing attribute "${n.name}"`);
        return MISSING;
      }
      return v;
    }
    case 'exists':
      return attrs[n.name] !== undefined;
    case 'not': {
      const v = evalNode(n.e, attrs, errs);
      return v === MISSING ? false : !cast(v, 'bool', errs);
    }
    case 'neg': {
      const v = evalNode(n.e, attrs, errs);
      return v === MISSING ? 0 : i32(-(cast(v, 'int', errs) as number));
    }
    case 'like': {
      const v = evalNode(n.e, attrs, errs);
      if (v === MISSING) return false;
      const m = n.re.test(cast(v, 'string', errs) as string);
      return n.not ? !m : m;
    }
    case 'in': {
      const v = evalNode(n.e, attrs, errs);
      if (v === MISSING) return false;
      const t = typeOf(v);
      let found = false;
      for (const s of n.set) {
        const sv = evalNode(s, attrs, errs);
        if (sv === MISSING) return false;
        if (cast(sv, t, errs) === v) {
          found = true;
          break;
        }
      }
      return n.not ? !found : found;
    }
    case 'call': {
      const def = pickOverload(n.fn, n.args.length)!;
      const args: Value[] = [];
      let missing = false;
      for (let i = 0; i < n.args.length; i++) {
        const v = evalNode(n.args[i]!, attrs, errs);
        if (v === MISSING) {
          missing = true;
          continue;
        }
        args.push(cast(v, i < def.params.length ? def.params[i]! : def.rest!, errs));
      }
      return missing ? ZERO[def.ret] : def.impl(args, errs);
    }
    case 'bin':
      return evalBinary(n, attrs, errs);
  }
}

function evalBinary(n: Extract<Node, { k: 'bin' }>, attrs: Record<string, AttrValue>, errs: string[]): V {
  const op = n.op;
  if (op === 'AND' || op === 'OR' || op === 'XOR') {
    const l = evalNode(n.l, attrs, errs);
    if (l === MISSING) return false;
    const lb = cast(l, 'bool', errs) as boolean;
    if (op === 'AND' && !lb) return false;
    if (op === 'OR' && lb) return true;
    const r = evalNode(n.r, attrs, errs);
    if (r === MISSING) return false;
    const rb = cast(r, 'bool', errs) as boolean;
    return op === 'XOR' ? lb !== rb : rb;
  }
  const l = evalNode(n.l, attrs, errs);
  const r = evalNode(n.r, attrs, errs);
  switch (op) {
    case '=':
    case '!=': {
      if (l === MISSING || r === MISSING) return false;
      // '=' is defined for all three types: the right operand's type picks the overload, the left is cast to it.
      const eq = cast(l, typeOf(r), errs) === r;
      return op === '=' ? eq : !eq;
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      if (l === MISSING || r === MISSING) return false;
      const a = cast(l, 'int', errs) as number;
      const b = cast(r, 'int', errs) as number;
      return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    }
    default: {
      if (l === MISSING || r === MISSING) return 0;
      const a = cast(l, 'int', errs) as number;
      const b = cast(r, 'int', errs) as number;
      switch (op) {
        case '+':
          return i32(a + b);
        case '-':
          return i32(a - b);
        case '*':
          return Math.imul(a, b);
        case '/':
          if (b === 0) {
            errs.push('division by zero');
            return 0;
          }
          return i32(Math.trunc(a / b));
        case '%':
          if (b === 0) {
            errs.push('division by zero');
            return 0;
          }
          return i32(a % b);
      }
      return 0;
    }
  }
}

/** Evaluate an expression; the value plus the errors raised on the way (empty = none). */
export function evaluateCesql(n: Node, attrs: Record<string, AttrValue>): { value: Value; errors: string[] } {
  const errors: string[] = [];
  const v = evalNode(n, attrs, errors);
  return { value: v === MISSING ? '' : v, errors };
}

/** Filter semantics: pass only on boolean true without errors. */
export function cesqlMatches(n: Node, attrs: Record<string, AttrValue>): boolean {
  const errors: string[] = [];
  const v = evalNode(n, attrs, errors);
  return v === true && errors.length === 0;
}
