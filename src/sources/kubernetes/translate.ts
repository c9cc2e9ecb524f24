// Pure: the cluster objects wharf watches → the `Desired` every source produces. KIngresses get Knative's defaults
// and their probe paths (with the probe hash) here, so the router answers Knative's prober like Kourier's Envoy.
import type { Desired, RevisionInfo, ServiceBackend } from '../../model/desired.js';
import { emptyDesired } from '../../model/desired.js';
import type { Ingress, IngressSpec } from '../../model/kingress.js';
import type { KObject, Problem } from '../../model/objects.js';
import { applyIngressDefaults, hashOfDefaultedSpec, insertProbe } from '../../model/probehash.js';
import { BROKER_CLASS_ANNOTATION, CONFIG_MAPS, LABEL_REVISION, LABEL_SERVICE_NAME } from './constants.js';

export interface ClusterObjects {
  /** KIngresses of our class (already filtered). */
  ingresses: KObject[];
  services: KObject[];
  endpointSlices: KObject[];
  secrets: KObject[];
  /** ConfigMaps of the serving namespace. */
  configMaps: KObject[];
  revisions: KObject[];
  brokers: KObject[];
  triggers: KObject[];
}

export interface TranslateOptions {
  brokerClass: string;
  /** wharf's own namespace: its TLS Secrets (default certificates) are always passed on. */
  ownNamespace: string;
  /** The cluster domain from the pod's environment (WHARF_CLUSTER_DOMAIN), when set. */
  clusterDomain?: string;
}

/** What was handed to the runtime for one ingress: the status writer reports on exactly this. */
export interface IngressVersion {
  key: string; // ns/name
  namespace: string;
  name: string;
  generation: number;
  hash: string;
  /** The defaulted spec (before probe paths), which the prober reads hosts and visibility from. */
  spec: IngressSpec;
}

export interface Translation {
  desired: Desired;
  ingresses: Map<string, IngressVersion>;
}

const nsName = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

/** Addresses of EndpointSlices, split by readiness (`ready` nil counts as ready, as Kubernetes says). */
function sliceAddresses(slices: KObject[]): { ready: string[]; notReady: string[]; ports: { name?: string; port: number }[] } {
  const ready = new Set<string>();
  const notReady = new Set<string>();
  const ports: { name?: string; port: number }[] = [];
  for (const s of slices) {
    const at = (s as { addressType?: string }).addressType;
    if (at && at !== 'IPv4' && at !== 'IPv6') continue; // FQDN slices are not pod addresses
    for (const p of ((s as { ports?: { name?: string; port?: number }[] }).ports ?? [])) {
      if (typeof p.port === 'number' && !ports.some((q) => q.name === (p.name || undefined) && q.port === p.port)) ports.push({ name: p.name || undefined, port: p.port });
    }
    for (const e of ((s as { endpoints?: { addresses?: string[]; conditions?: { ready?: boolean | null; terminating?: boolean } }[] }).endpoints ?? [])) {
      const isReady = e.conditions?.ready !== false;
      for (const a of e.addresses ?? []) (isReady ? ready : notReady).add(a);
    }
  }
  for (const a of ready) notReady.delete(a);
  return { ready: [...ready].sort(), notReady: [...notReady].sort(), ports };
}

function decodeB64(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  return Buffer.from(v, 'base64').toString('utf8');
}

function num(v: unknown, dflt: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : dflt;
}

