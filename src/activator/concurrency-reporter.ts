// Knative's activator ConcurrencyReporter: every tick (1 s) each revision with a live stats entry reports its
// time-weighted concurrency (queued + in flight) and arrival count to every StatSink, all in one batch. The
// first request to an idle revision sends an immediate "poke" (concurrency 1, count 1) that the next tick
// subtracts; an entry is dropped after a tick with zero average and nothing in flight (that zero is still sent).
import type { StatSink, RevisionStat } from '../scaling/stat-sink.js';
import { monotonicMs, type Clock, type Throttler, type ThrottlerObserver } from './throttler.js';

export class ConcurrencyReporter implements ThrottlerObserver {
  private readonly throttlers = new Set<Throttler>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sinks: StatSink[],
    private readonly clock: Clock = monotonicMs,
    private readonly wallClock: () => number = Date.now,
    private readonly intervalMs = 1000,
  ) {}

  addSink(s: StatSink): void {
    this.sinks.push(s);
  }

  /** Only revision targets report (plain Services are not autoscaled). */
  add(t: Throttler): void {
    this.throttlers.add(t);
    t.observer = this;
  }

  remove(t: Throttler): void {
    this.throttlers.delete(t);
    if (t.observer === this) t.observer = null;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  firstRequest(t: Throttler): void {
    t.pokePending = true;
    const stat: RevisionStat = {
      namespace: t.spec.namespace,
      name: t.spec.revision,
      averageConcurrentRequests: 1,
      requestCount: 1,
      poke: true,
      timestampMs: this.wallClock(),
    };
    for (const s of this.sinks) {
      s.record(t.key, stat);
      s.flush?.();
    }
  }

  /** One reporting period: exposed so tests drive it with an injected clock. */
  tick(): void {
    const now = this.clock();
    const wall = this.wallClock();
    let any = false;
    for (const t of this.throttlers) {
      if (!t.statsLive) continue;
      const r = t.stats.report(now);
      let avg = r.averageConcurrency;
      let count = r.requestCount;
      if (t.pokePending) {
        t.pokePending = false;
        avg = Math.max(0, avg - 1);
        count = Math.max(0, count - 1);
      }
      if (r.averageConcurrency === 0 && t.stats.concurrency === 0) t.statsLive = false;
      const stat: RevisionStat = { namespace: t.spec.namespace, name: t.spec.revision, averageConcurrentRequests: avg, requestCount: count, poke: false, timestampMs: wall };
      for (const s of this.sinks) s.record(t.key, stat);
      any = true;
    }
    if (any) for (const s of this.sinks) s.flush?.();
  }
}
