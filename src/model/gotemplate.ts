// The subset of Go's text/template that Knative's domain-template and tag-template use: literal text,
// `{{.Field}}`, `{{index .Map "key"}}`, `{{/* comments */}}` and the `{{-`/`-}}` trim markers. Templates are parsed
// once (when the config is parsed) and rendered many times, so parsing validates field names up front.

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'field'; name: string }
  | { kind: 'index'; map: string; key: string };

export interface CompiledTemplate {
  source: string;
  parts: TemplatePart[];
}

export interface TemplateValues {
  /** String fields, e.g. Name, Namespace, Domain, Tag. */
  fields: Readonly<Record<string, string>>;
  /** Map fields, e.g. Annotations, Labels. */
  maps?: Readonly<Record<string, Readonly<Record<string, string>> | undefined>>;
}

export class TemplateError extends Error {}

const WS = /\s/;

/** Parses `src`; `fields`/`maps` list the names the template may use (like Go's data struct). Throws TemplateError. */
export function parseTemplate(src: string, fields: readonly string[], maps: readonly string[] = []): CompiledTemplate {
  const parts: TemplatePart[] = [];
  let i = 0;
  let pendingTrimLeft = false; // previous action ended with -}}: trim leading whitespace of the next text
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open === -1 ? src.slice(i) : src.slice(i, open);
    if (pendingTrimLeft) text = text.replace(/^\s+/, '');
    if (open === -1) {
      if (text) parts.push({ kind: 'text', text });
      break;
    }
    let start = open + 2;
    if (src[start] === '-' && WS.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 2;
    }
    if (text) parts.push({ kind: 'text', text });
    const close = src.indexOf('}}', start);
    if (close === -1) throw new TemplateError(`unclosed action at offset ${open}`);
    let end = close;
    pendingTrimLeft = false;
    if (src[close - 1] === '-' && WS.test(src[close - 2] ?? '') && close - 1 >= start) {
      end = close - 1;
      pendingTrimLeft = true;
    }
    const action = src.slice(start, end).trim();
    i = close + 2;
    if (action.startsWith('/*')) {
      if (!action.endsWith('*/')) throw new TemplateError(`unclosed comment at offset ${open}`);
      continue;
    }
    parts.push(parseAction(action, fields, maps));
  }
  return { source: src, parts: mergeText(parts) };
}

function parseAction(action: string, fields: readonly string[], maps: readonly string[]): TemplatePart {
  if (action === '') throw new TemplateError('missing value for command');
  const field = /^\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(action);
  if (field) {
    const name = field[1]!;
    if (!fields.includes(name)) {
      throw new TemplateError(`can't evaluate field ${name} (known: ${[...fields, ...maps].map((f) => '.' + f).join(', ')})`);
    }
    return { kind: 'field', name };
  }
  const idx = /^index\s+\.([A-Za-z_][A-Za-z0-9_]*)\s+("(?:[^"\\]|\\.)*"|`[^`]*`)$/.exec(action);
  if (idx) {
    const map = idx[1]!;
    if (!maps.includes(map)) throw new TemplateError(`can't index field ${map} (maps: ${maps.map((m) => '.' + m).join(', ') || 'none'})`);
    const lit = idx[2]!;
    let key: string;
    if (lit.startsWith('`')) key = lit.slice(1, -1);
    else {
      try {
        key = JSON.parse(lit) as string;
      } catch {
        throw new TemplateError(`bad string literal ${lit}`);
      }
    }
    return { kind: 'index', map, key };
  }
  throw new TemplateError(`unsupported action {{${action}}}: wharf supports {{.Field}} and {{index .Map "key"}}`);
}

function mergeText(parts: TemplatePart[]): TemplatePart[] {
  const out: TemplatePart[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (p.kind === 'text' && last?.kind === 'text') out[out.length - 1] = { kind: 'text', text: last.text + p.text };
    else out.push(p);
  }
  return out;
}

/** Renders a parsed template. A missing map key renders as "" (Go's `index` on a map yields the zero value). */
export function renderTemplate(t: CompiledTemplate, v: TemplateValues): string {
  let out = '';
  for (const p of t.parts) {
    if (p.kind === 'text') out += p.text;
    else if (p.kind === 'field') out += v.fields[p.name] ?? '';
    else out += v.maps?.[p.map]?.[p.key] ?? '';
  }
  return out;
}
