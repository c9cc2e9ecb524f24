// The standalone "route reconciler": what Knative Serving's controllers do in a cluster, as one pure function from
// serving objects (+ the previous revision history and the time) to KIngress objects, revision backends and status.
//   Service → Configuration + Route of the same name; Configuration template → Revisions (history-backed names);
//   Route traffic → revision targets (validated, grouped by tag, rolled out) → KIngress; DomainMapping → KIngress.
import type { ClusterConfig } from '../config.js';
import type { ObjectStatus, RevisionInfo, ServiceBackend, UpstreamProtocol } from '../desired.js';
import type { HTTPOption, Ingress, IngressBackendSplit } from '../kingress.js';
import type { KObject, Origin, Problem } from '../objects.js';
import { isFullyQualifiedDomainName, selectDomain, VISIBILITY_LABEL, CLUSTER_LOCAL } from '../hosts.js';
import { parseSecondsOrDuration } from '../duration.js';
import { emptyHistory, readHistory, type RevisionHistory } from './history.js';
import { advanceConfiguration, revisionInfo, type RevisionSource } from './revisions.js';
import { groupTargets, parseTraffic, type RevisionTarget, type TrafficTarget } from './traffic.js';
import { baselineRollout, stepRollout, type Rollout } from './rollout.js';
import { makeRouteIngress, servicePortFor } from './ingress.js';
import { ingressClassOf, reconcileDomainMappings, type MappingInput, type RouteTarget } from './domainmapping.js';

export const ROLLOUT_DURATION_ANNOTATION = 'serving.knative.dev/rollout-duration';
export const HTTP_PROTOCOL_ANNOTATION = 'networking.knative.dev/http-protocol';
export const CONFIGURATION_LABEL = 'serving.knative.dev/configuration';
export const SERVICE_LABEL = 'serving.knative.dev/service';
/** Old revisions kept per Configuration beyond the latest and the routed ones (Knative's GC keeps a similar tail). */
export const RETAINED_REVISIONS = 20;

export interface ReconcileInput {
  /** Service, Configuration, Revision, Route, DomainMapping, ClusterDomainClaim; bare or as loaded `{object, origin}`. */
  objects: ReadonlyArray<KObject | { object: KObject; origin?: Origin }>;
  /** Where each object came from, for problems (optional; `{object, origin}` items carry their own). */
  origins?: { get(o: KObject): Origin | undefined };
  config: ClusterConfig;
  /** The history returned by the previous run (as stored; validated here), or undefined on first run. */
  history: RevisionHistory | unknown;
  /** Epoch ms. */
  now: number;
  /** Manifest folder: working directory of local processes. */
  baseDir: string;
}

