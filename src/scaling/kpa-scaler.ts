// The built-in KPA for standalone mode: a StatSink that keeps each process-backed revision's per-second
// metric buckets, decides every tick (Knative: 2 s) — or at once on a poke while at zero — and sets the
// revision's process count. Scale from zero: the poke for the first queued request starts a process.
import type { Logger } from 'pino';
import type { Throttler } from '../activator/throttler.js';
import type { ProcessPool } from '../backends/process-runner.js';
import type { ProcessScaler } from '../backends/index.js';
import { child } from '../observability/logger.js';
import type { RevisionStat, StatSink } from './stat-sink.js';
import { DEFAULT_AUTOSCALER_CONFIG, scalingSpecFor, type AutoscalerConfig, type ScalingSpec } from './autoscaler-config.js';
import { boundScale, decide, initialDeciderState, type ActivityState, type DeciderState } from './kpa.js';
import { MetricWindow } from './metric-window.js';

export interface KpaScalerOptions {
  logger?: Logger;
  /** Decision period (Knative's tickInterval, 2 s). */
  tickMs?: number;
  /** Wall clock, ms. */
  now?: () => number;
  config?: AutoscalerConfig;
}

interface Rev {
  key: string;
  throttler: Throttler;
  pool: ProcessPool;
  spec: ScalingSpec;
  specSource: string;
  window: MetricWindow;
  decider: DeciderState;
  activity: ActivityState;
  desired: number;
  scale: number;
  panicking: boolean;
  stable: number;
  panic: number;
  excessBurstCapacity: number;
}

export interface ScalerInfo {
  desiredScale: number;
  actualScale: number;
  starting: number;
  panic: boolean;
  stableAverage: number;
  panicAverage: number;
  metric: 'concurrency' | 'rps';
  target: number;
  minScale: number;
  maxScale: number;
}

export class KpaScaler implements StatSink, ProcessScaler {
  private readonly revs = new Map<string, Rev>();
  private config: AutoscalerConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: KpaScalerOptions = {}) {
    this.log = opts.logger ?? child('kpa');
    this.now = opts.now ?? Date.now;
    this.config = opts.config ?? DEFAULT_AUTOSCALER_CONFIG;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  setConfig(cfg: AutoscalerConfig): void {
    // Every reload calls this: only re-derive (and re-warn) when the settings actually changed.
    if (JSON.stringify(cfg) === JSON.stringify(this.config)) return;
    this.config = cfg;
    for (const r of this.revs.values()) this.refreshSpec(r, true);
  }

  // ---- ProcessScaler ---------------------------------------------------------------------------------------

  attach(t: Throttler, pool: ProcessPool): void {
    const spec = this.specFor(t, true);
    const now = this.now();
    const initial = Math.max(spec.initialScale, spec.minScale);
    const r: Rev = {
      key: t.key,
      throttler: t,
      pool,
      spec,
      specSource: specSource(t),
      window: new MetricWindow(Math.ceil(spec.stableWindowMs / 1000)),
      decider: initialDeciderState(),
      activity: { activeSince: initial > 0 ? now : null, inactiveSince: null, initialized: initial === 0 },
      desired: initial,
      scale: initial,
      panicking: false,
      stable: 0,
      panic: 0,
      excessBurstCapacity: 0,
    };
    this.revs.set(t.key, r);
    pool.onInstanceReady = () => {
      if (!r.activity.initialized && pool.readyCount >= r.spec.initialScale) r.activity = { ...r.activity, initialized: true };
    };
    pool.setScale(initial);
  }

  update(t: Throttler): void {
    const r = this.revs.get(t.key);
    if (r) this.refreshSpec(r, false);
  }

  detach(t: Throttler): void {
    this.revs.delete(t.key);
  }

  // ---- StatSink --------------------------------------------------------------------------------------------

  record(key: string, stat: RevisionStat): void {
    const r = this.revs.get(key);
    if (!r) return;
    r.window.record(stat.timestampMs, r.spec.metric === 'rps' ? stat.requestCount : stat.averageConcurrentRequests);
    // Knative's poke: a stat with demand for a revision whose last decision was 0 is acted on at once.
    if (r.desired === 0 && stat.averageConcurrentRequests > 0) this.evaluate(r);
  }

  // ---- decisions ---------------------------------------------------------------------------------------------

  tick(): void {
    for (const r of this.revs.values()) this.evaluate(r);
  }

  private evaluate(r: Rev): void {
    const now = this.now();
    const s = r.spec;
    r.stable = r.window.average(now, Math.ceil(s.stableWindowMs / 1000));
    r.panic = r.window.average(now, Math.ceil(s.panicWindowMs / 1000));
    const ready = r.pool.readyCount;
    const d = decide(s, r.decider, { now, readyPods: ready, stable: r.stable, panic: r.panic });
    r.decider = d.state;
    r.desired = d.desired;
    r.panicking = d.panicking;
    r.excessBurstCapacity = d.excessBurstCapacity;
    const current = r.pool.activeCount;
    const b = boundScale(s, r.activity, { now, want: d.desired, current, busy: r.throttler.stats.concurrency > 0 });
    r.activity = b.state;
    if (b.scale !== r.scale || b.scale !== current) {
      if (b.scale !== current) {
        this.log.info(
          { revision: r.throttler.spec.revision, namespace: r.throttler.spec.namespace, from: current, to: b.scale, stable: round(r.stable), panic: round(r.panic), panicking: r.panicking },
          'scaling revision',
        );
      }
      r.scale = b.scale;
      r.pool.setScale(b.scale);
    }
  }

  info(key: string): ScalerInfo | undefined {
    const r = this.revs.get(key);
    if (!r) return undefined;
    return {
      desiredScale: r.scale,
      actualScale: r.pool.readyCount,
      starting: r.pool.activeCount - r.pool.readyCount,
      panic: r.panicking,
      stableAverage: round(r.stable),
      panicAverage: round(r.panic),
      metric: r.spec.metric,
      target: r.spec.targetValue,
      minScale: r.spec.minScale,
      maxScale: r.spec.maxScale,
    };
  }

  private specFor(t: Throttler, warn: boolean): ScalingSpec {
    const info = t.spec.revisionInfo;
    return scalingSpecFor(info?.annotations ?? {}, t.spec.containerConcurrency, this.config, (m) => {
      if (warn) this.log.warn({ revision: t.spec.revision, namespace: t.spec.namespace }, m);
    });
  }

  private refreshSpec(r: Rev, force: boolean): void {
    const src = specSource(r.throttler);
    if (!force && src === r.specSource) return;
    r.specSource = src;
    const before = r.spec.stableWindowMs;
    r.spec = this.specFor(r.throttler, true);
    if (r.spec.stableWindowMs !== before) r.window = new MetricWindow(Math.ceil(r.spec.stableWindowMs / 1000));
  }
}

function specSource(t: Throttler): string {
  return JSON.stringify([t.spec.revisionInfo?.annotations ?? {}, t.spec.containerConcurrency]);
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
