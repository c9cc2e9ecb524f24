// Turns what a KIngress split names (serviceNamespace/serviceName:servicePort) into a BackendSpec key, building the
// BackendSpecs on the way. Revisions go through the activator (`rev:<ns>/<name>`); plain Services become
// `svc:<ns>/<name>:<port>` with their addresses (targetPort resolved) or ExternalName. A split that names nothing
// known keeps a key with no BackendSpec, so the data plane answers 503 "no backend" for it.
import type { RevisionInfo, ServiceBackend, UpstreamProtocol } from '../desired.js';
import type { IngressBackendSplit } from '../kingress.js';
import type { Problem } from '../objects.js';
import type { BackendSpec, EndpointSource } from '../snapshot.js';

const REVISION_HEADER = 'knative-serving-revision';
const NAMESPACE_HEADER = 'knative-serving-namespace';

export const revisionKey = (ns: string, name: string): string => `rev:${ns}/${name}`;
export const serviceKey = (ns: string, name: string, port: number | string): string => `svc:${ns}/${name}:${port}`;

export class BackendResolver {
  readonly backends = new Map<string, BackendSpec>();
  private readonly services = new Map<string, ServiceBackend>();
  private readonly revisions = new Map<string, RevisionInfo>();

  constructor(services: readonly ServiceBackend[], revisions: readonly RevisionInfo[], private readonly problems: Problem[]) {
    for (const s of services) this.services.set(`${s.namespace}/${s.name}`, s);
    for (const r of revisions) this.revisions.set(`${r.namespace}/${r.name}`, r);
    // Every revision gets its backend, routed or not: the process runner and the scaler see them all.
    for (const r of revisions) this.revisionBackend(r);
  }

  /** The backend key for a split; `object`/`field` name the split in problems. */
  resolve(split: IngressBackendSplit, object: string, field: string): string {
    const ns = split.serviceNamespace;
    const svc = this.services.get(`${ns}/${split.serviceName}`);
    if (svc?.revision) {
      const revKey = svc.revision.includes('/') ? svc.revision : `${svc.namespace}/${svc.revision}`;
      const info = this.revisions.get(revKey);
      if (info) return this.revisionBackend(info);
      this.warn(object, field, `Service ${ns}/${split.serviceName} fronts revision ${revKey}, which is not known; requests get 503`);
      return `rev:${revKey}`;
    }
    // Cluster mode: Serving's revision splits carry the revision in appendHeaders.
    const hdrs = split.appendHeaders ?? {};
    let rev: string | undefined;
    let revNs: string | undefined;
    for (const [k, v] of Object.entries(hdrs)) {
      const lk = k.toLowerCase();
      if (lk === REVISION_HEADER) rev = v;
      else if (lk === NAMESPACE_HEADER) revNs = v;
    }
    if (rev) {
      const info = this.revisions.get(`${revNs ?? ns}/${rev}`);
      if (info) return this.revisionBackend(info);
    }
    if (!svc) {
      const key = serviceKey(ns, split.serviceName, split.servicePort);
      this.warn(object, field, `Service ${ns}/${split.serviceName} is not known; requests get 503 until it appears`);
      return key;
    }
    const port = svc.ports.find((p) => (typeof split.servicePort === 'number' ? p.port === split.servicePort : p.name === split.servicePort));
    if (!port && svc.ports.length > 0) {
      const key = serviceKey(ns, split.serviceName, split.servicePort);
      this.warn(object, field, `Service ${ns}/${split.serviceName} has no port ${String(split.servicePort)}; requests get 503`);
      return key;
    }
    const portNum = port?.port ?? (typeof split.servicePort === 'number' ? split.servicePort : 80);
    const key = serviceKey(ns, svc.name, portNum);
    if (this.backends.has(key)) return key;
    const protocol: UpstreamProtocol = port && (port.name === 'http2' || port.name === 'h2c' || port.appProtocol === 'kubernetes.io/h2c') ? 'h2c' : 'http1';
    let source: EndpointSource;
    if (svc.externalName) source = { kind: 'dns', host: svc.externalName, port: portNum };
    else source = { kind: 'addresses', addresses: [...(svc.addresses ?? [])], notReady: [], port: port?.targetPort ?? portNum };
    this.backends.set(key, {
      key,
      namespace: ns,
      service: svc.name,
      revision: '',
      protocol,
      source,
      activator: false,
      containerConcurrency: 0,
      timeoutMs: 0,
      readiness: { kind: 'tcp' },
    });
    return key;
  }

  private revisionBackend(info: RevisionInfo): string {
    const key = revisionKey(info.namespace, info.name);
    if (this.backends.has(key)) return key;
    let source: EndpointSource | undefined;
    if (info.upstreams && info.upstreams.length > 0) source = { kind: 'static', urls: [...info.upstreams] };
    else if (info.process) source = { kind: 'process', process: info.process };
    else if (info.pods) source = { kind: 'addresses', addresses: [...info.pods.ready], notReady: [...info.pods.notReady], port: info.pods.port };
    if (!source) {
      this.warn(`Revision ${info.namespace}/${info.name}`, undefined, 'has no upstreams, process or pods; requests get 503');
      return key;
    }
    this.backends.set(key, {
      key,
      namespace: info.namespace,
      service: info.service ?? info.configuration ?? info.name,
      revision: info.name,
      protocol: info.protocol,
      source,
      activator: true,
      containerConcurrency: info.containerConcurrency,
      timeoutMs: info.timeoutSeconds * 1000,
      readiness: info.readiness,
      revisionInfo: info,
    });
    return key;
  }

  private readonly warned = new Set<string>();
  private warn(object: string, field: string | undefined, message: string): void {
    // One warning per object and message, not one per rule that repeats the same split.
    if (this.warned.has(object + '\0' + message)) return;
    this.warned.add(object + '\0' + message);
    this.problems.push({ severity: 'warning', object, ...(field ? { field } : {}), message });
  }
}
