// The resource types the fake API server stores, with the facts about each that change API behaviour:
// its Kind, whether it is namespaced, whether it has a status subresource, and whether it is a CRD.
export interface ResourceType {
  group: string; // '' = core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Writes to the main resource ignore status; status is written through /status only. */
  statusSubresource: boolean;
  /** CRDs bump metadata.generation on any non-metadata change; built-ins only on spec changes. */
  crd: boolean;
}

const t = (group: string, version: string, plural: string, kind: string, o: Partial<ResourceType> = {}): ResourceType => ({
  group, version, plural, kind, namespaced: true, statusSubresource: false, crd: false, ...o,
});

export const RESOURCE_TYPES: ResourceType[] = [
  t('', 'v1', 'services', 'Service', { statusSubresource: true }),
  t('', 'v1', 'secrets', 'Secret'),
  t('', 'v1', 'configmaps', 'ConfigMap'),
  t('', 'v1', 'endpoints', 'Endpoints'),
  t('', 'v1', 'pods', 'Pod', { statusSubresource: true }),
  t('', 'v1', 'namespaces', 'Namespace', { namespaced: false, statusSubresource: true }),
  t('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  t('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  t('networking.internal.knative.dev', 'v1alpha1', 'ingresses', 'Ingress', { statusSubresource: true, crd: true }),
  t('networking.internal.knative.dev', 'v1alpha1', 'clusterdomainclaims', 'ClusterDomainClaim', { namespaced: false, crd: true }),
  t('serving.knative.dev', 'v1', 'revisions', 'Revision', { statusSubresource: true, crd: true }),
  t('serving.knative.dev', 'v1', 'services', 'Service', { statusSubresource: true, crd: true }),
  t('eventing.knative.dev', 'v1', 'brokers', 'Broker', { statusSubresource: true, crd: true }),
  t('eventing.knative.dev', 'v1', 'triggers', 'Trigger', { statusSubresource: true, crd: true }),
];

export const apiVersionOf = (r: ResourceType): string => (r.group ? `${r.group}/${r.version}` : r.version);

export function findType(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function typeOfObject(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}
