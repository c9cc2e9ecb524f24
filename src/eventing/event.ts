// The broker's in-memory form of a CloudEvent: context attributes (and extensions) in one flat record, the data as
// raw bytes, and the pass-through headers that travel with it (Knative forwards x-request-id, knative-*, x-b3-*,
// trace context from producer to subscriber). The same value is what the log stores.

export type AttrValue = string | number | boolean;

export interface CloudEvent {
  /** specversion, id, source, type, optional attributes and extensions (never data / data_base64). */
  attrs: Record<string, AttrValue>;
  /** Event data as bytes; null = no data. */
  data: Buffer | null;
  /** Pass-through headers as flat [name, value, ...] pairs (names lower-case); null when none. */
  headers: string[] | null;
}

export const SPEC_VERSIONS: ReadonlySet<string> = new Set(['1.0', '0.3']);

export const TTL_EXT = 'knativebrokerttl';
export const ARRIVAL_EXT = 'knativearrivaltime';

/** Attribute/extension names: lower-case letters and digits (CloudEvents naming convention). */
export const NAME_RE = /^[a-z0-9]+$/;

/** Whether a datacontenttype means the data is JSON (`*\/json`, `*\/*+json`). */
export function isJsonType(ct: string | undefined): boolean {
  if (ct === undefined) return true;
  const semi = ct.indexOf(';');
  const mt = (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
  return mt.endsWith('/json') || mt.endsWith('+json');
}

/** Knative's pass-through set (pkg/utils/headers.go) plus W3C trace context. */
export function isPassThroughHeader(lower: string): boolean {
  return (
    lower === 'x-request-id' ||
    lower === 'retry-after' ||
    lower === 'traceparent' ||
    lower === 'tracestate' ||
    lower.startsWith('knative-') ||
    lower.startsWith('x-b3-')
  );
}

/** Read an attribute by name the way Knative's attribute filter does (aliases for 0.3 / media type). */
export function attrOf(ev: CloudEvent, name: string): AttrValue | undefined {
  const v = ev.attrs[name];
  if (v !== undefined) return v;
  switch (name) {
    case 'schemaurl':
      return ev.attrs.dataschema;
    case 'dataschema':
      return ev.attrs.schemaurl;
    case 'datamediatype': {
      const ct = ev.attrs.datacontenttype;
      if (typeof ct !== 'string') return undefined;
      const semi = ct.indexOf(';');
      return (semi < 0 ? ct : ct.slice(0, semi)).trim();
    }
    default:
      return undefined;
  }
}

/** String form of an attribute value, as Go's fmt %v would print it for the exact/prefix/suffix dialects. */
export function attrString(v: AttrValue): string {
  return typeof v === 'string' ? v : String(v);
}
