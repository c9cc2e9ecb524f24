// Eventing metrics, registered once on the process registry. Labels stay low-cardinality: namespace/broker and
// trigger keys come from configuration, never from event content.
import { Counter, Gauge, Histogram } from 'prom-client';
import { durationBuckets, registry } from '../observability/metrics.js';

export const brokerEvents = new Counter({
  name: 'wharf_broker_events_total',
  help: 'Events received by a broker or channel ingress, by result (accepted, rejected, unknown, too_large, storage_error, ttl_exhausted).',
  labelNames: ['namespace', 'broker', 'result'] as const,
  registers: [registry],
});

export const triggerDeliveries = new Counter({
  name: 'wharf_trigger_deliveries_total',
  help: 'Delivery attempts to a trigger/subscription subscriber, by response code class (error = transport error or timeout).',
  labelNames: ['trigger', 'code_class'] as const,
  registers: [registry],
});

export const triggerDeliveryDuration = new Histogram({
  name: 'wharf_trigger_delivery_duration_seconds',
  help: 'Duration of one delivery attempt to a subscriber.',
  labelNames: ['trigger'] as const,
  buckets: durationBuckets,
  registers: [registry],
});

export const triggerLag = new Gauge({
  name: 'wharf_trigger_lag_events',
  help: 'Events in the log not yet finished by a trigger/subscription (log end minus its cursor).',
  labelNames: ['trigger'] as const,
  registers: [registry],
});

export const brokerLogBytes = new Gauge({
  name: 'wharf_broker_log_bytes',
  help: 'Bytes on disk in the durable log of a broker or channel.',
  labelNames: ['namespace', 'broker'] as const,
  registers: [registry],
});

export const deadLetters = new Counter({
  name: 'wharf_trigger_dead_letter_total',
  help: 'Events that exhausted their retries: sent to the dead-letter sink (result=sent), or dropped (no sink, or the sink failed too).',
  labelNames: ['trigger', 'result'] as const,
  registers: [registry],
});

export const logErrors = new Counter({
  name: 'wharf_broker_log_errors_total',
  help: 'Failed log commits (events answered 503), by errno code; ENOSPC = disk full.',
  labelNames: ['namespace', 'broker', 'code'] as const,
  registers: [registry],
});

export const pingEvents = new Counter({
  name: 'wharf_pingsource_events_total',
  help: 'PingSource ticks, by result (sent, failed).',
  labelNames: ['pingsource', 'result'] as const,
  registers: [registry],
});
