// Everything wharf runs in a cluster besides the data plane: the Source, the Lease-based leader election, the
// readiness prober and the status writer, wired together. The runtime hooks it in with
//   const k = new KubernetesCluster({...}); runtime = new Runtime({ source: k.source, ... });
//   runtime.onSwap((snap) => k.onSwap(snap)); await runtime.start(); k.start();
import { hostname } from 'node:os';
import type { KObject, Problem } from '../../model/objects.js';
import { DEFAULT_NAMESPACE, INTERNAL_SERVICE, LABEL_SERVICE_NAME, LEASE_NAME, PORTS } from './constants.js';
import { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.js';
import { LeaderElector } from './leader.js';
import { IngressProber, type ProbeTarget } from './prober.js';
import { IngressStatusWriter } from './status.js';
import { EventingStatusWriter } from './eventing-status.js';

export interface KubernetesClusterOptions extends KubernetesSourceOptions {
  /** This replica's identity for the Lease (default: POD_NAME or the hostname). */
  identity?: string;
  clusterDomain?: string;
  /** The gateway pods to probe; default: ready addresses of the `wharf-internal` Service's EndpointSlices. */
  probeTargets?: () => ProbeTarget[];
  /** Ports probed on each gateway pod (default 8080 external, 8081 internal). */
  probePorts?: { external: number; internal: number };
  leaseName?: string;
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

  constructor(opts: KubernetesClusterOptions) {
    this.source = new KubernetesSource(opts);
    const ns = opts.namespace ?? DEFAULT_NAMESPACE;
    const ports = opts.probePorts ?? { external: PORTS.externalHttp, internal: PORTS.internalHttp };
    const targets =
      opts.probeTargets ??
      ((): ProbeTarget[] => gatewayPods(this.source.reflectors.endpointSlices!.list(), ns).map((ip) => ({ ip, externalPort: ports.external, internalPort: ports.internal })));
    this.prober = new IngressProber({
      targets,
      onReady: () => this.status.kick(),
      initialDelayMs: opts.probeInitialDelayMs,
      maxDelayMs: opts.probeMaxDelayMs,
    });
    this.elector = new LeaderElector(this.source.client, {
      namespace: ns,
      name: opts.leaseName ?? LEASE_NAME,
      identity: opts.identity ?? process.env.POD_NAME ?? hostname(),
      leaseDurationSeconds: opts.leaseDurationSeconds,
      retryMs: opts.leaseRetryMs,
      onStartedLeading: () => {
        this.status.kick();
        this.eventingStatus.kick();
      },
      // Only the leader probes: a replica that lost the Lease drops its rounds.
      onStoppedLeading: () => this.prober.retain(new Set()),
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
  onSwap(snapshot: { problems: readonly Problem[] }): void {
    this.status.observe(this.source.lastEmitted(), snapshot.problems);
    this.eventingStatus.kick();
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

/** Ready pod IPs behind the internal gateway Service. */
export function gatewayPods(slices: KObject[], namespace: string, service = INTERNAL_SERVICE): string[] {
  const ips = new Set<string>();
  for (const s of slices) {
    if (s.metadata.namespace !== namespace || s.metadata.labels?.[LABEL_SERVICE_NAME] !== service) continue;
    for (const e of (s as { endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[] }).endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const a of e.addresses ?? []) ips.add(a);
    }
  }
  return [...ips].sort();
}
