// Where per-revision concurrency stats go: the built-in KPA (standalone) or Knative's autoscaler over its
// WebSocket stat stream (cluster mode). The activator's ConcurrencyReporter feeds every sink the same stats.

export interface RevisionStat {
  namespace: string;
  /** Revision name. */
  name: string;
  /** Time-weighted average of queued + in-flight requests over the tick. */
  averageConcurrentRequests: number;
  /** Arrivals in the tick. */
  requestCount: number;
  /** The immediate stat sent for the first request to an idle revision (concurrency 1, count 1). */
  poke: boolean;
  /** Wall-clock time of the stat, ms since the epoch. */
  timestampMs: number;
}

export interface StatSink {
  /** One stat for one revision; `revisionKey` is the BackendSpec key (`rev:<ns>/<name>`). */
  record(revisionKey: string, stat: RevisionStat): void;
  /** End of a batch (a tick, or a poke): a sink that sends frames sends one now. */
  flush?(): void;
}
