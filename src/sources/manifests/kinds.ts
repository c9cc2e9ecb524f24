// Which kinds a manifest folder may hold, and where each one goes. Kubernetes would reject an apiVersion its API
// server does not serve, so a known group with an unknown version is an error; a kind wharf does not know at all is
// only a warning (a folder shared with other tools may hold anything).
import { MODEL_CONFIG_MAPS } from '../../model/config.js';

export type KindClass = 'serving' | 'eventing' | 'configmap' | 'secret';

export interface KindInfo {
  cls: KindClass;
  /** Cluster-scoped kinds have no namespace. */
  clusterScoped: boolean;
  /** Versions the kind is served at; undefined = any version of its group (eventing compiles these itself). */
  versions?: readonly string[];
}

const table: Record<string, Record<string, KindInfo>> = {
  '': {
    ConfigMap: { cls: 'configmap', clusterScoped: false, versions: ['v1'] },
    Secret: { cls: 'secret', clusterScoped: false, versions: ['v1'] },
  },
  'serving.knative.dev': {
    Service: { cls: 'serving', clusterScoped: false, versions: ['v1'] },
    Configuration: { cls: 'serving', clusterScoped: false, versions: ['v1'] },
    Revision: { cls: 'serving', clusterScoped: false, versions: ['v1'] },
    Route: { cls: 'serving', clusterScoped: false, versions: ['v1'] },
    DomainMapping: { cls: 'serving', clusterScoped: false, versions: ['v1beta1', 'v1alpha1'] },
  },
  'networking.internal.knative.dev': {
    ClusterDomainClaim: { cls: 'serving', clusterScoped: true, versions: ['v1alpha1'] },
  },
  'eventing.knative.dev': {
    Broker: { cls: 'eventing', clusterScoped: false },
    Trigger: { cls: 'eventing', clusterScoped: false },
  },
  'messaging.knative.dev': {
    Channel: { cls: 'eventing', clusterScoped: false },
    Subscription: { cls: 'eventing', clusterScoped: false },
    InMemoryChannel: { cls: 'eventing', clusterScoped: false },
  },
  'sources.knative.dev': {
    PingSource: { cls: 'eventing', clusterScoped: false },
  },
};

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

export type KindLookup =
  | { known: true; info: KindInfo }
  | { known: false; badVersion?: readonly string[] };

export function lookupKind(apiVersion: string, kind: string): KindLookup {
  const { group, version } = splitApiVersion(apiVersion);
  const info = table[group]?.[kind];
  if (!info) return { known: false };
  if (info.versions && !info.versions.includes(version)) return { known: false, badVersion: info.versions };
  return { known: true, info };
}

/** Knative ConfigMaps wharf (or one of its capabilities) reads; the namespace they sit in does not matter. */
export const CONFIG_MAP_NAMES: ReadonlySet<string> = new Set<string>([
  ...MODEL_CONFIG_MAPS,
  'config-deployment',
  'config-gc',
  'config-observability',
  'config-tracing',
  'config-logging',
  'config-kourier',
  'config-br-defaults',
  'config-br-default-channel',
  'config-ping-defaults',
  'default-ch-webhook',
]);

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** apiVersions under which wharf knows `kind`, for a "did you mean" hint (`v1 Service` → serving.knative.dev/v1). */
export function apiVersionsOf(kind: string): string[] {
  const out: string[] = [];
  for (const [group, kinds] of Object.entries(table)) {
    const info = kinds[kind];
    if (!info) continue;
    const v = info.versions?.[0] ?? 'v1';
    out.push(group ? `${group}/${v}` : v);
  }
  return out;
}
