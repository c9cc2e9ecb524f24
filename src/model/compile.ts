// compile(desired) → Snapshot: the pure step between sources and the data plane. It parses the ConfigMaps, applies
// KIngress defaults and validation (an invalid Ingress is rejected, the others still compile), resolves host
// conflicts (the older Ingress keeps a host, the newer one is rejected with Knative's DomainConflict, as Kourier
// does), and builds the two planes' host tables: external = ExternalIP rules, internal = every rule.
import type { Desired, ObjectStatus } from './desired.js';
import type { HTTPOption, Ingress, IngressRule, Visibility } from './kingress.js';
import type { Origin, Problem } from './objects.js';
import type { HeaderPairs, HostTable, Plane, Route, Snapshot, Split, VirtualHost } from './snapshot.js';
import { parseConfig } from './config.js';
import { normalizeHost } from './hosts.js';
import { defaultIngress, validateIngress } from './compile/validate.js';
import { BackendResolver } from './compile/backends.js';

/** A host served by a built-in handler (e.g. the broker ingress): one catch-all route, no splits. */
export interface BuiltinHost {
  host: string;
  visibility: Visibility;
  handler: string;
}

export interface CompileOptions {
  version: number;
  /** Built-in hosts. Plain strings (names of registered handlers, as the runtime passes them) are accepted and ignored. */
  builtins?: readonly BuiltinHost[] | ReadonlySet<string> | Iterable<BuiltinHost | string>;
  /** Extra ConfigMap keys other capabilities read, so they are not warned about. */
  knownExtraKeys?: Record<string, string[]>;
  /** Where each Ingress came from (manifest-supplied KIngresses), for problems. */
  origins?: { get(o: Ingress): Origin | undefined };
}

export const DOMAIN_CONFLICT = 'DomainConflict';
const WILDCARD = '*';

const label = (i: Ingress): string => `Ingress ${i.metadata?.namespace ?? ''}/${i.metadata?.name ?? '?'}`;
const pairs = (m: Record<string, string> | undefined): HeaderPairs =>
  m ? Object.entries(m).map(([k, v]) => [k.toLowerCase(), String(v)] as const) : [];

/** The serving object an Ingress was made from (Service, Route, DomainMapping), so a conflict names what the user wrote. */
function ownerLabel(i: Ingress): string {
  const l = i.metadata?.labels ?? {};
  const ns = i.metadata?.namespace ?? '';
  if (l['serving.knative.dev/domainMapping']) return `DomainMapping ${ns}/${l['serving.knative.dev/domainMapping']}`;
  if (l['serving.knative.dev/service']) return `Service ${ns}/${l['serving.knative.dev/service']}`;
  if (l['serving.knative.dev/route']) return `Route ${l['serving.knative.dev/routeNamespace'] ?? ns}/${l['serving.knative.dev/route']}`;
  return label(i);
}

function age(i: Ingress): number {
  const t = i.metadata?.creationTimestamp ? Date.parse(i.metadata.creationTimestamp) : NaN;
  return Number.isFinite(t) ? t : Infinity; // unknown age sorts as newest
}