export function translate(objs: ClusterObjects, opts: TranslateOptions): Translation {
  const d: Desired = emptyDesired();
  const problems: Problem[] = d.problems;
  const versions = new Map<string, IngressVersion>();

  for (const cm of objs.configMaps) {
    if ((CONFIG_MAPS as readonly string[]).includes(cm.metadata.name)) d.configMaps[cm.metadata.name] = { ...(cm.data ?? {}) };
  }
  // Defaults only the cluster side knows, so the model serves (and status advertises) the same names: the broker
  // ingress Service is in wharf's own namespace, and the cluster domain is the pod's. config-wharf still wins.
  const wharfCm = (d.configMaps['config-wharf'] ??= {});
  const clusterDefaults: Record<string, string | undefined> = { 'broker-ingress-namespace': opts.ownNamespace, 'cluster-domain': opts.clusterDomain };
  // Blank counts as unset, as the model reads config-wharf (trimmed).
  for (const [key, value] of Object.entries(clusterDefaults)) if (value && !wharfCm[key]?.trim()) wharfCm[key] = value;
  const defaults = d.configMaps['config-defaults'] ?? {};

  // Endpoint slices by owning Service.
  const slicesBySvc = new Map<string, KObject[]>();
  for (const s of objs.endpointSlices) {
    const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
    if (!svc) continue;
    const k = nsName(s.metadata.namespace, svc);
    let l = slicesBySvc.get(k);
    if (!l) slicesBySvc.set(k, (l = []));
    l.push(s);
  }

  // KIngresses: defaults, hash, probe paths. Objects being deleted are no longer served.
  const referencedSvcs = new Set<string>();
  const referencedSecrets = new Set<string>();
  for (const o of objs.ingresses) {
    if (o.metadata.deletionTimestamp) continue;
    const ns = o.metadata.namespace ?? '';
    const key = nsName(ns, o.metadata.name);
    if (!o.spec || typeof o.spec !== 'object') {
      problems.push({ severity: 'warning', object: `Ingress ${key}`, field: 'spec', message: 'missing spec; not served' });
      continue;
    }
    const spec = applyIngressDefaults(o.spec as IngressSpec);
    const hash = hashOfDefaultedSpec(spec, ns, o.metadata.name);
    versions.set(key, { key, namespace: ns, name: o.metadata.name, generation: o.metadata.generation ?? 0, hash, spec });
    const ing: Ingress = { apiVersion: 'networking.internal.knative.dev/v1alpha1', kind: 'Ingress', metadata: o.metadata, spec: insertProbe(spec, hash) };
    d.ingresses.push(ing);
    for (const r of spec.rules ?? []) for (const p of r.http?.paths ?? []) for (const s of p.splits ?? []) referencedSvcs.add(nsName(s.serviceNamespace || ns, s.serviceName));
    for (const t of spec.tls ?? []) if (t.secretName) referencedSecrets.add(nsName(t.secretNamespace || ns, t.secretName));
  }

  // Revisions (activator role): concurrency and timeout from the Revision, pods from `<rev>-private`.
  const revisions = new Map<string, RevisionInfo>();
  for (const r of objs.revisions) {
    const ns = r.metadata.namespace ?? '';
    const spec = (r.spec ?? {}) as { containerConcurrency?: number; timeoutSeconds?: number; containers?: { ports?: { name?: string }[] }[] };
    const h2c = spec.containers?.some((c) => c.ports?.some((p) => p.name === 'h2c')) ?? false;
    const priv = sliceAddresses(slicesBySvc.get(nsName(ns, `${r.metadata.name}-private`)) ?? []);
    const wantName = h2c ? 'http2' : 'http';
    const port = priv.ports.find((p) => p.name === wantName)?.port ?? (h2c ? 8013 : 8012);
    const info: RevisionInfo = {
      namespace: ns,
      name: r.metadata.name,
      service: r.metadata.labels?.['serving.knative.dev/service'],
      configuration: r.metadata.labels?.['serving.knative.dev/configuration'],
      containerConcurrency: num(spec.containerConcurrency, num(defaults['container-concurrency'], 0)),
      timeoutSeconds: num(spec.timeoutSeconds, num(defaults['revision-timeout-seconds'], 300)),
      annotations: { ...(r.metadata.annotations ?? {}) },
      protocol: h2c ? 'h2c' : 'http1',
      readiness: { kind: 'queue' },
      pods: { ready: priv.ready, notReady: priv.notReady, port },
    };
    revisions.set(nsName(ns, r.metadata.name), info);
  }
  d.revisions = [...revisions.values()];

  // Services the ingresses name (plus every revision's public Service).
  for (const s of objs.services) {
    const ns = s.metadata.namespace ?? '';
    const key = nsName(ns, s.metadata.name);
    const rev = s.metadata.labels?.[LABEL_REVISION];
    const isRevision = !!rev && revisions.has(nsName(ns, rev));
    if (!referencedSvcs.has(key) && !isRevision) continue;
    const spec = (s.spec ?? {}) as { type?: string; externalName?: string; ports?: { name?: string; port: number; targetPort?: number | string; appProtocol?: string }[] };
    const eps = sliceAddresses(slicesBySvc.get(key) ?? []);
    const ports = (spec.ports ?? []).map((p) => {
      // A named targetPort resolves per pod; EndpointSlices carry the resolved number under the Service port's name.
      let target: number | undefined;
      if (typeof p.targetPort === 'number') target = p.targetPort;
      else if (typeof p.targetPort === 'string' && /^\d+$/.test(p.targetPort)) target = Number(p.targetPort);
      else target = eps.ports.find((q) => q.name === (p.name || undefined))?.port ?? (p.targetPort === undefined ? p.port : undefined);
      return { name: p.name, port: p.port, targetPort: target, appProtocol: p.appProtocol };
    });
    const b: ServiceBackend = { namespace: ns, name: s.metadata.name, ports };
    if (spec.type === 'ExternalName' && spec.externalName) b.externalName = spec.externalName;
    else b.addresses = eps.ready;
    if (isRevision) b.revision = rev;
    d.services.push(b);
  }

  // TLS Secrets that an ingress names, and wharf's own (default certificates).
  for (const s of objs.secrets) {
    const key = nsName(s.metadata.namespace, s.metadata.name);
    if (s.type !== 'kubernetes.io/tls') continue;
    if (!referencedSecrets.has(key) && s.metadata.namespace !== opts.ownNamespace) continue;
    const cert = decodeB64(s.data?.['tls.crt']);
    const keyPem = decodeB64(s.data?.['tls.key']);
    if (cert === null || keyPem === null) {
      problems.push({ severity: 'warning', object: `Secret ${key}`, field: 'data', message: 'a kubernetes.io/tls Secret needs tls.crt and tls.key' });
      continue;
    }
    d.secrets.push({ apiVersion: 'v1', kind: 'Secret', type: s.type, metadata: s.metadata, data: { 'tls.crt': cert, 'tls.key': keyPem } });
  }

  // Eventing: Brokers of our class and the Triggers that name them.
  const brokers = new Set<string>();
  // config-wharf `broker-class` (read by eventing too) wins over the option, so both agree on which Brokers are ours.
  const brokerClass = d.configMaps['config-wharf']?.['broker-class']?.trim() || opts.brokerClass;
  for (const b of objs.brokers) {
    if (b.metadata.annotations?.[BROKER_CLASS_ANNOTATION] !== brokerClass || b.metadata.deletionTimestamp) continue;
    brokers.add(nsName(b.metadata.namespace, b.metadata.name));
    d.eventing.push({ ...b, apiVersion: b.apiVersion ?? 'eventing.knative.dev/v1', kind: b.kind ?? 'Broker' });
  }
  for (const t of objs.triggers) {
    const broker = (t.spec as { broker?: string } | undefined)?.broker;
    if (broker && brokers.has(nsName(t.metadata.namespace, broker)) && !t.metadata.deletionTimestamp) d.eventing.push({ ...t, apiVersion: t.apiVersion ?? 'eventing.knative.dev/v1', kind: t.kind ?? 'Trigger' });
  }

  return { desired: d, ingresses: versions };
}
