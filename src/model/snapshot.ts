// The compiled, immutable route model that the data plane reads. One snapshot per config generation;
// a reload builds a new one and the runtime swaps a single reference.
import type { HTTPOption, Visibility } from './kingress.js';
import type { ObjectStatus, ReadinessCheck, RevisionInfo, UpstreamProtocol, ProcessSpec } from './desired.js';
import type { Problem } from './objects.js';
import type { ClusterConfig } from './config.js';

export type Plane = 'external' | 'internal';

/** Where a backend's endpoints come from. The backends layer turns this into live endpoints. */
export type EndpointSource =
  | { kind: 'static'; urls: string[] } // standalone wharf.dev/upstream: hosts re-resolved periodically
  | { kind: 'process'; process: ProcessSpec } // standalone: wharf runs it
  | { kind: 'addresses'; addresses: string[]; notReady: string[]; port: number } // cluster: pod/endpoint IPs
  | { kind: 'dns'; host: string; port: number }; // cluster: ExternalName

export interface BackendSpec {
  /** Stable identity across snapshots: `rev:<ns>/<name>` or `svc:<ns>/<name>:<port>`. Live state is keyed by it. */
  key: string;
  namespace: string;
  /** Label values for metrics and logs. */
  service: string;
  revision: string;
  protocol: UpstreamProtocol;
  source: EndpointSource;
  /** Revision targets go through the activator (buffering, containerConcurrency). */
  activator: boolean;
  containerConcurrency: number;
  /** 0 = no timeout. */
  timeoutMs: number;
  readiness: ReadinessCheck;
  /** The revision this backend serves, with its annotations (autoscaling), if any. */
  revisionInfo?: RevisionInfo;
}

/** Flattened [name, value] pairs; names are lower-case. */
export type HeaderPairs = readonly (readonly [string, string])[];

export interface Split {
  backend: string; // BackendSpec.key
  percent: number;
  appendHeaders: HeaderPairs;
}

export interface Route {
  /** Literal path prefix; "" or "/" matches everything. */
  prefix: string;
  /** Exact header matches (name lower-case); an empty value means "present". All must match. */
  headers: HeaderPairs;
  appendHeaders: HeaderPairs;
  rewriteHost: string | null;
  /** Either proxy to `splits`, or hand the request to a built-in handler (e.g. "broker-ingress"). */
  handler: string | null;
  splits: readonly Split[];
  /** Running sums of percent for a weighted pick; last element is the total. */
  cumulative: readonly number[];
  /** Owning KIngress `ns/name`, for display and metrics. */
  ingress: string;
}

export interface VirtualHost {
  host: string;
  visibility: Visibility;
  httpOption: HTTPOption;
  /** Routes in match order: longest prefix first, then declaration order. */
  routes: readonly Route[];
  /** TLS secret `ns/name` for this host on this plane, if any. */
  tlsSecret: string | null;
}

export interface HostTable {
  /** Lower-case host without port or trailing dot → virtual host. */
  hosts: ReadonlyMap<string, VirtualHost>;
  /** A rule without hosts matches every host. */
  wildcard: VirtualHost | null;
}

export interface Snapshot {
  version: number;
  config: ClusterConfig;
  planes: Readonly<Record<Plane, HostTable>>;
  backends: ReadonlyMap<string, BackendSpec>;
  /** `ns/name` → PEM pair, for TLS. */
  secrets: ReadonlyMap<string, { cert: string; key: string }>;
  /** Eventing model compiled by src/eventing (opaque to the router). */
  eventing: unknown;
  problems: readonly Problem[];
  statuses: readonly ObjectStatus[];
}
