// Host → virtual host → route → split, read from one snapshot. Allocation-free on the common path: the request
// context calls these small functions with the raw request fields.
import type { HostTable, Plane, Route, Split, VirtualHost } from '../model/snapshot.js';
import { normalizeHost } from '../model/hosts.js';

/** The lookup key of a Host/authority value: the model's normalisation, so request keys match compiled keys. */
export const hostKey = normalizeHost;

/** Split an absolute-form request target (`http://host/path`) into its authority and path; null if not absolute. */
export function absoluteTarget(url: string): { authority: string; path: string } | null {
  if (url.charCodeAt(0) === 47 /* / */ || url === '*') return null;
  const m = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(url);
  if (!m) return null;
  let authority = m[1];
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  const path = m[2] === '' ? '/' : m[2].charCodeAt(0) === 63 /* ? */ ? `/${m[2]}` : m[2];
  return { authority, path };
}

/** Why a request target cannot be served (the body of a 400). */
export interface TargetError {
  readonly message: string;
}
const UNSUPPORTED_TARGET: TargetError = { message: 'Bad Request: unsupported request target\n' };
const TARGET_HOST_MISMATCH: TargetError = { message: 'Bad Request: the request URI host does not match the Host header\n' };

/**
 * The path to route and forward for a request target, given the request's host key: origin-form as is, an
 * absolute-form target only when it names the same host. Plain requests and upgrades both go through here.
 */
export function requestPath(url: string, key: string): string | TargetError {
  if (url.charCodeAt(0) === 47 /* / */) return url;
  const abs = absoluteTarget(url);
  if (abs === null) return UNSUPPORTED_TARGET;
  if (hostKey(abs.authority) !== key) return TARGET_HOST_MISMATCH;
  return abs.path;
}

const ACME_PREFIX = '/.well-known/acme-challenge/';

/**
 * A Redirected host sends plain-HTTP requests of the external plane to https; ACME HTTP-01 validations must reach
 * the challenge responder over plain HTTP, so they are never redirected.
 */
export function redirectsToHttps(vhost: VirtualHost, plane: Plane, scheme: string, path: string): boolean {
  return vhost.httpOption === 'Redirected' && plane === 'external' && scheme === 'http' && !path.startsWith(ACME_PREFIX);
}

export function lookupHost(table: HostTable, key: string): VirtualHost | null {
  return table.hosts.get(key) ?? table.wildcard;
}

/** First occurrence of a header (name lower-case) in a raw header array, or undefined. */
export function rawHeader(raw: string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i];
    if (n.length === name.length && (n === name || n.toLowerCase() === name)) return raw[i + 1];
  }
  return undefined;
}

/** First route whose prefix matches the path and whose header conditions all hold. */
export function matchRoute(vhost: VirtualHost, path: string, raw: string[]): Route | null {
  const routes = vhost.routes;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i];
    if (r.prefix.length > 1 && !path.startsWith(r.prefix)) continue;
    const conds = r.headers;
    let ok = true;
    for (let j = 0; j < conds.length; j++) {
      const v = rawHeader(raw, conds[j][0]);
      // An empty expected value means "present" (Kourier's translation of an empty exact match).
      if (v === undefined || (conds[j][1] !== '' && v !== conds[j][1])) {
        ok = false;
        break;
      }
    }
    if (ok) return r;
  }
  return null;
}

/** Weighted pick over the route's running sums; a 0% split has zero width and is never chosen. */
export function pickSplit(route: Route, rnd: number = Math.random()): Split | null {
  const cum = route.cumulative;
  const n = cum.length;
  if (n === 0) return null;
  const total = cum[n - 1];
  if (total <= 0) return null;
  if (n === 1) return route.splits[0];
  const x = rnd * total;
  for (let i = 0; i < n; i++) if (x < cum[i]) return route.splits[i];
  // Only reachable through float rounding: take the last split that has any weight.
  for (let i = n - 1; i >= 0; i--) if (route.splits[i].percent > 0) return route.splits[i];
  return null;
}
