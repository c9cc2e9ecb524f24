// CloudEvents HTTP binding, server side: decode binary and structured (JSON) mode, 1.0 and 0.3, and encode for
// delivery. Written for the broker's needs: strict validation (a bad event is a 400 with a clear reason), one pass
// over the headers, data kept as bytes so it is never re-serialised on the way through.
import { SPEC_VERSIONS, NAME_RE, isJsonType, isPassThroughHeader, type AttrValue, type CloudEvent } from './event.js';

export type HeaderBag = Record<string, string | string[] | undefined>;

export class CodecError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Decode a ce-* header value: an RFC 7230 quoted string is unquoted first, then one round of percent-decoding;
 * the resulting bytes must be valid UTF-8 (overlong forms like %C0%A0 are rejected by the fatal decoder).
 */
export function decodeHeaderValue(raw: string, name: string): string {
  let s = raw;
  if (s.length >= 2 && s.charCodeAt(0) === 34 && s.charCodeAt(s.length - 1) === 34) {
    s = s.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  if (s.indexOf('%') < 0) {
    // Node hands header bytes over as latin1; anything outside ASCII must be re-read as UTF-8.
    // eslint-disable-next-line no-control-regex
    if (!/[^\x00-\x7f]/.test(s)) return s;
    try {
      return utf8.decode(Buffer.from(s, 'latin1'));
    } catch {
      throw new CodecError(`ce-${name}: header value is not valid UTF-8`);
    }
  }
  const src = Buffer.from(s, 'latin1');
  const out = Buffer.allocUnsafe(src.length);
  let j = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 37 /* % */) {
      const h = i + 2 < src.length ? hexVal(src[i + 1]!) : -1;
      const l = h >= 0 ? hexVal(src[i + 2]!) : -1;
      if (l < 0) throw new CodecError(`ce-${name}: invalid percent-encoding`);
      out[j++] = (h << 4) | l;
      i += 2;
    } else {
      out[j++] = c;
    }
  }
  try {
    return utf8.decode(out.subarray(0, j));
  } catch {
    throw new CodecError(`ce-${name}: percent-decoded value is not valid UTF-8`);
  }
}

// Characters that may appear unencoded in a header value: U+0021..U+007E except '"' and '%'.
const NEEDS_ENCODING = /[^\x21\x23\x24\x26-\x7e]/;

