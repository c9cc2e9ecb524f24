// A minimal Snapshot for TLS tests: hosts per plane with their TLS secret, the Secret map and config-wharf keys.
import type { ClusterConfig } from '../../src/model/config.js';
import type { HostTable, Plane, Snapshot, VirtualHost } from '../../src/model/snapshot.js';

export interface TlsSnapshotSpec {
  version?: number;
  /** host → tlsSecret (or null) */
  external?: Record<string, string | null>;
  internal?: Record<string, string | null>;
  secrets?: Record<string, { cert: string; key: string }>;
  /** TLS secret of the external plane's catch-all rule (a rule without hosts). */
  catchAllSecret?: string;
  wharf?: Record<string, string>;
}

function table(plane: Plane, hosts: Record<string, string | null> | undefined, catchAll?: string): HostTable {
  const m = new Map<string, VirtualHost>();
  for (const [host, tlsSecret] of Object.entries(hosts ?? {})) {
    m.set(host, { host, visibility: plane === 'external' ? 'ExternalIP' : 'ClusterLocal', httpOption: '', routes: [], tlsSecret });
  }
  const wildcard: VirtualHost | null = catchAll ? { host: '*', visibility: 'ExternalIP', httpOption: '', routes: [], tlsSecret: catchAll } : null;
  return { hosts: m, wildcard };
}

export function tlsSnapshot(spec: TlsSnapshotSpec): Snapshot {
  const config = {
    raw: { 'config-wharf': spec.wharf ?? {} },
    clusterDomain: 'cluster.local',
    domains: [],
    network: { domainTemplate: '', tagTemplate: '', autocreateClusterDomainClaims: false, rolloutDurationSeconds: 0, httpProtocol: 'enabled', ingressClass: '' },
    features: { tagHeaderBasedRouting: false },
    defaults: { revisionTimeoutSeconds: 300, containerConcurrency: 0 },
    wharf: { accessLog: false, drainTimeoutMs: 0, drainDelayMs: 0 },
  } as unknown as ClusterConfig;
  return {
    version: spec.version ?? 1,
    config,
    planes: { external: table('external', spec.external, spec.catchAllSecret), internal: table('internal', spec.internal) },
    backends: new Map(),
    secrets: new Map(Object.entries(spec.secrets ?? {})),
    eventing: null,
    problems: [],
    statuses: [],
  };
}
