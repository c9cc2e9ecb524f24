// Trigger filters: the legacy `spec.filter.attributes` map and the Subscriptions API `spec.filters` dialects
// (exact, prefix, suffix, all, any, not, cesql). Compiling is pure (problems are returned, never thrown) so the
// model can report a bad filter with its field path; evaluation is a small tree walk per event.
// Results follow Knative's eventfilter: Pass, Fail or NoFilter, and only Fail drops the event.
import type { Problem } from '../model/objects.js';
import { attrOf, attrString, type CloudEvent } from './event.js';
import { CesqlSyntaxError, cesqlMatches, parseCesql, type Node } from './cesql.js';

export type Filter =
  | { k: 'attributes'; entries: [string, string][] }
  | { k: 'exact' | 'prefix' | 'suffix'; entries: [string, string][] }
  | { k: 'all' | 'any'; of: Filter[] }
  | { k: 'not'; f: Filter }
  | { k: 'cesql'; expr: string; ast: Node };

export const PASS = 1;
export const FAIL = 0;
export const NO_FILTER = 2;
export type FilterResult = typeof PASS | typeof FAIL | typeof NO_FILTER;

const LEGACY_KEY_RE = /^[a-z][a-z0-9]*$/;
const DIALECTS = ['exact', 'prefix', 'suffix', 'all', 'any', 'not', 'cesql'] as const;

export interface FilterContext {
  object: string;
  problems: Problem[];
}

function problem(ctx: FilterContext, severity: Problem['severity'], field: string, message: string): void {
  ctx.problems.push({ severity, object: ctx.object, field, message });
}

/** Legacy `spec.filter`: returns null for "no filter" (absent or empty map). Invalid keys are errors. */
export function compileLegacyFilter(spec: unknown, ctx: FilterContext, field: string): { filter: Filter | null; ok: boolean } {
  if (spec === undefined || spec === null) return { filter: null, ok: true };
  if (typeof spec !== 'object') {
    problem(ctx, 'error', field, 'must be an object');
    return { filter: null, ok: false };
  }
  const attrs = (spec as { attributes?: unknown }).attributes;
  if (attrs === undefined || attrs === null) return { filter: null, ok: true };
  if (typeof attrs !== 'object' || Array.isArray(attrs)) {
    problem(ctx, 'error', field + '.attributes', 'must be a map of attribute name to value');
    return { filter: null, ok: false };
  }
  const entries: [string, string][] = [];
  let ok = true;
  for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
    if (!LEGACY_KEY_RE.test(k)) {
      problem(ctx, 'error', `${field}.attributes.${k}`, 'attribute names must match ^[a-z][a-z0-9]*$');
      ok = false;
      continue;
    }
    if (typeof v !== 'string') {
      problem(ctx, 'error', `${field}.attributes.${k}`, 'value must be a string ("" means "present and non-empty")');
      ok = false;
      continue;
    }
    entries.push([k, v]);
  }
  return { filter: entries.length ? { k: 'attributes', entries } : null, ok };
}

/** One element of `spec.filters` (exactly one dialect). Returns null when the element is skipped. */
function compileDialect(el: unknown, ctx: FilterContext, field: string): Filter | null | false {
  if (el === null || typeof el !== 'object' || Array.isArray(el)) {
    problem(ctx, 'error', field, 'each filter must be an object with one dialect');
    return false;
  }
  const keys = Object.keys(el as object).filter((k) => (el as Record<string, unknown>)[k] !== undefined && (el as Record<string, unknown>)[k] !== null);
  const dialects = keys.filter((k) => (DIALECTS as readonly string[]).includes(k));
  const unknown = keys.filter((k) => !(DIALECTS as readonly string[]).includes(k));
  if (unknown.length) {
    problem(ctx, 'error', field, `unknown filter dialect(s): ${unknown.join(', ')}`);
    return false;
  }
  if (dialects.length !== 1) {
    problem(ctx, 'error', field, dialects.length ? `multiple dialects in one filter: ${dialects.join(', ')}` : 'empty filter');
    return false;
  }
  const d = dialects[0]!;
  const v = (el as Record<string, unknown>)[d];
  const f = `${field}.${d}`;
  switch (d) {
    case 'exact':
    case 'prefix':
    case 'suffix': {
      if (typeof v !== 'object' || Array.isArray(v)) {
        problem(ctx, 'error', f, 'must be a map of attribute name to value');
        return false;
      }
      const entries: [string, string][] = [];
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        if (k === '' || val === '' || val === undefined || val === null) {
          // Knative skips such a filter with a warning rather than rejecting the trigger.
          problem(ctx, 'warning', `${f}.${k}`, 'empty attribute name or value; this filter is ignored');
          return null;
        }
        entries.push([k, typeof val === 'string' ? val : String(val)]);
      }
      if (entries.length === 0) {
        problem(ctx, 'warning', f, 'empty map; this filter is ignored');
        return null;
      }
      return { k: d, entries };
    }
    case 'all':
    case 'any': {
      if (!Array.isArray(v)) {
        problem(ctx, 'error', f, 'must be a list of filters');
        return false;
      }
      const of: Filter[] = [];
      for (let i = 0; i < v.length; i++) {
        const c = compileDialect(v[i], ctx, `${f}[${i}]`);
        if (c === false) return false;
        if (c) of.push(c);
      }
      return { k: d, of };
    }
    case 'not': {
      const c = compileDialect(v, ctx, f);
      if (c === false) return false;
      return c ? { k: 'not', f: c } : null;
    }
    case 'cesql': {
      if (typeof v !== 'string' || v.trim() === '') {
        problem(ctx, 'error', f, 'must be a non-empty CESQL expression');
        return false;
      }
      try {
        return { k: 'cesql', expr: v, ast: parseCesql(v) };
      } catch (e) {
        if (e instanceof CesqlSyntaxError) {
          problem(ctx, 'error', f, `invalid CESQL: ${e.message}`);
          return false;
        }
        throw e;
      }
    }
  }
  return false;
}

