// The seam between the router/forwarder and whatever supplies capacity for a backend: a plain endpoint list
// (issue 2), the activator's throttler (buffering, containerConcurrency), or Kubernetes endpoints.
// Callbacks are methods on objects the caller already has (the request context), never per-request closures.
import type { BackendSpec } from '../model/snapshot.js';
import type { ClusterConfig } from '../model/config.js';
import type { Dispatcher } from 'undici';

export interface Endpoint {
  /** e.g. "http://127.0.0.1:40123" */
  readonly origin: string;
  readonly protocol: 'http1' | 'h2c';
}

/** Implemented by the request context. The target calls exactly one of these, exactly once, for a queued waiter. */
export interface Waiter {
  onGranted(endpoint: Endpoint): void;
  /** status: 503 (no capacity / queue full / overloaded) or 504 (timed out while queued). */
  onRejected(status: number, reason: string, retryAfterSeconds?: number): void;
  /** Request body bytes this waiter holds while queued (Content-Length, or 0), for the buffered-bytes bound. */
  readonly queuedBytes: number;
  /** Set by the target while queued; opaque to everyone else. */
  queueSlot?: unknown;
}

export const enum Outcome {
  Ok = 0,
  /** Connection refused/reset before a response: the endpoint is taken out and re-probed. */
  EndpointFailed = 1,
  /** The request failed for a reason that says nothing about the endpoint (client abort, timeout). */
  Aborted = 2,
}

/** Live state for one BackendSpec: endpoints, capacity, queue. Survives snapshot swaps while its key exists. */
export interface Target {
  readonly key: string;
  readonly spec: BackendSpec;
  /**
   * Headers the forwarder adds to every request it sends through this target (lower-case names), e.g.
   * `k-proxy-request: activator` for revision targets, so a Knative queue-proxy counts them as proxied.
   * Fixed per target; optional for targets that add none.
   */
  readonly requestHeaders?: readonly (readonly [string, string])[];
  /**
   * Grant capacity now (returns the endpoint) or queue the waiter and return null; a queued waiter later gets
   * onGranted or onRejected. A target that cannot queue calls onRejected synchronously and returns null.
   */
  acquire(w: Waiter): Endpoint | null;
  /** The waiter's client went away while queued: drop it from the queue without calling it. */
  cancel(w: Waiter): void;
  /** Capacity granted by acquire/onGranted is returned here exactly once. */
  release(e: Endpoint, outcome: Outcome): void;
}

/** Owns every live Target; the runtime calls sync() with each new snapshot's backends before swapping. */
export interface Backends {
  /**
   * Cluster settings for the backends (config-autoscaler for the built-in KPA, config-wharf queue bounds).
   * The runtime calls it with each new snapshot's config, just before sync(). Optional for test doubles.
   */
  configure?(config: ClusterConfig): void;
  /**
   * The data plane's upstream dispatchers (one keep-alive pool per origin). Readiness probes of local processes go
   * through them so the first request reuses the probe's warm connection. Called once by the runtime; optional.
   */
  useDispatchers?(get: (origin: string, protocol: 'http1' | 'h2c') => Dispatcher | null): void;
  sync(specs: ReadonlyMap<string, BackendSpec>): void;
  get(key: string): Target | undefined;
  close(): Promise<void>;
}