/** Percent-encode a ce-* header value per the HTTP binding (space, '"', '%', and everything outside printable ASCII). */
export function encodeHeaderValue(v: string): string {
  if (!NEEDS_ENCODING.test(v)) return v;
  const bytes = Buffer.from(v, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b >= 0x21 && b <= 0x7e && b !== 0x22 && b !== 0x25) out += String.fromCharCode(b);
    else out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

const MEDIA_TYPE_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+\s*(;\s*[!#$%&'*+.^_`|~0-9a-z-]+=("([^"\\]|\\.)*"|[!#$%&'*+.^_`|~0-9a-z-]+)\s*)*;?\s*$/i;
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Validate a decoded event as sdk-go's Validate does (plus the spec's naming rule). Throws CodecError. */
export function validateEvent(attrs: Record<string, AttrValue>): void {
  const sv = attrs.specversion;
  if (typeof sv !== 'string' || !SPEC_VERSIONS.has(sv)) throw new CodecError(`unsupported specversion ${JSON.stringify(sv)}`);
  for (const req of ['id', 'source', 'type']) {
    const v = attrs[req];
    if (typeof v !== 'string' || v.trim() === '') throw new CodecError(`required attribute "${req}" is missing or empty`);
  }
  const subject = attrs.subject;
  if (subject !== undefined && (typeof subject !== 'string' || subject === '')) throw new CodecError('attribute "subject" must be a non-empty string');
  const ct = attrs.datacontenttype;
  if (ct !== undefined && (typeof ct !== 'string' || !MEDIA_TYPE_RE.test(ct))) throw new CodecError(`attribute "datacontenttype" is not a media type: ${JSON.stringify(ct)}`);
  const schemaName = sv === '0.3' ? 'schemaurl' : 'dataschema';
  const schema = attrs[schemaName];
  if (schema !== undefined) {
    let ok = typeof schema === 'string' && schema !== '';
    if (ok) {
      try {
        new URL(schema as string);
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new CodecError(`attribute "${schemaName}" must be an absolute URI`);
  }
  const time = attrs.time;
  if (time !== undefined && (typeof time !== 'string' || !RFC3339_RE.test(time) || Number.isNaN(Date.parse(time)))) {
    throw new CodecError('attribute "time" is not an RFC 3339 timestamp');
  }
}

function collectPassThrough(headers: HeaderBag): string[] | null {
  let out: string[] | null = null;
  for (const k in headers) {
    if (k.charCodeAt(0) === 99 && k.startsWith('ce-')) continue;
    if (!isPassThroughHeader(k)) continue;
    const v = headerValue(headers[k]);
    if (v === undefined) continue;
    (out ??= []).push(k, v);
  }
  return out;
}

/** Decode a binary-mode message. `headers` keys must be lower-case (Node and undici both give them so). */
function decodeBinary(headers: HeaderBag, body: Buffer): CloudEvent {
  const attrs: Record<string, AttrValue> = {};
  for (const k in headers) {
    if (k.length <= 3 || k.charCodeAt(0) !== 99 || k.charCodeAt(1) !== 101 || k.charCodeAt(2) !== 45) continue;
    const name = k.slice(3);
    if (!NAME_RE.test(name)) throw new CodecError(`invalid attribute name "${name}" (only a-z and 0-9 are allowed)`);
    if (name === 'datacontenttype') throw new CodecError('binary mode must not carry ce-datacontenttype (use Content-Type)');
    if (name === 'data' || name === 'data_base64') throw new CodecError(`"${name}" is not an attribute`);
    const raw = headerValue(headers[k]);
    if (raw === undefined) continue;
    attrs[name] = decodeHeaderValue(raw, name);
  }
  const ct = headerValue(headers['content-type']);
  if (ct !== undefined && ct !== '') attrs.datacontenttype = ct;
  validateEvent(attrs);
  return { attrs, data: body.length > 0 ? body : null, headers: collectPassThrough(headers) };
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(s: unknown, field: string): Buffer {
  if (typeof s !== 'string') throw new CodecError(`"${field}" must be a base64 string`);
  const clean = s.replace(/\s+/g, '');
  if (clean.length % 4 === 1 || !BASE64_RE.test(clean)) throw new CodecError(`"${field}" is not valid base64`);
  return Buffer.from(clean, 'base64');
}

/** Decode the JSON event format (structured mode). */
export function decodeStructured(body: Buffer, passThrough: string[] | null): CloudEvent {
  let obj: unknown;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new CodecError('structured event is not valid UTF-8');
  }
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new CodecError(`structured event is not valid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(obj)) throw new CodecError('batched events are not supported');
  if (obj === null || typeof obj !== 'object') throw new CodecError('structured event must be a JSON object');
  const attrs: Record<string, AttrValue> = {};
  let data: unknown = undefined;
  let dataB64: unknown = undefined;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (v === null) continue; // null means absent
    if (k === 'data') {
      data = v;
      continue;
    }
    if (k === 'data_base64') {
      dataB64 = v;
      continue;
    }
    if (!NAME_RE.test(k)) throw new CodecError(`invalid attribute name "${k}" (only a-z and 0-9 are allowed)`);
    if (typeof v === 'string' || typeof v === 'boolean') attrs[k] = v;
    else if (typeof v === 'number' && Number.isInteger(v)) attrs[k] = v;
    else throw new CodecError(`attribute "${k}" must be a string, integer or boolean`);
  }
  if (data !== undefined && dataB64 !== undefined) throw new CodecError('"data" and "data_base64" are mutually exclusive');
  validateEvent(attrs);
  let bytes: Buffer | null = null;
  if (dataB64 !== undefined) {
    bytes = decodeBase64(dataB64, 'data_base64');
  } else if (data !== undefined) {
    const ct = attrs.datacontenttype as string | undefined;
    const enc = attrs.datacontentencoding;
    if (attrs.specversion === '0.3' && typeof enc === 'string' && enc.toLowerCase() === 'base64') {
      bytes = decodeBase64(data, 'data');
      delete attrs.datacontentencoding;
    } else if (isJsonType(ct)) {
      bytes = Buffer.from(JSON.stringify(data), 'utf8');
      // JSON data without a datacontenttype is implicitly application/json; say so for binary-mode delivery.
      if (ct === undefined) attrs.datacontenttype = 'application/json';
    } else {
      bytes = Buffer.from(typeof data === 'string' ? data : JSON.stringify(data), 'utf8');
    }
  }
  return { attrs, data: bytes, headers: passThrough };
}

export type Mode = 'binary' | 'structured' | 'batch' | 'none';

export function modeOf(headers: HeaderBag): Mode {
  const ct = headerValue(headers['content-type']);
  if (ct !== undefined) {
    const l = ct.trimStart().toLowerCase();
    if (l.startsWith('application/cloudevents-batch')) return 'batch';
    if (l.startsWith('application/cloudevents')) return 'structured';
  }
  return headers['ce-specversion'] !== undefined ? 'binary' : 'none';
}

/** Decode an HTTP message into an event; throws CodecError with the reason for a 400. */
export function decodeMessage(headers: HeaderBag, body: Buffer): CloudEvent {
  switch (modeOf(headers)) {
    case 'batch':
      throw new CodecError('batched mode is not supported');
    case 'structured': {
      const ct = headerValue(headers['content-type'])!.toLowerCase();
      const semi = ct.indexOf(';');
      const mt = (semi < 0 ? ct : ct.slice(0, semi)).trim();
      if (mt !== 'application/cloudevents+json' && mt !== 'application/cloudevents') {
        throw new CodecError(`unsupported structured format ${mt}`);
      }
      return decodeStructured(body, collectPassThrough(headers));
    }
    case 'binary':
      return decodeBinary(headers, body);
    default:
      throw new CodecError('not a CloudEvent: no ce-specversion header and no application/cloudevents content type');
  }
}

/** Whether a response looks like it carries an event (used to tell a reply from a plain body). */
export function looksLikeEvent(headers: HeaderBag): boolean {
  const m = modeOf(headers);
  return m === 'binary' || m === 'structured' || m === 'batch';
}

/**
 * Binary-mode headers for delivery: ce-* for every attribute except `skip` (e.g. knativebrokerttl), Content-Type
 * from datacontenttype, and the event's pass-through headers. Returned as flat [name, value] pairs for undici.
 */
export function binaryHeaders(ev: CloudEvent, skip: string | null, out: string[]): string[] {
  const attrs = ev.attrs;
  for (const k in attrs) {
    if (k === skip) continue;
    const v = attrs[k]!;
    if (k === 'datacontenttype') {
      out.push('content-type', String(v));
      continue;
    }
    out.push('ce-' + k, encodeHeaderValue(typeof v === 'string' ? v : String(v)));
  }
  const h = ev.headers;
  if (h) for (let i = 0; i < h.length; i += 2) out.push(h[i]!, h[i + 1]!);
  return out;
}

function isTextType(ct: string): boolean {
  const l = ct.toLowerCase();
  return l.startsWith('text/') || l.includes('xml');
}

/** JSON event format for delivery (structured mode). */
export function structuredBody(ev: CloudEvent, skip: string | null): string {
  const o: Record<string, unknown> = {};
  for (const k in ev.attrs) if (k !== skip) o[k] = ev.attrs[k];
  let json = JSON.stringify(o);
  const data = ev.data;
  if (data === null) return json;
  const ct = ev.attrs.datacontenttype as string | undefined;
  let dataPart: string | null = null;
  if (isJsonType(ct)) {
    const text = data.toString('utf8');
    try {
      JSON.parse(text);
      dataPart = '"data":' + text;
    } catch {
      dataPart = null;
    }
  } else if (ct !== undefined && isTextType(ct)) {
    try {
      dataPart = '"data":' + JSON.stringify(utf8.decode(data));
    } catch {
      dataPart = null;
    }
  }
  if (dataPart === null) {
    dataPart = ev.attrs.specversion === '0.3' ? '"datacontentencoding":"base64","data":' + JSON.stringify(data.toString('base64')) : '"data_base64":' + JSON.stringify(data.toString('base64'));
  }
  json = json.length > 2 ? json.slice(0, -1) + ',' + dataPart + '}' : '{' + dataPart + '}';
  return json;
}
