// Data-plane metrics. Request counts and durations are recorded into plain per-(backend, plane) accumulators that
// are bound once per snapshot swap, and rendered by custom collectors at scrape time: prom-client's own labels()
// children still hash the label object on every call, which is measurable at proxy request rates.
import { Counter, Gauge } from 'prom-client';
import { registry, durationBuckets } from '../observability/metrics.js';
import type { BackendSpec, Plane, Snapshot } from '../model/snapshot.js';

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface Labels {
  plane: Plane;
  namespace: string;
  service: string;
  revision: string;
}

/** Counts and a duration histogram for one label set; the hot path only does array arithmetic. */
export class RequestStats {
  readonly counts = new Float64Array(5);
  readonly buckets = new Float64Array(durationBuckets.length);
  sum = 0;
  count = 0;
  constructor(readonly labels: Labels) {}

  record(status: number, seconds: number): void {
    let c = (status / 100) | 0;
    c = c < 1 ? 0 : c > 5 ? 4 : c - 1;
    this.counts[c]++;
    this.sum += seconds;
    this.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= durationBuckets[i]) {
        b[i]++;
        break;
      }
    }
  }
}

/** Stats per backend key for both planes, plus the "no backend" series (404s, 400s, local handlers). */
export interface BoundStats {
  external: RequestStats;
  internal: RequestStats;
}

export type UpstreamErrorKind = 'connect' | 'reset' | 'timeout' | 'no_endpoint' | 'protocol' | 'other';

const upstreamErrors = new Counter({
  name: 'wharf_upstream_errors_total',
  help: 'Requests that failed between wharf and the backend, by kind (connect, reset, timeout, no_endpoint, ...).',
  labelNames: ['namespace', 'service', 'revision', 'kind'] as const,
  registers: [registry],
});

export const configReloads = new Counter({
  name: 'wharf_config_reloads_total',
  help: 'Config reloads by result (success, error).',
  labelNames: ['result'] as const,
  registers: [registry],
});

const routesGauge = new Gauge({
  name: 'wharf_routes',
  help: 'Hosts served per plane in the live snapshot.',
  labelNames: ['plane'] as const,
  registers: [registry],
});

class ProxyMetrics {
  private bound = new Map<string, BoundStats>();
  /** Every exported series set, by label values (includes `none`). */
  private byLabels = new Map<string, BoundStats>();
  readonly none: BoundStats = {
    external: new RequestStats({ plane: 'external', namespace: '', service: '', revision: '' }),
    internal: new RequestStats({ plane: 'internal', namespace: '', service: '', revision: '' }),
  };

  constructor() {
    this.byLabels.set(labelKey(this.none.external.labels), this.none);
    const self = this;
    registry.registerMetric({
      name: 'wharf_requests_total',
      help: 'Requests served, by plane, backend and response code class.',
      type: 'counter',
      aggregator: 'sum',
      get: () => ({
        name: 'wharf_requests_total',
        help: 'Requests served, by plane, backend and response code class.',
        type: 'counter',
        aggregator: 'sum',
        values: self.requestValues(),
      }),
    } as never);
    registry.registerMetric({
      name: 'wharf_request_duration_seconds',
      help: 'Time from request start to response end, in seconds.',
      type: 'histogram',
      aggregator: 'sum',
      get: () => ({
        name: 'wharf_request_duration_seconds',
        help: 'Time from request start to response end, in seconds.',
        type: 'histogram',
        aggregator: 'sum',
        values: self.durationValues(),
      }),
    } as never);
  }

  /**
   * Called at each snapshot swap: keep stats of backends that still exist, add new ones, drop the rest. Backends with
   * the same label values share one series (two keys may name the same revision), so no series is exported twice.
   */
  bind(snapshot: Snapshot): void {
    const next = new Map<string, BoundStats>();
    const byLabels = new Map<string, BoundStats>([[labelKey(this.none.external.labels), this.none]]);
    for (const [key, spec] of snapshot.backends) {
      const lk = labelKey(spec);
      let b = byLabels.get(lk);
      if (b === undefined) {
        const prev = this.bound.get(key);
        b = (prev && labelKey(prev.external.labels) === lk ? prev : this.byLabels.get(lk)) ?? makeBound(spec);
        byLabels.set(lk, b);
      }
      next.set(key, b);
    }
    this.bound = next;
    this.byLabels = byLabels;
    routesGauge.set({ plane: 'external' }, snapshot.planes.external.hosts.size);
    routesGauge.set({ plane: 'internal' }, snapshot.planes.internal.hosts.size);
  }

  /** Stats for a backend key (bound at swap; a key that was never bound gets its series now, e.g. in tests). */
  forBackend(key: string, spec: BackendSpec): BoundStats {
    let b = this.bound.get(key);
    if (b === undefined) {
      const lk = labelKey(spec);
      b = this.byLabels.get(lk) ?? makeBound(spec);
      this.byLabels.set(lk, b);
      this.bound.set(key, b);
    }
    return b;
  }

  upstreamError(spec: BackendSpec | null, kind: UpstreamErrorKind): void {
    upstreamErrors.inc({ namespace: spec?.namespace ?? '', service: spec?.service ?? '', revision: spec?.revision ?? '', kind });
  }

  private *all(): Iterable<RequestStats> {
    for (const b of this.byLabels.values()) {
      yield b.external;
      yield b.internal;
    }
  }

  private requestValues() {
    const out: { labels: Record<string, string>; value: number }[] = [];
    for (const s of this.all()) {
      for (let i = 0; i < 5; i++) {
        if (s.counts[i] > 0) out.push({ labels: { ...s.labels, code_class: CLASSES[i] }, value: s.counts[i] });
      }
    }
    return out;
  }

  private durationValues() {
    const out: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.all()) {
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < durationBuckets.length; i++) {
        acc += s.buckets[i];
        out.push({ labels: { ...s.labels, le: durationBuckets[i] }, value: acc, metricName: 'wharf_request_duration_seconds_bucket' });
      }
      out.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: 'wharf_request_duration_seconds_bucket' });
      out.push({ labels: { ...s.labels }, value: s.sum, metricName: 'wharf_request_duration_seconds_sum' });
      out.push({ labels: { ...s.labels }, value: s.count, metricName: 'wharf_request_duration_seconds_count' });
    }
    return out;
  }
}

function labelKey(l: { namespace: string; service: string; revision: string }): string {
  return `${l.namespace}\u0000${l.service}\u0000${l.revision}`;
}

function makeBound(spec: BackendSpec): BoundStats {
  const base = { namespace: spec.namespace, service: spec.service, revision: spec.revision };
  return {
    external: new RequestStats({ plane: 'external', ...base }),
    internal: new RequestStats({ plane: 'internal', ...base }),
  };
}

/** One instance per process: the registry is process-wide. */
export const proxyMetrics = new ProxyMetrics();
