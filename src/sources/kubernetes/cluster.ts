// Everything wharf runs in a cluster besides the data plane: the Source, the Lease-based leader election, the
// readiness prober and the status writer, wired together. The runtime hooks it in with
//   const k = new KubernetesCluster({...}); runtime = new Runtime({ source: k.source, ... });
//   runtime.onSwap((snap) => k.onSwap(snap)); await runtime.start(); k.start();
import { hostname } from 'node:os';
import type { KObject, Problem } from '../../model/objects.js';
import { DEFAULT_NAMESPACE, INTERNAL_SERVICE, LABEL_SERVICE_NAME, LEASE_NAME, PORTS, PUBLIC_SERVICE } from './constants.js';
import { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.js';
import { LeaderElector } from './leader.js';
import { IngressProber, type ProbeTarget } from './prober.js';
import { IngressStatusWriter } from './status.js';
import { EventingStatusWriter } from './eventing-status.js';

export interface KubernetesClusterOptions extends KubernetesSourceOptions {
  /** This replica's identity for the Lease (default: POD_NAME or the hostname). */
  identity?: string;
  /** The gateway pods to probe; default: ready addresses of the `wharf-internal` Service's EndpointSlices. */
  probeTargets?: () => ProbeTarget[];
  /** Ports probed on a gateway pod whose EndpointSlices name none (default 8080 external, 8081 internal). */
  probePorts?: { external: number; internal: number };
  leaseName?: string;
  /** Told when this replica gains or loses the Lease (e.g. so only the leader fires PingSources). */
  onLeadershipChange?: (leader: boolean) => void;
  leaseDurationSeconds?: number;
  leaseRetryMs?: number;
  probeInitialDelayMs?: number;
  probeMaxDelayMs?: number;
}

export class KubernetesCluster {
  readonly source: KubernetesSource;
  readonly elector: LeaderElector;
  readonly prober: IngressProber;
  readonly status: IngressStatusWriter;
  readonly eventingStatus: EventingStatusWriter;
  readonly identity: string;

  constructor(opts: KubernetesClusterOptions) {
    this.source = new KubernetesSource(opts);
    const ns = opts.namespace ?? DEFAULT_NAMESPACE;
    const ports = opts.probePorts ?? { external: PORTS.externalHttp, internal: PORTS.internalHttp };
    const targets = opts.probeTargets ?? ((): ProbeTarget[] => gatewayTargets(this.source.reflectors.endpointSlices!.list(), ns, ports));
    this.prober = new IngressProber({
      targets,
      onReady: () => this.status.kick(),
      initialDelayMs: opts.probeInitialDelayMs,
      maxDelayMs: opts.probeMaxDelayMs,
    });
    this.identity = opts.identity ?? process.env.POD_NAME ?? hostname();
    this.elector = new LeaderElector(this.source.client, {
      namespace: ns,
      name: opts.leaseName ?? LEASE_NAME,
      identity: this.identity,
      leaseDurationSeconds: opts.leaseDurationSeconds,
      retryMs: opts.leaseRetryMs,
      onStartedLeading: () => {
        this.status.kick();
        this.eventingStatus.kick();
        opts.onLeadershipChange?.(true);
      },
      // Only the leader probes: a replica that lost the Lease drops its rounds.
      onStoppedLeading: () => {
        this.prober.retain(new Set());
        opts.onLeadershipChange?.(false);
      },
    });
    this.status = new IngressStatusWriter({
      source: this.source,
      elector: this.elector,
      prober: this.prober,
      namespace: ns,
      clusterDomain: opts.clusterDomain,
    });
    this.eventingStatus = new EventingStatusWriter(this.source, this.elector, { namespace: ns, clusterDomain: opts.clusterDomain });
  }

  /** Call from runtime.onSwap: the config the source emitted last is now live on this replica. */
  onSwap(snapshot: { problems: readonly Problem[]; eventing?: unknown }): void {
    this.status.observe(this.source.lastEmitted(), snapshot.problems);
    this.eventingStatus.observe(snapshot.eventing);
  }

  /**
   * Hook into the runtime: follow its swaps and serve /debug/kubernetes. (Equivalent to
   * runtime.onSwap((s) => cluster.onSwap(s)) plus the debug endpoint.)
   */
  attach(runtime: { onSwap(fn: (next: { problems: readonly Problem[]; eventing?: unknown }) => void): void; registerDebug(path: string, fn: () => unknown): void }): void {
    runtime.onSwap((s) => this.onSwap(s));
    runtime.registerDebug('/debug/kubernetes', () => this.debug());
  }

  /** Leader, watches and the ingress versions live on this replica with their probe state. */
  debug(): unknown {
    const watches: Record<string, unknown> = {};
    for (const [name, r] of Object.entries(this.source.reflectors)) if (r) watches[name] = r.describe();
    const ingresses: Record<string, unknown> = {};
    for (const [k, v] of this.source.lastEmitted()) ingresses[k] = { generation: v.generation, hash: v.hash, probed: this.prober.isReady(k, v.hash) };
    return { identity: this.identity, leader: this.elector.isLeader, ingressClass: this.source.ingressClass, namespace: this.source.namespace, watches, ingresses };
  }

  /** Start campaigning for the Lease (after the runtime started, i.e. the first config is live). */
  start(): void {
    this.elector.start();
  }

  async stop(): Promise<void> {
    this.status.stop();
    this.prober.stop();
    await this.elector.stop();
    await this.source.stop();
  }
}

type Slice = { metadata: KObject['metadata']; endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[]; ports?: { name?: string; port?: number }[] };

/** Ready pod IPs behind the internal gateway Service. */
export function gatewayPods(slices: KObject[], namespace: string, service = INTERNAL_SERVICE): string[] {
  return [...podPorts(slices, namespace, service).keys()].sort();
}

/** Ready pod IP → the plain-HTTP port (slice port named http2/http, else the first non-https one) of a Service. */
function podPorts(slices: KObject[], namespace: string, service: string): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  for (const s of slices as unknown as Slice[]) {
    if (s.metadata.namespace !== namespace || s.metadata.labels?.[LABEL_SERVICE_NAME] !== service) continue;
    const ports = s.ports ?? [];
    const port = (ports.find((p) => p.name === 'http2' || p.name === 'http') ?? ports.find((p) => p.name !== 'https'))?.port;
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const a of e.addresses ?? []) if (!out.has(a) || out.get(a) === undefined) out.set(a, port);
    }
  }
  return out;
}

/**
 * The gateway pods to probe: every ready pod of the internal Service, on the ports the Services' EndpointSlices
 * carry (so custom --http-port/--internal-http-port need no extra setting); `fallback` where a slice has none.
 */
export function gatewayTargets(slices: KObject[], namespace: string, fallback: { external: number; internal: number }, services = { public: PUBLIC_SERVICE, internal: INTERNAL_SERVICE }): ProbeTarget[] {
  const internal = podPorts(slices, namespace, services.internal);
  const external = podPorts(slices, namespace, services.public);
  return [...internal.keys()].sort().map((ip) => ({ ip, internalPort: internal.get(ip) ?? fallback.internal, externalPort: external.get(ip) ?? fallback.external }));
}