/** `spec.filters` (implicit AND). Returns null for an absent or empty list (which does NOT override `filter`). */
export function compileFilters(spec: unknown, ctx: FilterContext, field: string): { filter: Filter | null; ok: boolean } {
  if (spec === undefined || spec === null) return { filter: null, ok: true };
  if (!Array.isArray(spec)) {
    problem(ctx, 'error', field, 'must be a list');
    return { filter: null, ok: false };
  }
  if (spec.length === 0) return { filter: null, ok: true };
  const of: Filter[] = [];
  for (let i = 0; i < spec.length; i++) {
    const c = compileDialect(spec[i], ctx, `${field}[${i}]`);
    if (c === false) return { filter: null, ok: false };
    if (c) of.push(c);
  }
  return { filter: { k: 'all', of }, ok: true };
}

/** Knative's rule: a non-empty `filters` overrides `filter`. */
export function compileTriggerFilter(spec: { filter?: unknown; filters?: unknown }, ctx: FilterContext): { filter: Filter | null; ok: boolean } {
  const legacy = compileLegacyFilter(spec.filter, ctx, 'spec.filter');
  const modern = compileFilters(spec.filters, ctx, 'spec.filters');
  const ok = legacy.ok && modern.ok;
  if (Array.isArray(spec.filters) && spec.filters.length > 0) return { filter: modern.filter, ok };
  return { filter: legacy.filter, ok };
}

export function evaluateFilter(f: Filter, ev: CloudEvent): FilterResult {
  switch (f.k) {
    case 'attributes': {
      for (const [name, want] of f.entries) {
        const v = attrOf(ev, name);
        if (v === undefined) return FAIL;
        const s = attrString(v);
        if (want === '' ? s === '' : s !== want) return FAIL;
      }
      return PASS;
    }
    case 'exact':
    case 'prefix':
    case 'suffix': {
      for (const [name, want] of f.entries) {
        const v = attrOf(ev, name);
        if (v === undefined) return FAIL;
        const s = attrString(v);
        if (f.k === 'exact' ? s !== want : f.k === 'prefix' ? !s.startsWith(want) : !s.endsWith(want)) return FAIL;
      }
      return PASS;
    }
    case 'all': {
      let any = false;
      for (const c of f.of) {
        const r = evaluateFilter(c, ev);
        if (r === FAIL) return FAIL;
        if (r === PASS) any = true;
      }
      return any ? PASS : NO_FILTER;
    }
    case 'any': {
      let sawFail = false;
      for (const c of f.of) {
        const r = evaluateFilter(c, ev);
        if (r === PASS) return PASS;
        if (r === FAIL) sawFail = true;
      }
      return sawFail ? FAIL : NO_FILTER;
    }
    case 'not': {
      const r = evaluateFilter(f.f, ev);
      return r === PASS ? FAIL : r === FAIL ? PASS : NO_FILTER;
    }
    case 'cesql':
      return cesqlMatches(f.ast, ev.attrs) ? PASS : FAIL;
  }
}

/** Whether an event should be delivered under `f` (null = no filter). */
export function matches(f: Filter | null, ev: CloudEvent): boolean {
  return f === null || evaluateFilter(f, ev) !== FAIL;
}
