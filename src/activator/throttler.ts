// The per-revision throttler: the Target the forwarder calls for every request. It grants a ready endpoint with
// free capacity (containerConcurrency per endpoint, Knative's LB policies), or holds the request in a bounded
// FIFO until an endpoint frees up or becomes ready. Queue time counts toward the revision timeout (504), and the
// queue is bounded in requests and buffered bytes (503 + Retry-After) — Knative's is unbounded (serving#13583).
// acquire/release allocate nothing unless the request has to queue.
import type { BackendSpec } from '../model/snapshot.js';
import type { Endpoint, Target, Waiter } from '../backends/types.js';
import { Outcome } from '../backends/types.js';
import type { BackendEndpoint } from '../backends/endpoint.js';
import { Policy, firstAvailable, policyFor, powerOfTwo, roundRobin } from './lb-policy.js';
import { RequestStats } from './request-stats.js';
import * as m from './metrics.js';

export interface QueueLimits {
  /** Requests that may wait per revision. */
  maxRequests: number;
  /** Sum of `Waiter.queuedBytes` that may wait per revision. */
  maxBytes: number;
  /** Seconds suggested in Retry-After when the queue is full. */
  retryAfterSeconds: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = { maxRequests: 1000, maxBytes: 64 * 1024 * 1024, retryAfterSeconds: 1 };

/** Told about arrivals so concurrency can be reported (poke on the first request to an idle revision). */
export interface ThrottlerObserver {
  /** First request after the revision's stats entry went idle: Knative's immediate "poke". */
  firstRequest(t: Throttler): void;
}

export type Clock = () => number;
export const monotonicMs: Clock = () => performance.now();

const ACTIVATOR_HEADERS: readonly (readonly [string, string])[] = Object.freeze([Object.freeze(['k-proxy-request', 'activator'] as const)]);
const NO_HEADERS: readonly (readonly [string, string])[] = Object.freeze([]);

class QueueEntry {
  prev: QueueEntry | null = null;
  next: QueueEntry | null = null;
  constructor(
    readonly w: Waiter,
    readonly arrived: number,
    readonly deadline: number,
    readonly bytes: number,
  ) {}
}

export class Throttler implements Target {
  readonly key: string;
  spec: BackendSpec;
  /** Time-weighted concurrency (queued + in flight), read by the reporter every tick. */
  readonly stats: RequestStats;
  /** Has a live stats entry (Knative deletes the entry after an idle tick; the next arrival pokes). */
  statsLive = false;
  /** The poke sent for the first request is subtracted from the next tick's report. */
  pokePending = false;
  observer: ThrottlerObserver | null = null;
  /** Knative's activator marks what it proxies, so queue-proxies do not count it twice (activator-autoscaler §2.4). */
  requestHeaders: readonly (readonly [string, string])[];

  private cc: number;
  private policy: Policy;
  private rrCursor = 0;
  private canQueue: boolean;
  private readonly all = new Set<BackendEndpoint>();
  private ready: BackendEndpoint[] = [];
  private inFlight = 0;
  private head: QueueEntry | null = null;
  private tail: QueueEntry | null = null;
  private queueLength = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private draining = false;
  private closed = false;

  constructor(
    spec: BackendSpec,
    private limits: QueueLimits = DEFAULT_QUEUE_LIMITS,
    private readonly clock: Clock = monotonicMs,
  ) {
    this.key = spec.key;
    this.spec = spec;
    this.cc = Math.max(0, spec.containerConcurrency | 0);
    this.policy = policyFor(this.cc);
    this.canQueue = queueable(spec);
    this.requestHeaders = spec.activator ? ACTIVATOR_HEADERS : NO_HEADERS;
    this.stats = new RequestStats(clock());
    this.onTimer = this.onTimer.bind(this);
  }

  // ---- Target --------------------------------------------------------------------------------------------

