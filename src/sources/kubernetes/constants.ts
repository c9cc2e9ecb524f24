// Names, ports and the API surface of wharf in a cluster. The deploy manifests (docker/kubernetes) are tested
// against these, so a port or an RBAC verb cannot drift between the code and what the cluster grants.
export { INGRESS_CLASS_ANNOTATION, WHARF_INGRESS_CLASS } from '../../model/kingress.js';
export { BROKER_CLASS_ANNOTATION, DEFAULT_BROKER_CLASS as WHARF_BROKER_CLASS, GATEWAY_BROKER_INGRESS as BROKER_INGRESS_SERVICE } from '../../model/eventing.js';
/** The Knative ConfigMaps wharf reads from the serving namespace: the ones the model reads. */
export { MODEL_CONFIG_MAPS as CONFIG_MAPS } from '../../model/config.js';
/** Kourier's finalizer name (the generated KIngress reconciler's), so switching implementations keeps working. */
export const INGRESS_FINALIZER = 'ingresses.networking.internal.knative.dev';

export const DEFAULT_NAMESPACE = 'wharf-system';
export const KNATIVE_SERVING_NAMESPACE = 'knative-serving';
export const PUBLIC_SERVICE = 'wharf';
export const INTERNAL_SERVICE = 'wharf-internal';
export const LEASE_NAME = 'wharf-leader';
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** Container ports of a wharf pod (Kourier's layout: 8080/8443 external, 8081/8444 internal). */
export const PORTS = {
  externalHttp: 8080,
  externalHttps: 8443,
  internalHttp: 8081,
  internalHttps: 8444,
  admin: 9000,
} as const;

/** Service ports (what clients and Knative's prober dial). */
export const SERVICE_PORTS = {
  public: [
    { name: 'http2', port: 80, targetPort: PORTS.externalHttp },
    { name: 'https', port: 443, targetPort: PORTS.externalHttps },
  ],
  internal: [
    { name: 'http2', port: 80, targetPort: PORTS.internalHttp },
    { name: 'https', port: 443, targetPort: PORTS.internalHttps },
  ],
} as const;

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_REVISION = 'serving.knative.dev/revision';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
export interface ApiUse {
  group: string; // '' = core
  resource: string; // plural, with /subresource where one is used
  verbs: readonly Verb[];
  /** Where the permission is needed: cluster-wide, or only in wharf's / Knative serving's namespace. */
  scope: 'cluster' | 'wharf-namespace' | 'serving-namespace';
}

/**
 * Every (group, resource, verb) the Kubernetes source, status writer and leader election call. The RBAC in
 * docker/kubernetes must grant each of these and the test in test/deploy checks it does.
 */
export const API_USAGE: readonly ApiUse[] = [
  { group: 'networking.internal.knative.dev', resource: 'ingresses', verbs: ['get', 'list', 'watch', 'patch'], scope: 'cluster' },
  { group: 'networking.internal.knative.dev', resource: 'ingresses/status', verbs: ['patch'], scope: 'cluster' },
  // Setting metadata.finalizers needs update on the finalizers subresource where OwnerReferencesPermissionEnforcement is on.
  { group: 'networking.internal.knative.dev', resource: 'ingresses/finalizers', verbs: ['update'], scope: 'cluster' },
  { group: '', resource: 'services', verbs: ['list', 'watch'], scope: 'cluster' },
  { group: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['list', 'watch'], scope: 'cluster' },
  { group: '', resource: 'secrets', verbs: ['list', 'watch'], scope: 'cluster' },
  { group: '', resource: 'configmaps', verbs: ['list', 'watch'], scope: 'serving-namespace' },
  { group: 'serving.knative.dev', resource: 'revisions', verbs: ['list', 'watch'], scope: 'cluster' },
  { group: 'eventing.knative.dev', resource: 'brokers', verbs: ['list', 'watch'], scope: 'cluster' },
  { group: 'eventing.knative.dev', resource: 'brokers/status', verbs: ['patch'], scope: 'cluster' },
  { group: 'eventing.knative.dev', resource: 'triggers', verbs: ['list', 'watch'], scope: 'cluster' },
  { group: 'eventing.knative.dev', resource: 'triggers/status', verbs: ['patch'], scope: 'cluster' },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'], scope: 'wharf-namespace' },
];
