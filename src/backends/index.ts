// createBackends(): owns one Throttler (the Target) per BackendSpec key plus whatever feeds it endpoints —
// resolved static upstreams, local processes, cluster addresses. sync() diffs snapshots by key: new keys are
// created, changed specs are updated in place (the queue survives a reload), removed keys are drained and stopped.
import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { BackendSpec } from '../model/snapshot.js';
import type { Backends, Target } from './types.js';
import { child } from '../observability/logger.js';
import { DEFAULT_QUEUE_LIMITS, Throttler, monotonicMs, type Clock, type QueueLimits } from '../activator/throttler.js';
import { addGaugeSource, removeGaugeSource, type ThrottlerGaugeSource } from '../activator/metrics.js';
import { ProcessPool } from './process-runner.js';
import { StaticUpstreams, systemLookup, type LookupAll } from './static-upstreams.js';
import { AddressList } from './address-list.js';
import { registerConfigKeys, type ClusterConfig } from '../model/config.js';
import { ConcurrencyReporter } from '../activator/concurrency-reporter.js';
import type { StatSink } from '../scaling/stat-sink.js';
import { KpaScaler } from '../scaling/kpa-scaler.js';
import { parseAutoscalerConfig } from '../scaling/autoscaler-config.js';
import { AutoscalerStatClient } from '../scaling/autoscaler-client.js';

export interface BackendsOptions {
  dataDir?: string;
  logger?: Logger;
  /** Activator queue bounds (config-wharf `activator-queue-max-requests` / `activator-queue-max-bytes`). */
  queueLimits?: Partial<QueueLimits>;
  /** Host name lookup for static upstreams (tests inject one). */
  lookup?: LookupAll;
  /** Static upstream re-resolution period. */
  resolveIntervalMs?: number;
  /** SIGTERM → SIGKILL grace for revision processes. */
  killGraceMs?: number;
  /** Longest wait for in-flight requests before a process is stopped. */
  drainTimeoutMs?: number;
  clock?: Clock;
  /**
   * Drives the instance count of process-backed revisions. Default: the built-in KPA (unless `autoscale` is
   * false, in which case every process revision runs exactly one instance).
   */
  processScaler?: ProcessScaler;
  /** Run the built-in KPA for process-backed revisions (default true). */
  autoscale?: boolean;
  /** KPA decision period (default 2000 ms, Knative's tick). */
  autoscaleTickMs?: number;
  /** Stats reporting period (default 1000 ms, Knative's activator). */
  statIntervalMs?: number;
  /** Extra stat sinks (every activator revision's concurrency goes to each). */
  statSinks?: StatSink[];
  /** Cluster mode: stream stats to Knative's autoscaler at this ws:// URL. */
  autoscalerUrl?: string;
  /** Stat.pod_name for the autoscaler stream (default: env POD_NAME or the host name). */
  podName?: string;
  /** Wall clock for stats and the KPA (tests). */
  wallClock?: () => number;
}

/** Drives the instance count of process-backed revisions (the built-in KPA plugs in here). */
export interface ProcessScaler {
  attach(t: Throttler, pool: ProcessPool): void;
  update?(t: Throttler, pool: ProcessPool): void;
  detach(t: Throttler, pool: ProcessPool): void;
}

interface Feed {
  update(spec: BackendSpec): void;
  stop(): Promise<void>;
}

interface Live {
  throttler: Throttler;
  feed: Feed;
  kind: BackendSpec['source']['kind'];
  pool: ProcessPool | null;
}

export class BackendsImpl implements Backends, ThrottlerGaugeSource {
  private readonly live = new Map<string, Live>();
  private readonly log: Logger;
  private limits: QueueLimits;
  private closed = false;
  private readonly stopping = new Set<Promise<void>>();
  readonly reporter: ConcurrencyReporter;
  /** The built-in KPA, when autoscaling is on. */
  readonly kpa: KpaScaler | null;
  readonly statClient: AutoscalerStatClient | null;
  private readonly scaler: ProcessScaler | null;
  private dispatchers: ((origin: string, protocol: 'http1' | 'h2c') => Dispatcher | null) | null = null;

