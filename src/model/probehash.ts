// Knative's probe hash (knative/networking pkg/ingress/ingress.go ComputeHash / InsertProbe), reproduced byte for
// byte: SHA-256 over Go `json.Marshal(defaultedSpec)` ‖ namespace ‖ name. The data plane echoes the hash on probe
// requests and the status prober compares it, so any deviation from Go's encoder means an ingress never turns Ready.
// Pure: no I/O.
import { createHash } from 'node:crypto';
import type { HTTPIngressPath, Ingress, IngressBackendSplit, IngressRule, IngressSpec, IngressTLS } from './kingress.js';
import type { BackendSpec } from './snapshot.js';

export const HASH_HEADER = 'K-Network-Hash';
export const PROBE_HEADER = 'K-Network-Probe';
export const PROBE_OVERRIDE = 'override';

/**
 * Knative's defaults (v1alpha1/ingress_defaults.go): empty rule visibility → ExternalIP; a path with exactly one
 * split whose percent is 0 (or absent) → 100. Returns a deep copy; the input is not touched.
 */
export function applyIngressDefaults(spec: IngressSpec): IngressSpec {
  const out: IngressSpec = structuredClone(spec ?? {});
  for (const rule of out.rules ?? []) {
    if (!rule.visibility) rule.visibility = 'ExternalIP';
    for (const path of rule.http?.paths ?? []) {
      if (path.splits?.length === 1 && !path.splits[0].percent) path.splits[0].percent = 100;
    }
  }
  return out;
}

// ---- Go encoding/json (Go 1.19 behaviour, HTML escaping on) ----

const HEX = '0123456789abcdef';

/** Go's encodeState.string with escapeHTML=true, applied to a JS string (already decoded from JSON). */
export function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c !== 0x3c && c !== 0x3e && c !== 0x26) {
        out += s[i];
        continue;
      }
      switch (c) {
        case 0x22: out += '\\"'; break;
        case 0x5c: out += '\\\\'; break;
        case 0x0a: out += '\\n'; break;
        case 0x0d: out += '\\r'; break;
        case 0x09: out += '\\t'; break;
        // Go 1.19 writes \b and \f (and every other control byte) as \u00XX; so do <, > and &.
        default: out += '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
      }
      continue;
    }
    if (c === 0x2028 || c === 0x2029) {
      out += c === 0x2028 ? '\\u2028' : '\\u2029';
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
        continue;
      }
      // A lone surrogate cannot come from valid UTF-8; Go's decoder turns it into U+FFFD, which Go's encoder
      // then writes raw (it only escapes U+FFFD when it stands for invalid input bytes).
      out += '\ufffd';
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\ufffd';
      continue;
    }
    out += s[i];
  }
  return out + '"';
}

/**
 * Go's encoder over raw bytes: invalid UTF-8 bytes become `\ufffd` (escaped), one per bad byte, as Go does when a
 * Go string holds invalid UTF-8. Used when the input is bytes rather than a decoded JS string.
 */
export function goJsonStringBytes(b: Uint8Array): string {
  let out = '';
  let start = 0;
  let i = 0;
  const flushValid = (end: number): void => {
    if (end > start) out += goJsonString(Buffer.from(b.subarray(start, end)).toString('utf8')).slice(1, -1);
  };
  while (i < b.length) {
    const n = utf8SeqLen(b, i);
    if (n === 0) {
      flushValid(i);
      out += '\\ufffd';
      i++;
      start = i;
    } else {
      i += n;
    }
  }
  flushValid(i);
  return '"' + out + '"';
}

