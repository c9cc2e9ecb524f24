// Builders for the cluster objects the Kubernetes source reads, shaped as a real API server stores them.
import type { IngressSpec } from '../../src/model/kingress.js';

export const KINGRESS_API = 'networking.internal.knative.dev/v1alpha1';
export const CLASS = 'wharf.ingress.networking.knative.dev';

export function kingress(ns: string, name: string, spec: IngressSpec, opts: { cls?: string | null; annotations?: Record<string, string> } = {}) {
  const annotations: Record<string, string> = { ...(opts.annotations ?? {}) };
  if (opts.cls !== null) annotations['networking.knative.dev/ingress.class'] = opts.cls ?? CLASS;
  return { apiVersion: KINGRESS_API, kind: 'Ingress', metadata: { name, namespace: ns, annotations }, spec };
}

/** One rule, one path, one split to `svc:port` (the conformance tests' basic shape). */
export function simpleSpec(ns: string, host: string, svc: string, port: number | string = 80, extra: { visibility?: 'ExternalIP' | 'ClusterLocal'; appendHeaders?: Record<string, string> } = {}): IngressSpec {
  return {
    rules: [
      {
        hosts: [host],
        visibility: extra.visibility,
        http: { paths: [{ splits: [{ serviceNamespace: ns, serviceName: svc, servicePort: port, appendHeaders: extra.appendHeaders }] }] },
      },
    ],
  };
}

export function service(ns: string, name: string, ports: { name?: string; port: number; targetPort?: number | string; appProtocol?: string }[], extra: { externalName?: string; labels?: Record<string, string> } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: extra.labels },
    spec: extra.externalName ? { type: 'ExternalName', externalName: extra.externalName, ports } : { type: 'ClusterIP', ports },
  };
}

export function endpointSlice(ns: string, svc: string, name: string, endpoints: { ip: string; ready?: boolean | null }[], ports: { name?: string; port: number }[]) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: e.ready === null ? {} : { ready: e.ready ?? true } })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: 'TCP' })),
  };
}

export function revision(ns: string, name: string, spec: { containerConcurrency?: number; timeoutSeconds?: number; h2c?: boolean } = {}) {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: { name, namespace: ns, labels: { 'serving.knative.dev/service': name.replace(/-\d+$/, ''), 'serving.knative.dev/configuration': name.replace(/-\d+$/, '') }, annotations: { 'autoscaling.knative.dev/target': '10' } },
    spec: {
      containerConcurrency: spec.containerConcurrency,
      timeoutSeconds: spec.timeoutSeconds,
      containers: [{ image: 'x', ports: [{ name: spec.h2c ? 'h2c' : 'http1', containerPort: 8080 }] }],
    },
  };
}

export function tlsSecret(ns: string, name: string, cert: string, key: string) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace: ns },
    data: { 'tls.crt': Buffer.from(cert).toString('base64'), 'tls.key': Buffer.from(key).toString('base64') },
  };
}

export function configMap(ns: string, name: string, data: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data };
}

export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