  constructor(private readonly opts: BackendsOptions = {}) {
    this.log = opts.logger ?? child('backends');
    this.limits = { ...DEFAULT_QUEUE_LIMITS, ...opts.queueLimits };
    const sinks: StatSink[] = [...(opts.statSinks ?? [])];
    this.kpa = opts.processScaler || opts.autoscale === false ? null : new KpaScaler({ logger: this.log.child({ component: 'kpa' }), tickMs: opts.autoscaleTickMs, now: opts.wallClock });
    if (this.kpa) {
      sinks.push(this.kpa);
      this.kpa.start();
    }
    this.scaler = opts.processScaler ?? this.kpa;
    this.statClient = opts.autoscalerUrl
      ? new AutoscalerStatClient({ url: opts.autoscalerUrl, podName: opts.podName ?? process.env.POD_NAME ?? osHostname(), logger: this.log.child({ component: 'autoscaler-client' }) })
      : null;
    if (this.statClient) {
      sinks.push(this.statClient);
      this.statClient.start();
    }
    this.reporter = new ConcurrencyReporter(sinks, opts.clock ?? monotonicMs, opts.wallClock ?? Date.now, opts.statIntervalMs ?? 1000);
    this.reporter.start();
    addGaugeSource(this);
    liveBackends.add(this);
  }

  /**
   * Cluster-wide settings from the snapshot: config-autoscaler for the KPA, config-wharf
   * `activator-queue-max-requests` / `activator-queue-max-bytes` for the queue bounds. Call before sync().
   */
  configure(config: ClusterConfig): void {
    this.kpa?.setConfig(parseAutoscalerConfig(config.raw['config-autoscaler'], (m) => this.log.warn(m)));
    const w = config.raw['config-wharf'] ?? {};
    const lim: Partial<QueueLimits> = {};
    const maxReq = Number(w['activator-queue-max-requests']);
    if (w['activator-queue-max-requests'] !== undefined) {
      if (Number.isInteger(maxReq) && maxReq >= 0) lim.maxRequests = maxReq;
      else this.log.warn(`config-wharf activator-queue-max-requests: "${w['activator-queue-max-requests']}" is not an integer ≥ 0; ignored`);
    }
    const maxBytes = Number(w['activator-queue-max-bytes']);
    if (w['activator-queue-max-bytes'] !== undefined) {
      if (Number.isInteger(maxBytes) && maxBytes >= 0) lim.maxBytes = maxBytes;
      else this.log.warn(`config-wharf activator-queue-max-bytes: "${w['activator-queue-max-bytes']}" is not an integer ≥ 0; ignored`);
    }
    this.setQueueLimits(lim);
  }

  useDispatchers(get: (origin: string, protocol: 'http1' | 'h2c') => Dispatcher | null): void {
    this.dispatchers = get;
  }

  sync(specs: ReadonlyMap<string, BackendSpec>): void {
    if (this.closed) return;
    for (const [key, spec] of specs) {
      const cur = this.live.get(key);
      if (!cur) {
        this.live.set(key, this.create(spec));
        continue;
      }
      cur.throttler.updateSpec(spec);
      if (cur.kind !== spec.source.kind) {
        // A different kind of backend: new feed, same throttler (queued requests wait for the new endpoints).
        this.retire(cur);
        const fresh = this.createFeed(spec, cur.throttler);
        cur.feed = fresh.feed;
        cur.pool = fresh.pool;
        cur.kind = spec.source.kind;
      } else {
        cur.feed.update(spec);
        if (cur.pool) this.scaler?.update?.(cur.throttler, cur.pool);
      }
    }
    for (const [key, cur] of this.live) {
      if (specs.has(key)) continue;
      this.live.delete(key);
      this.reporter.remove(cur.throttler);
      cur.throttler.close();
      this.retire(cur);
    }
  }

  get(key: string): Target | undefined {
    return this.live.get(key)?.throttler;
  }

  /** The throttler for a key (tests, debug, the scaler). */
  throttler(key: string): Throttler | undefined {
    return this.live.get(key)?.throttler;
  }