  acquire(w: Waiter): Endpoint | null {
    const now = this.clock();
    if (!this.statsLive) {
      this.statsLive = true;
      this.stats.restart(now);
      this.stats.reqIn(now);
      this.observer?.firstRequest(this);
    } else {
      this.stats.reqIn(now);
    }
    if (this.closed) {
      this.reject(w, 503, 'revision removed', m.rejectShutdown, now);
      return null;
    }
    if (this.head === null) {
      const ep = this.pick();
      if (ep !== null) {
        this.grant(ep);
        return ep;
      }
    }
    if (!this.canQueue) {
      this.reject(w, 503, 'no ready backend', m.rejectNoBackend, now);
      return null;
    }
    if (this.queueLength >= this.limits.maxRequests) {
      this.reject(w, 503, 'activator queue full', m.rejectQueueFull, now);
      return null;
    }
    const bytes = w.queuedBytes > 0 ? w.queuedBytes : 0;
    if (bytes > 0 && this.queuedBytes + bytes > this.limits.maxBytes) {
      this.reject(w, 503, 'activator queue buffered bytes limit reached', m.rejectQueueBytes, now);
      return null;
    }
    const timeout = this.spec.timeoutMs;
    const e = new QueueEntry(w, now, timeout > 0 ? now + timeout : Infinity, bytes);
    w.queueSlot = e;
    if (this.tail === null) {
      this.head = this.tail = e;
    } else {
      e.prev = this.tail;
      this.tail.next = e;
      this.tail = e;
    }
    this.queueLength++;
    this.queuedBytes += bytes;
    if (e.deadline !== Infinity && (this.timer === null || e.deadline < this.timerAt)) this.armTimer(e.deadline, now);
    return null;
  }

  cancel(w: Waiter): void {
    const e = w.queueSlot;
    if (!(e instanceof QueueEntry)) return;
    this.unlink(e);
    this.stats.reqOut(this.clock());
  }

  release(ep: Endpoint, outcome: Outcome): void {
    const be = ep as BackendEndpoint;
    be.inFlight--;
    this.inFlight--;
    this.stats.reqOut(this.clock());
    if (outcome === Outcome.EndpointFailed && be.ready && !be.removed) {
      be.ready = false;
      this.rebuildReady();
      be.owner.endpointFailed(be);
    }
    if (be.removed) {
      if (be.inFlight === 0) be.owner.endpointDrained?.(be);
      return;
    }
    if (this.head !== null) this.drain();
  }

  // ---- endpoints (called by the endpoint sources) --------------------------------------------------------

  addEndpoint(ep: BackendEndpoint): void {
    this.all.add(ep);
    if (ep.ready) {
      this.rebuildReady();
      this.drain();
    }
  }

  setReady(ep: BackendEndpoint, ready: boolean): void {
    if (!this.all.has(ep) || ep.removed || ep.ready === ready) return;
    ep.ready = ready;
    this.rebuildReady();
    if (ready) this.drain();
  }

  /** Takes the endpoint out: no new requests; owner.endpointDrained fires once its in-flight requests finish. */
  removeEndpoint(ep: BackendEndpoint): void {
    if (!this.all.delete(ep)) return;
    ep.removed = true;
    const wasReady = ep.ready;
    ep.ready = false;
    if (wasReady) this.rebuildReady();
    if (ep.inFlight === 0) ep.owner.endpointDrained?.(ep);
  }

  endpoints(): BackendEndpoint[] {
    return [...this.all];
  }

  updateSpec(spec: BackendSpec): void {
    this.spec = spec;
    const cc = Math.max(0, spec.containerConcurrency | 0);
    if (cc !== this.cc) {
      this.cc = cc;
      this.policy = policyFor(cc);
      this.rrCursor = 0;
    }
    this.canQueue = queueable(spec);
    this.requestHeaders = spec.activator ? ACTIVATOR_HEADERS : NO_HEADERS;
    this.drain();
  }

