// Hand-built snapshots for data-plane tests that should not depend on the compiler: a compact description in,
// a complete `Snapshot` out (cumulative weights, both planes, defaults filled).
import type { BackendSpec, HostTable, Plane, Route, Snapshot, Split, VirtualHost } from '../../src/model/snapshot.js';
import type { ClusterConfig } from '../../src/model/config.js';
import { defaultConfig } from '../../src/model/config.js';

export interface SplitFixture {
  backend: string;
  percent: number;
  appendHeaders?: Record<string, string>;
}

export interface RouteFixture {
  prefix?: string;
  headers?: Record<string, string>;
  appendHeaders?: Record<string, string>;
  rewriteHost?: string;
  handler?: string;
  splits?: SplitFixture[];
}

export interface HostFixture {
  hosts: string[];
  /** external = served on both planes (ExternalIP); internal = cluster-local only. */
  visibility?: 'external' | 'internal';
  httpOption?: VirtualHost['httpOption'];
  routes: RouteFixture[];
}

export interface BackendFixture {
  key: string;
  /** Static upstream origins, e.g. http://127.0.0.1:1234. */
  urls: string[];
  namespace?: string;
  service?: string;
  revision?: string;
  timeoutMs?: number;
  containerConcurrency?: number;
  protocol?: 'http1' | 'h2c';
}

const pairs = (r?: Record<string, string>) => Object.entries(r ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);

function route(r: RouteFixture, ingress: string): Route {
  const splits: Split[] = (r.splits ?? []).map((s) => ({ backend: s.backend, percent: s.percent, appendHeaders: pairs(s.appendHeaders) }));
  let acc = 0;
  const cumulative = splits.map((s) => (acc += s.percent));
  return {
    prefix: r.prefix ?? '',
    headers: pairs(r.headers),
    appendHeaders: pairs(r.appendHeaders),
    rewriteHost: r.rewriteHost ?? null,
    handler: r.handler ?? null,
    splits,
    cumulative,
    ingress,
  };
}

export function backendSpec(b: BackendFixture): BackendSpec {
  return {
    key: b.key,
    namespace: b.namespace ?? 'default',
    service: b.service ?? b.key,
    revision: b.revision ?? b.key,
    protocol: b.protocol ?? 'http1',
    source: { kind: 'static', urls: b.urls },
    activator: true,
    containerConcurrency: b.containerConcurrency ?? 0,
    timeoutMs: b.timeoutMs ?? 0,
    readiness: { kind: 'tcp' },
  };
}

export function fixtureSnapshot(f: {
  version?: number;
  hosts: HostFixture[];
  backends: BackendFixture[];
  config?: Partial<ClusterConfig['wharf']>;
}): Snapshot {
  const tables: Record<Plane, { hosts: Map<string, VirtualHost>; wildcard: VirtualHost | null }> = {
    external: { hosts: new Map(), wildcard: null },
    internal: { hosts: new Map(), wildcard: null },
  };
  for (const h of f.hosts) {
    const visibility = h.visibility === 'internal' ? 'ClusterLocal' : 'ExternalIP';
    const routes = h.routes.map((r) => route(r, 'default/fixture'));
    const planes: Plane[] = visibility === 'ExternalIP' ? ['external', 'internal'] : ['internal'];
    for (const plane of planes) {
      if (h.hosts.length === 0) {
        tables[plane].wildcard = { host: '*', visibility, httpOption: h.httpOption ?? '', routes, tlsSecret: null };
      }
      for (const host of h.hosts) {
        tables[plane].hosts.set(host, { host, visibility, httpOption: h.httpOption ?? '', routes, tlsSecret: null });
      }
    }
  }
  const config = defaultConfig();
  config.wharf = { ...config.wharf, ...f.config };
  return {
    version: f.version ?? 1,
    config,
    planes: tables as Record<Plane, HostTable>,
    backends: new Map(f.backends.map((b) => [b.key, backendSpec(b)])),
    secrets: new Map(),
    eventing: null,
    problems: [],
    statuses: [],
  };
}
