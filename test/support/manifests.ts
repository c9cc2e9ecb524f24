// Manifest builders shared by feature tests: the YAML a user would write for a standalone Knative Service or Revision
// (backed by `wharf.dev/upstream`), a DomainMapping, a ClusterDomainClaim and a TLS Secret. Values are JSON-quoted so they stay strings.

/** `key: "value"` lines at the given indent, or '' when the map is empty. */
function yamlMap(map: Record<string, string>, indent: string): string {
  return Object.entries(map)
    .map(([k, v]) => `${indent}${k}: ${JSON.stringify(v)}\n`)
    .join('');
}

export interface UpstreamServiceOptions {
  name: string;
  namespace?: string;
  /** The `wharf.dev/upstream` value: one or more comma-separated URLs. */
  upstream: string;
  /** Annotations on the Service itself (e.g. networking.knative.dev/http-protocol). */
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** More annotations on the revision template, next to wharf.dev/upstream. */
  templateAnnotations?: Record<string, string>;
  /** spec.template.metadata.name: the name the latest revision gets. */
  revisionName?: string;
  image?: string;
  /** Container ports, e.g. [{ name: 'h2c', containerPort: 8080 }] to ask for HTTP/2 cleartext. */
  ports?: { name: string; containerPort: number }[];
  /** Raw YAML appended under `spec:` (indented two spaces), e.g. a traffic block. */
  specExtra?: string;
}

/** The `- image:` container entry (plus ports) at the given indent. */
function container(image: string | undefined, ports: UpstreamServiceOptions['ports'], indent: string): string {
  const p = ports?.length
    ? `${indent}  ports:\n` + ports.map((x) => `${indent}    - name: ${x.name}\n${indent}      containerPort: ${x.containerPort}\n`).join('')
    : '';
  return `${indent}- image: ${image ?? 'test/app'}\n${p}`;
}

/** A serving.knative.dev/v1 Service whose revisions are served by `upstream` (no containers run). */
export function upstreamService(o: UpstreamServiceOptions): string {
  const labels = o.labels && Object.keys(o.labels).length ? `  labels:\n${yamlMap(o.labels, '    ')}` : '';
  const annotations = o.annotations && Object.keys(o.annotations).length ? `  annotations:\n${yamlMap(o.annotations, '    ')}` : '';
  const revisionName = o.revisionName ? `      name: ${o.revisionName}\n` : '';
  return `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ${o.name}
  namespace: ${o.namespace ?? 'default'}
${labels}${annotations}spec:
  template:
    metadata:
${revisionName}      annotations:
${yamlMap({ 'wharf.dev/upstream': o.upstream, ...o.templateAnnotations }, '        ')}    spec:
      containers:
${container(o.image, o.ports, '        ')}${o.specExtra ?? ''}`;
}

/** A serving.knative.dev/v1 Revision of Service `service` served by `upstream` (for traffic splits by name). */
export function upstreamRevision(o: { name: string; service: string; namespace?: string; upstream: string; image?: string; ports?: UpstreamServiceOptions['ports'] }): string {
  return `apiVersion: serving.knative.dev/v1
kind: Revision
metadata:
  name: ${o.name}
  namespace: ${o.namespace ?? 'default'}
  labels:
    serving.knative.dev/service: ${o.service}
    serving.knative.dev/configuration: ${o.service}
  annotations:
    wharf.dev/upstream: ${JSON.stringify(o.upstream)}
spec:
  containers:
${container(o.image, o.ports, '    ')}`;
}

/** A DomainMapping from `domain` to the Knative Service `service` in `namespace`, optionally with a TLS Secret. */
export function domainMapping(o: { domain: string; namespace?: string; service: string; secretName?: string }): string {
  const tls = o.secretName ? `  tls:\n    secretName: ${o.secretName}\n` : '';
  return `apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: ${o.domain}
  namespace: ${o.namespace ?? 'default'}
spec:
  ref:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: ${o.service}
${tls}`;
}

/** A ClusterDomainClaim giving `domain` to `namespace`. */
export function domainClaim(domain: string, namespace: string): string {
  return `apiVersion: networking.internal.knative.dev/v1alpha1
kind: ClusterDomainClaim
metadata:
  name: ${domain}
spec:
  namespace: ${namespace}
`;
}

/** A kubernetes.io/tls Secret manifest with PEM text in stringData. */
export function tlsSecret(name: string, namespace: string, pair: { cert: string; key: string }): string {
  const indent = (t: string) => t.trimEnd().split('\n').map((l) => `    ${l}`).join('\n');
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: ${namespace}
type: kubernetes.io/tls
stringData:
  tls.crt: |
${indent(pair.cert)}
  tls.key: |
${indent(pair.key)}
`;
}
