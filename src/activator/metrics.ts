// Activator metrics. Gauges are collected from the live throttlers at scrape time, so the request path only
// touches counters it already keeps.
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../observability/metrics.js';

export interface ThrottlerGaugeSource {
  forEachThrottler(fn: (labels: { namespace: string; service: string; revision: string }, concurrency: number, queue: number, ready: number) => void): void;
}

const sources = new Set<ThrottlerGaugeSource>();

export function addGaugeSource(s: ThrottlerGaugeSource): void {
  sources.add(s);
}
export function removeGaugeSource(s: ThrottlerGaugeSource): void {
  sources.delete(s);
}

const labelNames = ['namespace', 'service', 'revision'] as const;

new Gauge({
  name: 'wharf_revision_concurrency',
  help: 'Requests queued or in flight per revision (activator view)',
  labelNames,
  registers: [registry],
  collect() {
    this.reset();
    for (const s of sources) s.forEachThrottler((l, c) => this.set(l, c));
  },
});
new Gauge({
  name: 'wharf_revision_queue_depth',
  help: 'Requests waiting in the activator queue per revision',
  labelNames,
  registers: [registry],
  collect() {
    this.reset();
    for (const s of sources) s.forEachThrottler((l, _c, q) => this.set(l, q));
  },
});
new Gauge({
  name: 'wharf_revision_ready_backends',
  help: 'Ready endpoints per revision',
  labelNames,
  registers: [registry],
  collect() {
    this.reset();
    for (const s of sources) s.forEachThrottler((l, _c, _q, r) => this.set(l, r));
  },
});

export const queueWait = new Histogram({
  name: 'wharf_activator_queue_wait_seconds',
  help: 'Time requests spent queued in the activator before being granted an endpoint (queued requests only)',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const rejections = new Counter({
  name: 'wharf_activator_rejections_total',
  help: 'Requests the activator answered itself: queue_full, queue_bytes, timeout, no_backend, shutdown',
  labelNames: ['reason'] as const,
  registers: [registry],
});
export const rejectQueueFull = rejections.labels('queue_full');
export const rejectQueueBytes = rejections.labels('queue_bytes');
export const rejectTimeout = rejections.labels('timeout');
export const rejectNoBackend = rejections.labels('no_backend');
export const rejectShutdown = rejections.labels('shutdown');