  pool(key: string): ProcessPool | undefined {
    return this.live.get(key)?.pool ?? undefined;
  }

  keys(): string[] {
    return [...this.live.keys()];
  }

  setQueueLimits(limits: Partial<QueueLimits>): void {
    this.limits = { ...this.limits, ...limits };
    for (const l of this.live.values()) l.throttler.setLimits(this.limits);
  }

  forEachThrottler(fn: (labels: { namespace: string; service: string; revision: string }, concurrency: number, queue: number, ready: number) => void): void {
    for (const l of this.live.values()) {
      const t = l.throttler;
      const s = t.spec;
      fn({ namespace: s.namespace, service: s.service, revision: s.revision }, t.stats.concurrency, t.queueDepth, t.readyCount);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    removeGaugeSource(this);
    liveBackends.delete(this);
    this.reporter.stop();
    this.kpa?.stop();
    await this.statClient?.close();
    for (const cur of this.live.values()) {
      cur.throttler.close('shutting down');
      this.retire(cur);
    }
    this.live.clear();
    await Promise.all([...this.stopping]);
  }

  private create(spec: BackendSpec): Live {
    const throttler = new Throttler(spec, this.limits, this.opts.clock ?? monotonicMs);
    // Revisions report concurrency (Knative's activator only reports what it proxies for revisions).
    if (spec.activator || spec.source.kind === 'process') this.reporter.add(throttler);
    const { feed, pool } = this.createFeed(spec, throttler);
    return { throttler, feed, pool, kind: spec.source.kind };
  }

  private createFeed(spec: BackendSpec, throttler: Throttler): { feed: Feed; pool: ProcessPool | null } {
    const log = this.log.child({ backend: spec.key });
    switch (spec.source.kind) {
      case 'static':
        return { feed: new StaticUpstreams(spec, throttler, log, this.opts.lookup ?? systemLookup, this.opts.resolveIntervalMs ?? 30_000), pool: null };
      case 'process': {
        const pool = new ProcessPool(spec, throttler, {
          logger: this.log,
          killGraceMs: this.opts.killGraceMs,
          drainTimeoutMs: this.opts.drainTimeoutMs,
          dispatcher: (origin, protocol) => this.dispatchers?.(origin, protocol) ?? null,
        });
        if (this.scaler) this.scaler.attach(throttler, pool);
        else pool.setScale(1);
        return { feed: pool, pool };
      }
      case 'addresses':
      case 'dns':
        return { feed: new AddressList(spec, throttler, log), pool: null };
    }
  }

  private retire(cur: Live): void {
    if (cur.pool) this.scaler?.detach(cur.throttler, cur.pool);
    const p = cur.feed.stop().catch((err) => this.log.error({ err }, 'error stopping backend'));
    this.stopping.add(p);
    void p.finally(() => this.stopping.delete(p));
  }
}

/** config-wharf keys read by BackendsImpl.configure() (pass to parseConfig's knownExtraKeys so they are not warned about). */
export const BACKENDS_CONFIG_KEYS: Record<string, string[]> = {
  'config-wharf': ['activator-queue-max-requests', 'activator-queue-max-bytes'],
};
// Declared at load so the compiler knows them (no "unknown key" warning) and the README's key table lists them.
registerConfigKeys([
  { configMap: 'config-wharf', key: 'activator-queue-max-requests', default: String(DEFAULT_QUEUE_LIMITS.maxRequests), doc: 'Requests that may wait per revision (at zero or at containerConcurrency); past it 503 + Retry-After.' },
  { configMap: 'config-wharf', key: 'activator-queue-max-bytes', default: String(DEFAULT_QUEUE_LIMITS.maxBytes), doc: 'Request-body bytes (Content-Length) that may wait per revision; past it 503 + Retry-After.' },
]);

/** Every live BackendsImpl, for /debug/revisions. */
export const liveBackends = new Set<BackendsImpl>();

export function createBackends(opts: BackendsOptions = {}): BackendsImpl {
  return new BackendsImpl(opts);
}

export type { Backends, Target, Waiter, Endpoint } from './types.js';
export { Outcome } from './types.js';
export { Throttler } from '../activator/throttler.js';
