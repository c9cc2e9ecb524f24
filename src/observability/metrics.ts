// The process-wide Prometheus registry. Capabilities register their own metrics here at import time, with
// seconds for durations and low-cardinality labels (never a path, a pod IP or a request id).
import { Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'wharf_process_' });

/** Buckets in seconds, as OpenTelemetry's http.server.request.duration. */
export const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export function codeClass(status: number): string {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : status >= 200 ? '2xx' : '1xx';
}
