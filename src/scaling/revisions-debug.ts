// What /debug/revisions and `wharf routes` show per revision: desired and actual scale, panic mode, queue.
import { liveBackends, type BackendsImpl } from '../backends/index.js';

export interface RevisionDebug {
  key: string;
  namespace: string;
  service: string;
  revision: string;
  /** static | process | addresses | dns */
  source: string;
  containerConcurrency: number;
  /** Instances the KPA wants (process revisions), else the number of endpoints. */
  desiredScale: number;
  /** Ready instances / endpoints. */
  actualScale: number;
  /** Instances started but not yet ready. */
  starting: number;
  panic: boolean;
  queueDepth: number;
  queueBytes: number;
  inFlight: number;
  /** Current queued + in-flight requests (the activator's concurrency). */
  concurrency: number;
  /** served = requests granted to this endpoint so far. */
  endpoints: { origin: string; ready: boolean; inFlight: number; served: number }[];
  /** Process revisions: each instance's state, for cold-start measurements too. */
  instances?: { id: number; pid?: number; port: number; state: string; startupMs: number; restarts: number }[];
  autoscaler?: { metric: string; target: number; stableAverage: number; panicAverage: number; minScale: number; maxScale: number };
}

/** Every revision of the given backends (default: every live BackendsImpl in this process). */
export function revisionsDebug(backends: Iterable<BackendsImpl> = liveBackends): RevisionDebug[] {
  const out: RevisionDebug[] = [];
  for (const b of backends) {
    for (const key of b.keys()) {
      const t = b.throttler(key);
      if (!t) continue;
      const s = t.spec;
      const info = b.kpa?.info(key);
      const eps = t.endpoints();
      const pool = b.pool(key);
      out.push({
        key,
        namespace: s.namespace,
        service: s.service,
        revision: s.revision,
        source: s.source.kind,
        containerConcurrency: t.containerConcurrency,
        desiredScale: info ? info.desiredScale : eps.length,
        actualScale: info ? info.actualScale : t.readyCount,
        starting: info ? info.starting : 0,
        panic: info?.panic ?? false,
        queueDepth: t.queueDepth,
        queueBytes: t.queueBytes,
        inFlight: t.inFlightCount,
        concurrency: t.stats.concurrency,
        endpoints: eps.map((e) => ({ origin: e.origin, ready: e.ready, inFlight: e.inFlight, served: e.served })),
        instances: pool?.instances.map((i) => ({ id: i.id, pid: i.pid, port: i.port, state: i.state, startupMs: i.startupMs, restarts: i.restarts })),
        autoscaler: info
          ? { metric: info.metric, target: info.target, stableAverage: info.stableAverage, panicAverage: info.panicAverage, minScale: info.minScale, maxScale: info.maxScale }
          : undefined,
      });
    }
  }
  out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}
