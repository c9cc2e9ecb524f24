// Host names: request-side normalisation (hot path), Knative's ExpandedHosts, domain selection from config-domain,
// and domain-template / tag-template rendering as the route reconciler does it (S pkg/reconciler/route/domains).
import type { ClusterConfig } from './config.js';
import { DEFAULT_DOMAIN_TEMPLATE } from './config.js';
import { parseTemplate, renderTemplate, type CompiledTemplate } from './gotemplate.js';

export const VISIBILITY_LABEL = 'networking.knative.dev/visibility';
export const CLUSTER_LOCAL = 'cluster-local';

// Character classes for normalizeHost, indexed by char code (< 128): 1 = valid as is, 2 = upper-case letter.
const HOST_CHARS = new Uint8Array(128);
for (let c = 97; c <= 122; c++) HOST_CHARS[c] = 1; // a-z
for (let c = 48; c <= 57; c++) HOST_CHARS[c] = 1; // 0-9
for (let c = 65; c <= 90; c++) HOST_CHARS[c] = 2; // A-Z
HOST_CHARS[45] = 1; // -
HOST_CHARS[46] = 1; // .
HOST_CHARS[95] = 1; // _ (seen in the wild; Kubernetes names never have it, but it is harmless)

function digitsOnly(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * A request's Host (or :authority) as a lookup key: lower-case, without port, without one trailing dot, IPv6
 * without brackets. Returns null for something that is not a host (empty, bad characters, bad port).
 * Allocation-free when the input is already normalised (the common case).
 */
export function normalizeHost(raw: string): string | null {
  const n = raw.length;
  if (n === 0) return null;
  let start = 0;
  let end = n;
  let ipv6 = false;
  if (raw.charCodeAt(0) === 91 /* [ */) {
    const close = raw.indexOf(']');
    if (close < 2) return null;
    if (close + 1 < n) {
      if (raw.charCodeAt(close + 1) !== 58 /* : */ || !digitsOnly(raw, close + 2, n)) return null;
    }
    start = 1;
    end = close;
    ipv6 = true;
  } else {
    const colon = raw.indexOf(':');
    if (colon !== -1) {
      if (!digitsOnly(raw, colon + 1, n)) return null;
      end = colon;
    }
    if (end > 0 && raw.charCodeAt(end - 1) === 46 /* . */) end--;
  }
  if (end <= start) return null;
  let upper = false;
  for (let i = start; i < end; i++) {
    const c = raw.charCodeAt(i);
    const k = c < 128 ? HOST_CHARS[c] : 0;
    if (k === 1) continue;
    if (k === 2) upper = true;
    else if (!(ipv6 && (c === 58 || c === 37))) return null; // ':' and '%zone' only inside brackets
  }
  const s = start === 0 && end === n ? raw : raw.slice(start, end);
  return upper ? s.toLowerCase() : s;
}

/**
 * Knative's ExpandedHosts: each host plus its forms with `.svc.<cd>` and `.<cd>` stripped, skipping results whose
 * last label is all digits or longer than 63 characters. Sorted, like Go's sets.List.
 */
export function expandedHosts(hosts: readonly string[], clusterDomain: string): string[] {
  const out = new Set<string>();
  const suffixes = ['.svc.' + clusterDomain, '.' + clusterDomain];
  for (const h of hosts) {
    out.add(h);
    for (const suf of suffixes) {
      if (!h.endsWith(suf)) continue;
      const short = h.slice(0, -suf.length);
      const tld = short.slice(short.lastIndexOf('.') + 1);
      if (short === '' || tld.length > 63 || /^\d+$/.test(tld)) continue;
      out.add(short);
    }
  }
  return [...out].sort();
}

/** `name.ns.svc.<cluster-domain>`: the cluster-local host of a route (or tag). */
export function clusterLocalHost(name: string, namespace: string, clusterDomain: string): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}

/**
 * The domain config-domain assigns to an object with these labels: cluster-local visibility → `svc.<cd>`; otherwise
 * the matching selector with the most labels, ties broken by the lexically smaller domain.
 */
export function selectDomain(config: ClusterConfig, labels: Readonly<Record<string, string>> | undefined): string {
  const l = labels ?? {};
  if (l[VISIBILITY_LABEL] === CLUSTER_LOCAL) return `svc.${config.clusterDomain}`;
  let domain = '';
  let specificity = -1;
  for (const d of config.domains) {
    const keys = Object.keys(d.selector);
    if (!keys.every((k) => l[k] === d.selector[k])) continue;
    if (keys.length > specificity || (keys.length === specificity && d.domain < domain)) {
      domain = d.domain;
      specificity = keys.length;
    }
  }
  return domain;
}

// Parsed templates are cached by source text: configs are rebuilt on every reload, templates rarely change.
const templateCache = new Map<string, CompiledTemplate>();
function compiled(kind: 'domain' | 'tag', src: string): CompiledTemplate {
  const key = kind + '\0' + src;
  let t = templateCache.get(key);
  if (!t) {
    t = kind === 'domain' ? parseTemplate(src, ['Name', 'Namespace', 'Domain'], ['Annotations', 'Labels']) : parseTemplate(src, ['Name', 'Tag'], []);
    if (templateCache.size > 64) templateCache.clear();
    templateCache.set(key, t);
  }
  return t;
}

/** The host-name part for a traffic target: the route name for the default target, else tag-template. */
export function hostnameForTag(config: ClusterConfig, routeName: string, tag: string): string {
  if (tag === '') return routeName;
  return renderTemplate(compiled('tag', config.network.tagTemplate), { fields: { Name: routeName, Tag: tag } });
}

export interface HostMeta {
  namespace: string;
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

/**
 * Renders a full host for `name` (from hostnameForTag) as Knative's DomainNameFromTemplate: cluster-local objects
 * use the default template with `svc.<cd>`; others use domain-template with the selected domain.
 */
export function domainFromTemplate(config: ClusterConfig, meta: HostMeta, name: string, clusterLocal: boolean): string {
  const labels = clusterLocal ? { ...(meta.labels ?? {}), [VISIBILITY_LABEL]: CLUSTER_LOCAL } : (meta.labels ?? {});
  const domain = selectDomain(config, labels);
  const src = clusterLocal ? DEFAULT_DOMAIN_TEMPLATE : config.network.domainTemplate;
  return renderTemplate(compiled('domain', src), {
    fields: { Name: name, Namespace: meta.namespace, Domain: domain },
    maps: { Annotations: meta.annotations ?? {}, Labels: labels },
  });
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** An RFC 1123 label (a namespace, a tag): lower-case letters, digits and inner '-', 1–63 characters. */
export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}

/** A lower-case DNS name of RFC 1123 labels, ≤ 253 characters; one label is enough. */
export function isDnsName(h: string): boolean {
  if (h.length === 0 || h.length > 253) return false;
  return h.split('.').every((l) => DNS_LABEL.test(l));
}

/** Kubernetes IsFullyQualifiedDomainName: at least two labels, each a DNS-1123 label, ≤ 253 characters. */
export function isFullyQualifiedDomainName(h: string): boolean {
  if (h.length === 0 || h.length > 253) return false;
  const labels = h.split('.');
  if (labels.length < 2) return false;
  return labels.every((l) => DNS_LABEL.test(l));
}

/** A KIngress rule host: lower-case DNS name (one label allowed, e.g. from ExpandedHosts), no port. */
export function isValidRuleHost(h: string): boolean {
  return isDnsName(h);
}