  setLimits(limits: QueueLimits): void {
    this.limits = limits;
  }

  /** Rejects everything queued (target removed or shutting down). Granted requests finish on their own. */
  close(reason = 'revision removed'): void {
    this.closed = true;
    const now = this.clock();
    while (this.head !== null) {
      const e = this.head;
      this.unlink(e);
      this.reject(e.w, 503, reason, m.rejectShutdown, now);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---- introspection ---------------------------------------------------------------------------------------

  get queueDepth(): number {
    return this.queueLength;
  }
  get queueBytes(): number {
    return this.queuedBytes;
  }
  get inFlightCount(): number {
    return this.inFlight;
  }
  get readyCount(): number {
    return this.ready.length;
  }
  get endpointCount(): number {
    return this.all.size;
  }
  get containerConcurrency(): number {
    return this.cc;
  }

  // ---- internals -------------------------------------------------------------------------------------------

  private pick(): BackendEndpoint | null {
    const ready = this.ready;
    if (ready.length === 0) return null;
    switch (this.policy) {
      case Policy.PowerOfTwo:
        return powerOfTwo(ready);
      case Policy.FirstAvailable:
        return firstAvailable(ready, this.cc);
      default: {
        const idx = roundRobin(ready, this.cc, this.rrCursor);
        if (idx < 0) return null;
        this.rrCursor = idx + 1;
        return ready[idx]!;
      }
    }
  }

  private grant(ep: BackendEndpoint): void {
    ep.inFlight++;
    ep.served++;
    this.inFlight++;
  }

  /** Hands free capacity to queued waiters in FIFO order. Re-entrancy safe (onGranted may release at once). */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      let now = -1;
      while (this.head !== null) {
        const ep = this.pick();
        if (ep === null) break;
        const e = this.head;
        this.unlink(e);
        this.grant(ep);
        if (now < 0) now = this.clock();
        m.queueWait.observe((now - e.arrived) / 1000);
        e.w.onGranted(ep);
      }
    } finally {
      this.draining = false;
    }
  }

  private unlink(e: QueueEntry): void {
    if (e.w.queueSlot !== e) return;
    e.w.queueSlot = undefined;
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
    this.queueLength--;
    this.queuedBytes -= e.bytes;
  }

  private reject(w: Waiter, status: number, reason: string, counter: { inc(): void }, now: number): void {
    this.stats.reqOut(now);
    counter.inc();
    w.onRejected(status, reason, status === 503 ? this.limits.retryAfterSeconds : undefined);
  }

  private armTimer(at: number, now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(at - now)));
    this.timer.unref();
  }

  /** One timer per throttler, armed for the oldest waiter's deadline (deadlines are in arrival order). */
  private onTimer(): void {
    this.timer = null;
    const now = this.clock();
    while (this.head !== null && this.head.deadline <= now) {
      const e = this.head;
      this.unlink(e);
      this.stats.reqOut(now);
      m.rejectTimeout.inc();
      e.w.onRejected(504, 'activator request timeout');
    }
    // Deadlines are in arrival order (one timeout per revision), so the head's is the next to expire. Timeouts
    // are batched at 10 ms granularity so a steady stream of expiries does not re-arm per request.
    if (this.head !== null && this.head.deadline !== Infinity) this.armTimer(Math.max(this.head.deadline, now + 10), now);
  }

  private rebuildReady(): void {
    const list: BackendEndpoint[] = [];
    for (const ep of this.all) if (ep.ready && !ep.removed) list.push(ep);
    list.sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
    this.ready = list;
    if (this.rrCursor >= list.length) this.rrCursor = 0;
  }
}

/** Revision targets and locally run/resolved backends wait for an endpoint; plain cluster Services fail fast. */
function queueable(spec: BackendSpec): boolean {
  return spec.activator || spec.source.kind === 'process' || spec.source.kind === 'static';
}