export interface ReconcileResult {
  ingresses: Ingress[];
  services: ServiceBackend[];
  revisions: RevisionInfo[];
  history: RevisionHistory;
  statuses: ObjectStatus[];
  problems: Problem[];
  /** Epoch ms when a rollout step is due: run the reconciler again then. */
  nextChangeAt?: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const label = (o: KObject, ns: string | undefined): string => (ns ? `${o.kind} ${ns}/${o.metadata.name}` : `${o.kind} ${o.metadata.name}`);

interface ConfigEntry {
  key: string; // ns/name
  namespace: string;
  name: string;
  service?: string;
  object: string; // label of the object whose template it is
  template: unknown;
  latest?: string;
}

interface RevEntry {
  source: RevisionSource;
  /** Reporting context for the revision's current template (undefined for history-only revisions). */
  report?: { object: string; prefix: string };
}

interface RouteEntry {
  key: string;
  namespace: string;
  name: string;
  object: string;
  o: KObject;
  traffic: unknown;
  serviceContext: boolean;
  defaultConfiguration?: string;
}

export function reconcileServing(input: ReconcileInput): ReconcileResult {
  const { config, now } = input;
  const problems: Problem[] = [];
  const statuses: ObjectStatus[] = [];
  const ingresses: Ingress[] = [];
  const prev = readHistory(input.history);
  const hist = emptyHistory();

  // Unwrap and index. Origins travel in a side map so problems can name the file.
  const originOf = new Map<KObject, Origin>();
  const objs: KObject[] = [];
  for (const item of input.objects) {
    const o = 'object' in item && !('kind' in item) ? item.object : (item as KObject);
    const origin = 'object' in item && !('kind' in item) ? item.origin : input.origins?.get(o);
    if (origin) originOf.set(o, origin);
    if (!o || !isObj(o.metadata) || typeof o.metadata.name !== 'string') continue;
    objs.push(o);
  }
  const objectOrigin = new Map<string, Origin>();
  const nsOf = (o: KObject): string => o.metadata.namespace || 'default';
  const ageOf = (o: KObject): number => {
    const key = o.kind === 'ClusterDomainClaim' ? label(o, undefined) : label(o, nsOf(o));
    const seen = prev.firstSeen[key] ?? now;
    hist.firstSeen[key] = seen;
    const ts = o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : NaN;
    return Number.isFinite(ts) ? ts : seen;
  };
  const creationOf = (o: KObject): string => o.metadata.creationTimestamp ?? new Date(ageOf(o)).toISOString();

  const services: KObject[] = [];
  const configurations: KObject[] = [];
  const revisionObjs: KObject[] = [];
  const routeObjs: KObject[] = [];
  const mappings: KObject[] = [];
  const claims: KObject[] = [];
  for (const o of objs) {
    const origin = originOf.get(o);
    if (origin) objectOrigin.set(o.kind === 'ClusterDomainClaim' ? label(o, undefined) : label(o, nsOf(o)), origin);
    switch (o.kind) {
      case 'Service': services.push(o); break;
      case 'Configuration': configurations.push(o); break;
      case 'Revision': revisionObjs.push(o); break;
      case 'Route': routeObjs.push(o); break;
      case 'DomainMapping': mappings.push(o); break;
      case 'ClusterDomainClaim': claims.push(o); break;
      default:
        problems.push({ severity: 'warning', object: label(o, nsOf(o)), message: `kind ${o.kind} is not a serving object; ignored` });
    }
  }
  for (const o of objs) ageOf(o);

  // --- Configurations (a Service's, and standalone ones) ---
  const configs = new Map<string, ConfigEntry>();
  for (const s of services) {
    const ns = nsOf(s);
    const object = label(s, ns);
    const spec = isObj(s.spec) ? s.spec : undefined;
    if (!spec || !isObj(spec.template)) {
      problems.push({ severity: 'error', object, field: 'spec.template', message: 'is required: the revision template' });
      statuses.push({ object, ready: false, reason: 'Invalid', message: 'spec.template is required' });
      continue;
    }
    configs.set(`${ns}/${s.metadata.name}`, { key: `${ns}/${s.metadata.name}`, namespace: ns, name: s.metadata.name, service: s.metadata.name, object, template: spec.template });
  }
  for (const c of configurations) {
    const ns = nsOf(c);
    const object = label(c, ns);
    const key = `${ns}/${c.metadata.name}`;
    if (configs.has(key)) {
      problems.push({ severity: 'error', object, field: 'metadata.name', message: `conflicts with the Configuration of Service ${key}` });
      continue;
    }
    const spec = isObj(c.spec) ? c.spec : undefined;
    if (!spec || !isObj(spec.template)) {
      problems.push({ severity: 'error', object, field: 'spec.template', message: 'is required: the revision template' });
      continue;
    }
    configs.set(key, { key, namespace: ns, name: c.metadata.name, object, template: spec.template });
  }

  // Revision names already taken: every stored revision, and standalone Revision objects.
  const owners = new Map<string, string>(); // ns/rev → config key ('' = a Revision object)
  for (const [ck, ch] of Object.entries(prev.configurations)) {
    const ns = ck.slice(0, ck.indexOf('/'));
    for (const r of ch.revisions) owners.set(`${ns}/${r.name}`, ck);
  }
  for (const r of revisionObjs) owners.set(`${nsOf(r)}/${r.metadata.name}`, '');

  const revs = new Map<string, RevEntry>(); // ns/rev → entry
  for (const c of [...configs.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    const tmeta = isObj((c.template as Record<string, unknown>).metadata) ? ((c.template as Record<string, unknown>).metadata as Record<string, unknown>) : {};
    const byo = tmeta.name;
    if (byo !== undefined && (typeof byo !== 'string' || !byo.startsWith(`${c.name}-`))) {
      problems.push({ severity: 'error', object: c.object, field: 'spec.template.metadata.name', message: `must have prefix "${c.name}-"` });
      hist.configurations[c.key] = prev.configurations[c.key] ?? { revisions: [] };
    } else {
      const r = advanceConfiguration(c.name, c.template, prev.configurations[c.key], now, (n) => {
        const o = owners.get(`${c.namespace}/${n}`);
        return o !== undefined && o !== c.key;
      });
      if (r.error) problems.push({ severity: 'error', object: c.object, field: 'spec.template.metadata.name', message: r.error });
      hist.configurations[c.key] = r.history;
      if (!r.error) c.latest = r.latest?.name;
    }
    const records = hist.configurations[c.key]!.revisions;
    for (const rec of records) {
      const isLatest = rec.name === c.latest;
      owners.set(`${c.namespace}/${rec.name}`, c.key);
      revs.set(`${c.namespace}/${rec.name}`, {
        source: { namespace: c.namespace, name: rec.name, ...(c.service ? { service: c.service } : {}), configuration: c.name, template: isLatest ? c.template : rec.template },
        ...(isLatest ? { report: { object: c.object, prefix: 'spec.template' } } : {}),
      });
    }
  }
  for (const r of revisionObjs) {
    const ns = nsOf(r);
    const key = `${ns}/${r.metadata.name}`;
    const object = label(r, ns);
    const existing = revs.get(key);
    if (existing) {
      problems.push({ severity: 'error', object, field: 'metadata.name', message: `conflicts with a revision of Configuration ${existing.source.configuration ?? '?'}` });
      continue;
    }
    const cfg = r.metadata.labels?.[CONFIGURATION_LABEL];
    const svc = r.metadata.labels?.[SERVICE_LABEL];
    revs.set(key, {
      source: { namespace: ns, name: r.metadata.name, ...(svc ? { service: svc } : {}), ...(cfg ? { configuration: cfg } : {}), template: { metadata: r.metadata, spec: r.spec } },
      report: { object, prefix: '' },
    });
  }
  // Validate every current template once, so errors show even for revisions no route sends traffic to.
  const infos = new Map<string, RevisionInfo | undefined>();
  for (const [key, e] of revs) {
    if (!e.report) continue;
    infos.set(key, revisionInfo(e.source, config, input.baseDir, problems, e.report.object, e.report.prefix, true));
  }
  const infoOf = (key: string): RevisionInfo | undefined => {
    if (!infos.has(key)) {
      const e = revs.get(key);
      // A revision rebuilt from history: its template is in no file any more, so what is wrong with it under the
      // current config is a warning on the revision (its traffic gets 503), not an error in a manifest.
      const found: Problem[] = [];
      const object = `Revision ${key}`;
      infos.set(key, e ? revisionInfo(e.source, config, input.baseDir, found, object, '', true) : undefined);
      for (const p of found) if (p.severity === 'error') problems.push({ ...p, severity: 'warning', message: `cannot run (template from history): ${p.message}` });
    }
    return infos.get(key);
  };
  const protocolOf = (ns: string) => (rev: string): UpstreamProtocol => infoOf(`${ns}/${rev}`)?.protocol ?? 'http1';

  // --- Routes (a Service's, and standalone ones) ---
  const routes: RouteEntry[] = [];
  const serviceNames = new Set(services.map((s) => `${nsOf(s)}/${s.metadata.name}`));
  for (const s of services) {
    const ns = nsOf(s);
    const key = `${ns}/${s.metadata.name}`;
    if (!configs.has(key)) continue; // spec.template missing: reported above
    const spec = s.spec as Record<string, unknown>;
    // Knative's Service defaulting: no (or an empty) traffic list means 100% to the latest revision.
    const empty = spec.traffic === undefined || spec.traffic === null || (Array.isArray(spec.traffic) && spec.traffic.length === 0);
    const traffic = empty ? [{ latestRevision: true, percent: 100 }] : spec.traffic;
    routes.push({ key, namespace: ns, name: s.metadata.name, object: label(s, ns), o: s, traffic, serviceContext: true, defaultConfiguration: s.metadata.name });
  }
  for (const r of routeObjs) {
    const ns = nsOf(r);
    const key = `${ns}/${r.metadata.name}`;
    const object = label(r, ns);
    if (serviceNames.has(key)) {
      problems.push({ severity: 'error', object, field: 'metadata.name', message: `conflicts with the Route of Service ${key}` });
      continue;
    }
    const spec = isObj(r.spec) ? r.spec : {};
    let traffic = spec.traffic;
    if (traffic === undefined || traffic === null) {
      if (configs.has(key)) traffic = [{ configurationName: r.metadata.name, percent: 100 }];
      else {
        problems.push({ severity: 'error', object, field: 'spec.traffic', message: 'is required (no Configuration of the same name to default to)' });
        statuses.push({ object, ready: false, reason: 'Invalid', message: 'spec.traffic is required' });
        continue;
      }
    }
    routes.push({ key, namespace: ns, name: r.metadata.name, object, o: r, traffic, serviceContext: false });
  }

  const used = new Set<string>(); // ns/rev with traffic (or in a rollout)
  const served = new Map<string, RouteTarget>();
  let nextChangeAt = Infinity;
  for (const rt of routes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const r = reconcileRoute(rt);
    if (r.nextStepTime !== undefined && r.nextStepTime < nextChangeAt) nextChangeAt = r.nextStepTime;
  }

  function reconcileRoute(rt: RouteEntry): { nextStepTime?: number } {
    const { object, namespace: ns } = rt;
    const notReady = (reason: string, message: string): { nextStepTime?: number } => {
      statuses.push({ object, ready: false, reason, message });
      return {};
    };
    const targets = parseTraffic(rt.traffic, 'spec.traffic', rt.serviceContext, object, problems);
    if (!targets) return notReady('Invalid', 'spec.traffic is invalid');
    const resolved: RevisionTarget[] = [];
    let missing: string | undefined;
    targets.forEach((t: TrafficTarget, i) => {
      const f = `spec.traffic[${i}]`;
      if (t.revisionName !== '') {
        const e = revs.get(`${ns}/${t.revisionName}`);
        if (!e) {
          missing = `Revision "${t.revisionName}" referenced in traffic not found`;
          problems.push({ severity: 'error', object, field: `${f}.revisionName`, message: missing, reason: 'RevisionMissing' });
          return;
        }
        resolved.push({ ...t, configurationName: e.source.configuration ?? '' });
        return;
      }
      const cfgName = t.configurationName || rt.defaultConfiguration!;
      const c = configs.get(`${ns}/${cfgName}`);
      if (!c) {
        missing = `Configuration "${cfgName}" referenced in traffic not found`;
        problems.push({ severity: 'error', object, field: `${f}.configurationName`, message: missing, reason: 'ConfigurationMissing' });
        return;
      }
      if (!c.latest) {
        missing = `Configuration "${cfgName}" has no ready revision`;
        return; // its own problem is already reported
      }
      resolved.push({ ...t, configurationName: cfgName, revisionName: c.latest });
    });
    if (missing) return notReady('RevisionMissing', missing);

    const meta = rt.o.metadata;
    const labels = { ...(meta.labels ?? {}) };
    if (rt.serviceContext) labels[SERVICE_LABEL] = rt.name;
    const annotations = { ...(meta.annotations ?? {}) };
    const clusterLocal = labels[VISIBILITY_LABEL] === CLUSTER_LOCAL || selectDomain(config, labels) === `svc.${config.clusterDomain}`;
    const groups = groupTargets(resolved);

    // Rollout: annotation (Go duration or seconds) beats config-network.
    let duration = config.network.rolloutDurationSeconds;
    const ann = annotations[ROLLOUT_DURATION_ANNOTATION];
    if (ann !== undefined) {
      const s = parseSecondsOrDuration(ann);
      if (s === null || s < 0) {
        problems.push({ severity: 'error', object, field: 'metadata.annotations', message: `${ROLLOUT_DURATION_ANNOTATION}: "${ann}" is not a duration like "120s"` });
        return notReady('Invalid', 'bad rollout-duration annotation');
      }
      duration = s;
    }
    const baseline: { tag: string; configurationName: string; revisionName: string; percent: number }[] = [];
    for (const [tag, ts] of groups) for (const t of ts) if (t.latestRevision) baseline.push({ tag, configurationName: t.configurationName, revisionName: t.revisionName, percent: t.percent });
    const cur = baselineRollout(baseline);
    let rollout: Rollout = cur;
    let nextStepTime: number | undefined;
    if (duration > 0) {
      const s = stepRollout(cur, prev.rollouts[rt.key], now, duration);
      rollout = s.rollout;
      nextStepTime = s.nextStepTime;
    }
    hist.rollouts[rt.key] = rollout;

    const httpOption = httpOptionOf(rt.o, object, problems);
    if (httpOption === null) return notReady('Invalid', 'bad http-protocol annotation');
    const { ingress, hosts } = makeRouteIngress(config, {
      name: rt.name,
      namespace: ns,
      labels,
      annotations,
      creationTimestamp: creationOf(rt.o),
      clusterLocal,
      groups,
      rollout: duration > 0 ? rollout : undefined,
      httpOption,
      ingressClass: ingressClassOf(rt.o, config),
      protocolOf: protocolOf(ns),
    });
    for (const [tag, h] of hosts) {
      for (const host of [h.local, h.external]) {
        if (host !== undefined && !isFullyQualifiedDomainName(host)) {
          const field = tag === '' ? 'metadata.name' : `spec.traffic`;
          problems.push({ severity: 'error', object, field, message: `host "${host}"${tag ? ` of tag "${tag}"` : ''} is not a valid domain name` });
          return notReady('Invalid', `invalid host ${host}`);
        }
      }
    }
    ingresses.push(ingress);
    for (const rule of ingress.spec.rules ?? []) for (const p of rule.http?.paths ?? []) for (const s of p.splits) used.add(`${ns}/${s.serviceName}`);
    for (const c of rollout.configurations) for (const r of c.revisions) used.add(`${ns}/${r.revisionName}`);
    const main = hosts.get('')!;
    const defaultSplits = (ingress.spec.rules ?? []).find((r) => r.visibility === 'ClusterLocal' && r.hosts?.includes(main.local))?.http?.paths.find((p) => !p.headers)?.splits ?? [];
    served.set(rt.key, { localHost: main.local, splits: defaultSplits.map((s): IngressBackendSplit => ({ ...s, appendHeaders: { ...(s.appendHeaders ?? {}) } })) });
    statuses.push({ object, ready: true, url: main.external ? `http://${main.external}` : `http://${main.local}` });
    return nextStepTime !== undefined ? { nextStepTime } : {};
  }

  function httpOptionOf(o: KObject, object: string, ps: Problem[]): HTTPOption | null {
    const a = o.metadata.annotations?.[HTTP_PROTOCOL_ANNOTATION];
    const v = a !== undefined ? a.trim().toLowerCase() : config.network.httpProtocol;
    if (v === 'enabled') return 'Enabled';
    if (v === 'redirected') return 'Redirected';
    if (v === 'disabled') return '';
    ps.push({ severity: 'error', object, field: 'metadata.annotations', message: `${HTTP_PROTOCOL_ANNOTATION}: "${a}" is not one of Enabled, Redirected, Disabled` });
    return null;
  }

  // --- DomainMappings ---
  const mappingInputs: MappingInput[] = mappings.map((dm) => ({ dm, namespace: nsOf(dm), creationTimestamp: creationOf(dm), age: ageOf(dm) }));
  for (const res of reconcileDomainMappings(mappingInputs, claims, served, config, httpOptionOf, problems)) {
    statuses.push(res.status);
    if (res.ingress) ingresses.push(res.ingress);
  }

  // --- Revisions to run: every Configuration's latest, every routed one, every Revision object ---
  const active = new Set<string>(used);
  for (const c of configs.values()) if (c.latest) active.add(`${c.namespace}/${c.latest}`);
  for (const r of revisionObjs) active.add(`${nsOf(r)}/${r.metadata.name}`);
  const revisions: RevisionInfo[] = [];
  const backends: ServiceBackend[] = [];
  for (const key of [...active].sort()) {
    const info = infoOf(key);
    if (!info) continue;
    revisions.push(info);
    backends.push({
      namespace: info.namespace,
      name: info.name,
      ports: [info.protocol === 'h2c' ? { name: 'http2', port: servicePortFor('h2c'), appProtocol: 'kubernetes.io/h2c' } : { name: 'http', port: servicePortFor('http1') }],
      revision: `${info.namespace}/${info.name}`,
    });
  }

  // --- History: keep the latest, the routed and the most recent few per Configuration ---
  for (const [ck, ch] of Object.entries(hist.configurations)) {
    const ns = ck.slice(0, ck.indexOf('/'));
    const latest = configs.get(ck)?.latest;
    const n = ch.revisions.length;
    ch.revisions = ch.revisions.filter((r, i) => r.name === latest || used.has(`${ns}/${r.name}`) || i >= n - RETAINED_REVISIONS);
  }

  for (const p of problems) {
    if (!p.origin && p.object) {
      const origin = objectOrigin.get(p.object);
      if (origin) p.origin = origin;
    }
  }
  return {
    ingresses,
    services: backends,
    revisions,
    history: hist,
    statuses,
    problems,
    ...(nextChangeAt !== Infinity ? { nextChangeAt } : {}),
  };
}