export function compile(desired: Desired, opts: CompileOptions): { snapshot: Snapshot; problems: Problem[] } {
  const { config, problems: configProblems } = parseConfig(desired.configMaps, opts.knownExtraKeys);
  const problems: Problem[] = [...desired.problems, ...configProblems];
  const statuses: ObjectStatus[] = [...desired.statuses];
  const resolver = new BackendResolver(desired.services, desired.revisions, problems);

  // Defaults + validation, per Ingress.
  const valid: Ingress[] = [];
  for (const raw of desired.ingresses) {
    const object = label(raw);
    const ing = defaultIngress(raw);
    const errs = validateIngress(ing, object);
    if (errs.length > 0) {
      const origin = opts.origins?.get(raw);
      problems.push(...(origin ? errs.map((e) => ({ ...e, origin })) : errs));
      statuses.push({ object, ready: false, reason: 'Invalid', message: errs[0]!.message });
      continue;
    }
    valid.push(ing);
  }
  // Oldest first (creationTimestamp, then namespace/name): the first claimant of a host keeps it.
  valid.sort((a, b) => age(a) - age(b) || (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0));

  const planes: Record<Plane, { hosts: Map<string, VirtualHost>; wildcard: VirtualHost | null }> = {
    external: { hosts: new Map(), wildcard: null },
    internal: { hosts: new Map(), wildcard: null },
  };
  const owner = new Map<string, string>(); // host key → owning Ingress (or builtin)

  for (const b of builtinHosts(opts.builtins)) {
    const key = normalizeHost(b.host);
    if (!key) {
      problems.push({ severity: 'error', object: `builtin ${b.handler}`, message: `"${b.host}" is not a host name` });
      continue;
    }
    owner.set(key, `builtin ${b.handler}`);
    const route: Route = { prefix: '', headers: [], appendHeaders: [], rewriteHost: null, handler: b.handler, splits: [], cumulative: [], ingress: `builtin/${b.handler}` };
    const vh: VirtualHost = { host: key, visibility: b.visibility, httpOption: '', routes: [route], tlsSecret: null };
    planes.internal.hosts.set(key, vh);
    if (b.visibility === 'ExternalIP') planes.external.hosts.set(key, vh);
  }

  for (const ing of valid) {
    const object = label(ing);
    const rules = ing.spec.rules!;
    const keys = new Set<string>();
    for (const r of rules) {
      if (!r.hosts || r.hosts.length === 0) keys.add(WILDCARD);
      else for (const h of r.hosts) keys.add(normalizeHost(h)!);
    }
    const taken = [...keys].filter((k) => owner.has(k));
    if (taken.length > 0) {
      const by = owner.get(taken[0]!)!;
      const who = ownerLabel(ing);
      const message = `host ${taken[0] === WILDCARD ? '(any host)' : `"${taken[0]}"`} is already served by ${by}; ${who === object ? 'this Ingress' : `${object}`} is not served`;
      problems.push({ severity: 'warning', object: who, message, reason: DOMAIN_CONFLICT, ...(opts.origins?.get(ing) ? { origin: opts.origins.get(ing)! } : {}) });
      statuses.push({ object: who, ready: false, reason: DOMAIN_CONFLICT, message });
      continue;
    }
    for (const k of keys) owner.set(k, ownerLabel(ing));
    addIngress(ing, object, rules);
  }

  function addIngress(ing: Ingress, object: string, rules: IngressRule[]): void {
    const ns = ing.metadata.namespace ?? '';
    const ingressName = `${ns}/${ing.metadata.name}`;
    const httpOption: HTTPOption = ing.spec.httpOption ?? '';
    const mine = { external: new Map<string, VirtualHost>(), internal: new Map<string, VirtualHost>() };
    rules.forEach((r, i) => {
      const routes = compileRoutes(r, ingressName, object, `spec.rules[${i}]`);
      const visibility = r.visibility ?? 'ExternalIP';
      const targets: Plane[] = visibility === 'ExternalIP' ? ['external', 'internal'] : ['internal'];
      for (const plane of targets) {
        const table = planes[plane];
        if (!r.hosts || r.hosts.length === 0) {
          if (!table.wildcard) table.wildcard = { host: WILDCARD, visibility, httpOption, routes, tlsSecret: null };
          continue;
        }
        for (const h of r.hosts) {
          const key = normalizeHost(h)!;
          if (mine[plane].has(key)) continue; // first matching rule wins
          const vh: VirtualHost = { host: key, visibility, httpOption, routes, tlsSecret: null };
          mine[plane].set(key, vh);
          table.hosts.set(key, vh);
        }
      }
    });
    // TLS: each entry's hosts get its Secret on whichever plane this Ingress serves them.
    for (const t of ing.spec.tls ?? []) {
      const secret = `${t.secretNamespace}/${t.secretName}`;
      for (const h of t.hosts ?? []) {
        const key = normalizeHost(h);
        if (!key) continue;
        for (const plane of ['external', 'internal'] as const) {
          const vh = mine[plane].get(key);
          if (vh) {
            const withTls: VirtualHost = { ...vh, tlsSecret: secret };
            mine[plane].set(key, withTls);
            planes[plane].hosts.set(key, withTls);
          }
        }
      }
    }
  }

  function compileRoutes(r: IngressRule, ingressName: string, object: string, field: string): Route[] {
    const routes = r.http!.paths.map((p, k): Route => {
      const splits: Split[] = [];
      p.splits.forEach((s, j) => {
        const percent = s.percent ?? 0;
        if (percent <= 0) return; // a 0% target never receives a request
        splits.push({ backend: resolver.resolve(s, object, `${field}.http.paths[${k}].splits[${j}]`), percent, appendHeaders: pairs(s.appendHeaders) });
      });
      const cumulative: number[] = [];
      let sum = 0;
      for (const s of splits) cumulative.push((sum += s.percent));
      return {
        prefix: p.path ?? '',
        headers: p.headers ? Object.entries(p.headers).map(([k2, v]) => [k2.toLowerCase(), v.exact] as const) : [],
        appendHeaders: pairs(p.appendHeaders),
        rewriteHost: p.rewriteHost ? p.rewriteHost : null,
        handler: null,
        splits,
        cumulative,
        ingress: ingressName,
      };
    });
    // Longest prefix first; Array.prototype.sort is stable, so equal prefixes keep declaration order.
    return routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  const secrets = new Map<string, { cert: string; key: string }>();
  for (const s of desired.secrets) {
    if (s.type !== 'kubernetes.io/tls') continue;
    const cert = s.data?.['tls.crt'];
    const key = s.data?.['tls.key'];
    if (typeof cert !== 'string' || typeof key !== 'string') {
      problems.push({ severity: 'warning', object: `Secret ${s.metadata.namespace ?? ''}/${s.metadata.name}`, field: 'data', message: 'a kubernetes.io/tls Secret needs tls.crt and tls.key' });
      continue;
    }
    secrets.set(`${s.metadata.namespace ?? ''}/${s.metadata.name}`, { cert, key });
  }

  const table = (p: Plane): HostTable => ({ hosts: planes[p].hosts, wildcard: planes[p].wildcard });
  const snapshot: Snapshot = {
    version: opts.version,
    config,
    planes: { external: table('external'), internal: table('internal') },
    backends: resolver.backends,
    secrets,
    eventing: undefined,
    problems,
    statuses,
  };
  return { snapshot, problems };
}

function builtinHosts(b: CompileOptions['builtins']): BuiltinHost[] {
  if (!b) return [];
  const out: BuiltinHost[] = [];
  for (const x of b as Iterable<BuiltinHost | string>) if (typeof x === 'object' && x !== null) out.push(x);
  return out;
}
