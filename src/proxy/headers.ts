// Header rewriting shared by every downstream protocol (HTTP/1.1 now, h2 later): flat [name, value, ...] arrays in,
// flat arrays out, no per-header objects. The rules are Envoy/Kourier's: hop-by-hop headers never cross the proxy,
// X-Forwarded-* are the gateway's, and appendHeaders overwrite whatever the client sent.
import { randomUUID } from 'node:crypto';
import type { HeaderPairs } from '../model/snapshot.js';

/** Hop-by-hop names (RFC 9110 §7.6.1 plus legacy ones), and names undici refuses to send. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'te',
  'expect',
  'http2-settings',
  'proxy-authenticate',
]);

/** Per-request facts the header builder needs; the request context implements it. */
export interface ForwardInfo {
  /** Peer address of the downstream connection (already without the ::ffff: prefix). */
  remoteAddress: string;
  /** "http" or "https": the downstream scheme. */
  scheme: string;
  rewriteHost: string | null;
  routeHeaders: HeaderPairs;
  splitHeaders: HeaderPairs;
  /** Revision identity forced onto every request (Knative-Serving-Revision/-Namespace), or "" when none. */
  revision: string;
  namespace: string;
}

export interface ForwardResult {
  headers: string[];
  requestId: string;
}

function listed(pairs: HeaderPairs, name: string): boolean {
  for (let i = 0; i < pairs.length; i++) if (pairs[i][0] === name) return true;
  return false;
}

/** Names a client listed in Connection (other than keep-alive/close), lower-cased; null when none. */
function connectionTokens(raw: string[]): string[] | null {
  let out: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i];
    if (n.length !== 10 || n.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1].split(',')) {
      const tok = t.trim().toLowerCase();
      if (tok && tok !== 'keep-alive' && tok !== 'close') (out ??= []).push(tok);
    }
  }
  return out;
}

/**
 * Build the upstream request headers from the downstream raw headers. `requestId` is the client's X-Request-Id or a
 * generated one (it is also logged).
 */
export function forwardHeaders(raw: string[], info: ForwardInfo, out: ForwardResult): void {
  const tokens = connectionTokens(raw);
  const h = out.headers;
  let xff = '';
  let requestId = '';
  let host = '';
  const rh = info.routeHeaders;
  const sh = info.splitHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    // HTTP/2 pseudo-headers (:method, :authority, ...) are not headers; :authority is carried as Host.
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority' && !host) host = value;
      continue;
    }
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te' && value.trim().toLowerCase() === 'trailers') h.push('te', 'trailers');
      continue;
    }
    if (tokens !== null && tokens.includes(name)) continue;
    switch (name) {
      case 'x-forwarded-for':
        xff = xff ? `${xff}, ${value}` : value;
        continue;
      case 'x-forwarded-proto':
      case 'knative-serving-revision':
      case 'knative-serving-namespace':
        continue;
      case 'x-request-id':
        if (!requestId) requestId = value;
        continue;
      case 'host':
        if (!host) host = value;
        continue;
    }
    if ((rh.length !== 0 && listed(rh, name)) || (sh.length !== 0 && listed(sh, name))) continue;
    h.push(name, value);
  }
  if (info.rewriteHost !== null) {
    h.push('host', info.rewriteHost);
    if (!listed(rh, 'k-original-host') && !listed(sh, 'k-original-host')) h.push('k-original-host', host);
  } else if (host) {
    h.push('host', host);
  }
  h.push('x-forwarded-for', xff ? `${xff}, ${info.remoteAddress}` : info.remoteAddress);
  h.push('x-forwarded-proto', info.scheme);
  if (!requestId) requestId = randomUUID();
  h.push('x-request-id', requestId);
  // Route-level appendHeaders first, then the split's, which win on the same name (Envoy's weighted-cluster order).
  for (let i = 0; i < rh.length; i++) if (!listed(sh, rh[i][0])) h.push(rh[i][0], rh[i][1]);
  for (let i = 0; i < sh.length; i++) h.push(sh[i][0], sh[i][1]);
  if (info.revision !== '') {
    if (!listed(sh, 'knative-serving-revision') && !listed(rh, 'knative-serving-revision')) h.push('knative-serving-revision', info.revision);
    if (!listed(sh, 'knative-serving-namespace') && !listed(rh, 'knative-serving-namespace')) h.push('knative-serving-namespace', info.namespace);
  }
  out.requestId = requestId;
}

/**
 * The target's fixed headers (e.g. K-Proxy-Request: activator) replace any the client sent under the same name.
 * Shared by plain requests and upgrades, so neither can forward a client's copy next to the target's.
 */
export function addTargetHeaders(h: string[], extra: readonly (readonly [string, string])[] | undefined): void {
  if (extra === undefined) return;
  for (let i = 0; i < extra.length; i++) {
    const name = extra[i][0];
    for (let j = h.length - 2; j >= 0; j -= 2) if (h[j] === name) h.splice(j, 2);
    h.push(name, extra[i][1]);
  }
}

/** Response headers as undici parsed them → a flat array for writeHead, without hop-by-hop headers. */
export function responseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  let tokens: string[] | null = null;
  const conn = headers['connection'];
  if (conn !== undefined) {
    for (const t of String(conn).split(',')) {
      const tok = t.trim().toLowerCase();
      if (tok && tok !== 'keep-alive' && tok !== 'close') (tokens ??= []).push(tok);
    }
  }
  for (const name in headers) {
    // Trailer stays: it announces the trailers we forward with addTrailers.
    if (name !== 'trailer' && HOP_BY_HOP.has(name)) continue;
    if (tokens !== null && tokens.includes(name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push(name, v);
    else for (let i = 0; i < v.length; i++) out.push(name, v[i]);
  }
  return out;
}

/** The peer address without the IPv4-mapped prefix, as X-Forwarded-For carries it. */
export function peerAddress(addr: string | undefined): string {
  if (addr === undefined) return '';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}