/** Length of a valid UTF-8 sequence at i (Go's utf8.DecodeRune rules: no overlongs, no surrogates, ≤ U+10FFFF), or 0. */
function utf8SeqLen(b: Uint8Array, i: number): number {
  const c0 = b[i];
  if (c0 < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean => j < b.length && b[j] >= lo && b[j] <= hi;
  if (c0 >= 0xc2 && c0 <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c0 === 0xe0) return cont(i + 1, 0xa0) && cont(i + 2) ? 3 : 0;
  if ((c0 >= 0xe1 && c0 <= 0xec) || c0 === 0xee || c0 === 0xef) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c0 === 0xed) return cont(i + 1, 0x80, 0x9f) && cont(i + 2) ? 3 : 0;
  if (c0 === 0xf0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c0 >= 0xf1 && c0 <= 0xf3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c0 === 0xf4) return cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

/** Go sorts map keys by their UTF-8 bytes; JS's default sort compares UTF-16 units, which differs above U+FFFF. */
function goSortedKeys(m: Record<string, unknown>): string[] {
  return Object.keys(m).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** Go int fields: the decoder rejects fractions; the API server's schema says integer. Truncate defensively. */
function goInt(n: unknown): string {
  const v = typeof n === 'number' && Number.isFinite(n) ? Math.trunc(n) : 0;
  return String(v);
}

class GoWriter {
  parts: string[] = [];
  private first: boolean[] = [];
  open(c: '{' | '['): void {
    this.parts.push(c);
    this.first.push(true);
  }
  close(c: '}' | ']'): void {
    this.parts.push(c);
    this.first.pop();
  }
  private sep(): void {
    const top = this.first.length - 1;
    if (this.first[top]) this.first[top] = false;
    else this.parts.push(',');
  }
  key(k: string): void {
    this.sep();
    this.parts.push(goJsonString(k), ':');
  }
  elem(): void {
    this.sep();
  }
  raw(s: string): void {
    this.parts.push(s);
  }
}

/** `[]string`: nil → null. */
function writeStrings(w: GoWriter, a: string[] | null | undefined): void {
  if (a == null) return w.raw('null');
  w.open('[');
  for (const s of a) {
    w.elem();
    w.raw(goJsonString(String(s ?? '')));
  }
  w.close(']');
}

/** `map[string]string`. */
function writeStringMap(w: GoWriter, m: Record<string, string>): void {
  w.open('{');
  for (const k of goSortedKeys(m)) {
    w.key(k);
    w.raw(goJsonString(String(m[k] ?? '')));
  }
  w.close('}');
}

const nonEmptyArr = (a: unknown): a is unknown[] => Array.isArray(a) && a.length > 0;
const nonEmptyMap = (m: unknown): m is Record<string, unknown> =>
  m != null && typeof m === 'object' && Object.keys(m as object).length > 0;

function writeTLS(w: GoWriter, t: IngressTLS): void {
  w.open('{');
  if (nonEmptyArr(t.hosts)) (w.key('hosts'), writeStrings(w, t.hosts));
  if (t.secretName) (w.key('secretName'), w.raw(goJsonString(t.secretName)));
  if (t.secretNamespace) (w.key('secretNamespace'), w.raw(goJsonString(t.secretNamespace)));
  w.close('}');
}

function writeSplit(w: GoWriter, s: IngressBackendSplit): void {
  w.open('{');
  // IngressBackend is embedded inline; its fields carry no omitempty.
  w.key('serviceNamespace');
  w.raw(goJsonString(s.serviceNamespace ?? ''));
  w.key('serviceName');
  w.raw(goJsonString(s.serviceName ?? ''));
  w.key('servicePort');
  // intstr.IntOrString: a string stays a string ("80" included); a number (or nothing: zero value) is an int.
  w.raw(typeof s.servicePort === 'string' ? goJsonString(s.servicePort) : goInt(s.servicePort ?? 0));
  if (s.percent) (w.key('percent'), w.raw(goInt(s.percent)));
  if (nonEmptyMap(s.appendHeaders)) (w.key('appendHeaders'), writeStringMap(w, s.appendHeaders));
  w.close('}');
}

function writePath(w: GoWriter, p: HTTPIngressPath): void {
  w.open('{');
  if (p.path) (w.key('path'), w.raw(goJsonString(p.path)));
  if (p.rewriteHost) (w.key('rewriteHost'), w.raw(goJsonString(p.rewriteHost)));
  if (nonEmptyMap(p.headers)) {
    w.key('headers');
    w.open('{');
    for (const k of goSortedKeys(p.headers)) {
      w.key(k);
      w.open('{');
      w.key('exact');
      w.raw(goJsonString(p.headers[k]?.exact ?? ''));
      w.close('}');
    }
    w.close('}');
  }
  w.key('splits');
  if (p.splits == null) w.raw('null');
  else {
    w.open('[');
    for (const s of p.splits) (w.elem(), writeSplit(w, s ?? ({} as IngressBackendSplit)));
    w.close(']');
  }
  if (nonEmptyMap(p.appendHeaders)) (w.key('appendHeaders'), writeStringMap(w, p.appendHeaders));
  w.close('}');
}

function writeRule(w: GoWriter, r: IngressRule): void {
  w.open('{');
  if (nonEmptyArr(r.hosts)) (w.key('hosts'), writeStrings(w, r.hosts));
  if (r.visibility) (w.key('visibility'), w.raw(goJsonString(r.visibility)));
  // `http` is a pointer with omitempty: only nil is omitted; `paths` has no omitempty (nil → null).
  if (r.http != null) {
    w.key('http');
    w.open('{');
    w.key('paths');
    if (r.http.paths == null) w.raw('null');
    else {
      w.open('[');
      for (const p of r.http.paths) (w.elem(), writePath(w, p ?? ({} as HTTPIngressPath)));
      w.close(']');
    }
    w.close('}');
  }
  w.close('}');
}

/** Go `json.Marshal(spec)` for a KIngress spec (no defaults applied here). */
export function marshalIngressSpec(spec: IngressSpec): string {
  const w = new GoWriter();
  const s = spec ?? {};
  w.open('{');
  if (nonEmptyArr(s.tls)) {
    w.key('tls');
    w.open('[');
    for (const t of s.tls) (w.elem(), writeTLS(w, t ?? {}));
    w.close(']');
  }
  if (nonEmptyArr(s.rules)) {
    w.key('rules');
    w.open('[');
    for (const r of s.rules) (w.elem(), writeRule(w, r ?? {}));
    w.close(']');
  }
  if (s.httpOption) (w.key('httpOption'), w.raw(goJsonString(s.httpOption)));
  w.close('}');
  return w.parts.join('');
}

/** Hex SHA-256 over marshal(spec) ‖ namespace ‖ name. `spec` must already be defaulted. */
export function hashOfDefaultedSpec(spec: IngressSpec, namespace: string, name: string): string {
  return createHash('sha256')
    .update(Buffer.from(marshalIngressSpec(spec), 'utf8'))
    .update(Buffer.from(namespace ?? '', 'utf8'))
    .update(Buffer.from(name ?? '', 'utf8'))
    .digest('hex');
}

/** The probe hash of an ingress as Knative computes it (defaults applied first, probe paths not yet inserted). */
export function probeHash(ingress: Pick<Ingress, 'metadata' | 'spec'>): string {
  return hashOfDefaultedSpec(applyIngressDefaults(ingress.spec), ingress.metadata.namespace ?? '', ingress.metadata.name);
}

/**
 * Knative's InsertProbe: for every rule, prepend a copy of each path that also requires `K-Network-Hash: override`
 * and sets `K-Network-Hash: <hash>` (overwrite). Returns a new spec; the input is not touched.
 */
export function insertProbe(spec: IngressSpec, hash: string): IngressSpec {
  const out: IngressSpec = structuredClone(spec ?? {});
  for (const rule of out.rules ?? []) {
    if (!rule.http?.paths) continue;
    const probes = rule.http.paths.map((p) => {
      const c: HTTPIngressPath = structuredClone(p);
      c.headers = { ...(c.headers ?? {}), [HASH_HEADER]: { exact: PROBE_OVERRIDE } };
      c.appendHeaders = { ...(c.appendHeaders ?? {}), [HASH_HEADER]: hash };
      return c;
    });
    rule.http.paths = [...probes, ...rule.http.paths];
  }
  return out;
}

// ---- answering Knative's probe in the data plane (knative/networking pkg/http/probe/handler.go) ----

export interface ProbeAnswer {
  status: number;
  /** Value for the response's K-Network-Hash header (null: none). */
  hash: string | null;
  body: string;
}

const HASH_LC = 'k-network-hash';

function lastPair(pairs: readonly (readonly [string, string])[], name: string): string | undefined {
  let v: string | undefined;
  for (const [n, val] of pairs) if (n === name) v = val;
  return v;
}

/**
 * What the gateway answers for a routed request, the way every Knative backend (activator, queue-proxy, test images)
 * does: `K-Network-Probe: probe` → 200 echoing the request's K-Network-Hash *after* the route's and split's
 * appendHeaders (split wins, both overwrite), 400 without a hash. Returns null when the request is not a probe.
 * `backendResolvable` false (no endpoints and no activator) → 503, so Knative's prober retries instead of reporting
 * Ready for a config that cannot serve yet (Kourier answers 404 then, having skipped the translation).
 * Header pairs are lower-case names as in Snapshot.HeaderPairs.
 */
export function answerProbe(
  probeHeader: string | undefined,
  requestHash: string | undefined,
  routeHeaders: readonly (readonly [string, string])[],
  splitHeaders: readonly (readonly [string, string])[],
  backendResolvable: boolean,
): ProbeAnswer | null {
  if (probeHeader !== 'probe') return null;
  if (!backendResolvable) return { status: 503, hash: null, body: 'probe: backend has no endpoints yet\n' };
  const hash = lastPair(splitHeaders, HASH_LC) ?? lastPair(routeHeaders, HASH_LC) ?? requestHash ?? '';
  if (hash === '') return { status: 400, hash: null, body: 'no K-Network-Hash header\n' };
  return { status: 200, hash, body: '' };
}

/**
 * Whether a backend can take a request now, for answerProbe's `backendResolvable`: a revision (the activator buffers
 * at zero, as Knative's activator answers probes for it), or a Service with at least one ready address / a DNS name /
 * static upstreams / a process. A Service whose endpoints are not there yet answers probes 503, so an ingress only
 * turns Ready once its traffic can actually be served (Kourier skips such translations and answers 404).
 */
export function backendCanServe(spec: BackendSpec | undefined): boolean {
  if (!spec) return false;
  if (spec.activator) return true;
  const src = spec.source;
  switch (src.kind) {
    case 'addresses':
      return src.addresses.length > 0;
    case 'static':
      return src.urls.length > 0;
    case 'dns':
    case 'process':
      return true;
  }
}
