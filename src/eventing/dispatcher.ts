// One reader per Trigger / channel Subscription: it walks the stream's log from its own cursor, filters, and
// delivers with Knative's retry/backoff/dead-letter semantics. Deliveries run concurrently up to a limit; the
// cursor only advances over a contiguous prefix of finished offsets (like Kafka's offset manager), so a crash
// redelivers anything not finished: at least once. Ordered mode keeps one delivery in flight per partitionkey
// (events without one share a single key, i.e. strict order).
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type DeliverySpec, type Destination, type SubscriberModel } from '../model/eventing.js';
import { codeClass } from '../observability/metrics.js';
import { child } from '../observability/logger.js';
import { binaryHeaders, CodecError, decodeMessage, looksLikeEvent, structuredBody } from './codec.js';
import { TTL_EXT, type CloudEvent } from './event.js';
import { matches } from './filters.js';
import type { EventLog } from './log.js';
import { deadLetters, triggerDeliveries, triggerDeliveryDuration } from './metrics.js';
import type { Sender, SendResult } from './sender.js';

const log = child('eventing-dispatch');

/** What a reader needs from the runtime: the HTTP sender and in-process forwarding to brokers/channels. */
export interface DispatchHost {
  sender: Sender;
  /** Send a reply or dead letter to `dest` (local append or HTTP); resolves with an HTTP-like status. */
  forward(dest: Destination, ev: CloudEvent, kind: 'reply' | 'deadletter', timeoutMs: number): Promise<{ status: number; error: string | null }>;
}

const RETRYABLE = new Set([404, 408, 409, 429]);
/**
 * Most offsets a reader may run ahead of its cursor. Filtered-out events finish at once, so without a bound one
 * delivery stuck in retries would let the set of finished-but-not-committed offsets grow without limit.
 */
const MAX_WINDOW = 10_000;
export const isRetryable = (status: number): boolean => status === 0 || status >= 500 || RETRYABLE.has(status);

/** Retry-After as seconds or an HTTP-date → ms (null if absent or unreadable). */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | null {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return null;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

interface Outcome {
  ok: boolean;
  status: number;
  body: Buffer | null;
  error: string | null;
  /** Where it failed (subscriber or reply URL), for knativeerrordest. */
  dest: string;
}

export class Reader {
  model: SubscriberModel;
  private readonly log: EventLog;
  private readonly host: DispatchHost;
  /** First offset not yet finished: the persisted cursor. */
  committed: number;
  private next: number;
  private inflight = 0;
  private waiting = 0;
  private readonly done = new Set<number>();
  private readonly keyQueues = new Map<string, number[]>();
  private readonly abort = new AbortController();
  private running = false;
  private pumping = false;
  private attemptsCounter: Record<string, ReturnType<typeof triggerDeliveries.labels>> = {};
  private durationChild: ReturnType<typeof triggerDeliveryDuration.labels>;
  /** Counters for /debug/eventing and tests. */
  stats = { delivered: 0, filtered: 0, failed: 0, deadLettered: 0, dropped: 0, replies: 0 };

  constructor(model: SubscriberModel, eventLog: EventLog, host: DispatchHost, cursor: number) {
    this.model = model;
    this.log = eventLog;
    this.host = host;
    this.committed = cursor;
    this.next = cursor;
    this.durationChild = triggerDeliveryDuration.labels(model.key);
  }

  get inFlight(): number {
    return this.inflight + this.waiting;
  }

  get lag(): number {
    return Math.max(0, this.log.end - this.committed);
  }

  /** Swap in a new model (subscriber, filter, delivery...) without touching the cursor. */
  update(model: SubscriberModel): void {
    this.model = model;
    this.pump();
  }

  start(): void {
    this.running = true;
    this.pump();
  }

  /** Stop: pending retries are abandoned; their offsets stay below the cursor and are redelivered next start. */
  stop(): void {
    this.running = false;
    this.abort.abort();
  }

  /** Pull new work from the log (called on every durable append and after each finished delivery). */
  pump(): void {
    if (!this.running || this.pumping || !this.model.ready) return;
    this.pumping = true;
    try {
      const limit = this.model.ordered ? Math.max(this.model.concurrency, 1) : this.model.concurrency;
      const end = this.log.end;
      while (this.next < end && this.inflight + this.waiting < limit && this.next - this.committed < MAX_WINDOW) {
        const off = this.next++;
        const ev = this.log.get(off);
        if (ev === undefined || !matches(this.model.filter, ev)) {
          if (ev !== undefined) this.stats.filtered++;
          this.finish(off);
          continue;
        }
        if (this.model.ordered) {
          const pk = ev.attrs.partitionkey;
          const key = pk === undefined ? '' : String(pk);
          const q = this.keyQueues.get(key);
          if (q) {
            q.push(off);
            this.waiting++;
            continue;
          }
          this.keyQueues.set(key, []);
          this.inflight++;
          void this.run(off, ev, key);
        } else {
          this.inflight++;
          void this.run(off, ev, null);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private finish(off: number): void {
    if (off !== this.committed) {
      this.done.add(off);
      return;
    }
    this.committed++;
    while (this.done.size > 0 && this.done.delete(this.committed)) this.committed++;
  }

  private async run(off: number, ev: CloudEvent, key: string | null): Promise<void> {
    let cur: number | null = off;
    let curEv: CloudEvent | undefined = ev;
    while (cur !== null) {
      let finished = false;
      try {
        if (curEv) await this.deliver(curEv);
        finished = true;
      } catch (e) {
        if (!this.abort.signal.aborted) log.error({ err: e, trigger: this.model.key, offset: cur }, 'delivery crashed; event left for redelivery');
      }
      if (!this.running) return; // stopped: leave the offset unfinished so it is redelivered
      if (finished) this.finish(cur);
      cur = null;
      if (key !== null) {
        const q = this.keyQueues.get(key)!;
        if (q.length > 0) {
          cur = q.shift()!;
          this.waiting--;
          curEv = this.log.get(cur);
        } else this.keyQueues.delete(key);
      }
    }
    this.inflight--;
    this.pump();
  }

  private count(r: SendResult | { status: number }, seconds: number): void {
    const cls = r.status === 0 ? 'error' : codeClass(r.status);
    (this.attemptsCounter[cls] ??= triggerDeliveries.labels(this.model.key, cls)).inc();
    this.durationChild.observe(seconds);
  }

  private async wait(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms, undefined, { signal: this.abort.signal });
    else if (this.abort.signal.aborted) throw new Error('stopped');
  }

  /** Wait before retry k (1-based): the backoff, stretched by Retry-After when retryAfterMax allows it. */
  private retryWait(d: DeliverySpec, k: number, last: SendResult | null): number {
    let ms = backoffMs(d, k);
    if (d.retryAfterMaxMs !== null && last && (last.status === 429 || last.status === 503)) {
      const ra = parseRetryAfter(last.headers['retry-after']);
      if (ra !== null) ms = Math.max(ms, Math.min(ra, d.retryAfterMaxMs));
    }
    return ms;
  }

  /** Primary request headers/body for the subscriber, in the delivery's format. */
  private request(ev: CloudEvent, d: DeliverySpec): { headers: string[]; body: Buffer | string | null } {
    const headers: string[] = ['prefer', 'reply', 'kn-namespace', this.model.namespace];
    if (d.format === 'json') {
      headers.push('content-type', 'application/cloudevents+json; charset=utf-8');
      const h = ev.headers;
      if (h) for (let i = 0; i < h.length; i += 2) headers.push(h[i]!, h[i + 1]!);
      return { headers, body: structuredBody(ev, TTL_EXT) };
    }
    binaryHeaders(ev, TTL_EXT, headers);
    return { headers, body: ev.data };
  }

  /** Full delivery of one event: attempts with retries, reply handling, then the dead-letter sink. */
  private async deliver(ev: CloudEvent): Promise<void> {
    const m = this.model;
    const d = m.delivery;
    let outcome: Outcome;
    if (m.subscriber && m.subscriber.via === 'local') {
      // A broker or channel wharf serves (e.g. a Subscription feeding a Broker): append in-process.
      const sub = m.subscriber;
      outcome = await this.attemptLoop(d, async () => {
        const t0 = performance.now();
        const r = await this.host.forward(sub, ev, 'reply', d.timeoutMs);
        this.count(r, (performance.now() - t0) / 1000);
        const ok = r.status >= 200 && r.status < 300;
        return { ok, status: r.status, body: null, error: ok ? null : r.error, dest: sub.url, retry: isRetryable(r.status) };
      });
    } else if (m.subscriber) {
      outcome = await this.attemptLoop(d, async (): Promise<Outcome> => {
        const { headers, body } = this.request(ev, d);
        const t0 = performance.now();
        const r = await this.host.sender.post(m.subscriber!, headers, body, d.timeoutMs);
        this.count(r, (performance.now() - t0) / 1000);
        return this.judge(r, ev, m.subscriber!.url, d);
      });
    } else {
      // A Subscription with only a reply: the event itself goes to the reply destination.
      outcome = await this.sendReply(ev, d);
    }
    if (outcome.ok) {
      this.stats.delivered++;
      return;
    }
    this.stats.failed++;
    await this.deadLetter(ev, d, outcome);
  }

  /** Attempts 1..retry+1 of `attempt`, waiting the backoff between them; stops at a non-retryable failure. */
  private async attemptLoop(d: DeliverySpec, attempt: () => Promise<Outcome & { retry?: boolean; last?: SendResult }>): Promise<Outcome> {
    let out!: Outcome & { retry?: boolean; last?: SendResult };
    for (let k = 0; k <= d.retry; k++) {
      if (k > 0) await this.wait(this.retryWait(d, k, out.last ?? null));
      if (this.abort.signal.aborted) throw new Error('stopped');
      out = await attempt();
      if (out.ok || out.retry === false) break;
    }
    return out;
  }

  /**
   * Turn a subscriber response into an outcome. 2xx with an empty body: success. 2xx with a CloudEvent: a reply,
   * forwarded (with the TTL the event arrived with) before the delivery counts as done. 2xx with any other body:
   * failure (Knative's filter answers 502 for it, so it is retried).
   */
  private async judge(r: SendResult, ev: CloudEvent, url: string, d: DeliverySpec): Promise<Outcome & { retry?: boolean; last?: SendResult }> {
    if (r.status >= 200 && r.status < 300) {
      if (r.body.length === 0 && !looksLikeEvent(r.headers)) return { ok: true, status: r.status, body: null, error: null, dest: url, last: r };
      let reply: CloudEvent;
      try {
        reply = decodeMessage(r.headers, r.body);
      } catch (e) {
        const msg = e instanceof CodecError ? e.message : String(e);
        return { ok: false, status: 502, body: r.body, error: `subscriber answered ${r.status} with a body that is not a CloudEvent: ${msg}`, dest: url, retry: true, last: r };
      }
      if (!this.model.reply) return { ok: true, status: r.status, body: null, error: null, dest: url, last: r };
      const ttl = ev.attrs[TTL_EXT];
      if (ttl !== undefined) reply.attrs[TTL_EXT] = ttl;
      const rr = await this.sendReply(reply, d);
      if (!rr.ok) return { ...rr, retry: false };
      this.stats.replies++;
      return { ok: true, status: r.status, body: null, error: null, dest: url, last: r };
    }
    return {
      ok: false,
      status: r.status,
      body: r.body.length ? r.body : null,
      error: r.error ?? `subscriber answered ${r.status}`,
      dest: url,
      retry: isRetryable(r.status),
      last: r,
    };
  }

  private async sendReply(reply: CloudEvent, d: DeliverySpec): Promise<Outcome> {
    const dest = this.model.reply;
    if (!dest) return { ok: true, status: 200, body: null, error: null, dest: '' };
    return this.attemptLoop(d, async () => {
      const r = await this.host.forward(dest, reply, 'reply', d.timeoutMs);
      const ok = r.status >= 200 && r.status < 300;
      return { ok, status: r.status, body: null, error: ok ? null : (r.error ?? `reply destination answered ${r.status}`), dest: dest.url, retry: isRetryable(r.status) };
    });
  }

  /** After the last failure: the original event goes to the dead-letter sink with Knative's error extensions. */
  private async deadLetter(ev: CloudEvent, d: DeliverySpec, failure: Outcome): Promise<void> {
    const sink = d.deadLetterSink;
    if (!sink) {
      this.stats.dropped++;
      deadLetters.labels(this.model.key, 'dropped').inc();
      log.warn({ trigger: this.model.key, id: ev.attrs.id, status: failure.status, error: failure.error }, 'delivery failed; no dead-letter sink, event dropped');
      return;
    }
    const attrs = { ...ev.attrs };
    delete attrs[TTL_EXT];
    attrs.knativeerrordest = failure.dest;
    attrs.knativeerrorcode = failure.status === 0 ? 500 : failure.status;
    const body = failure.body ?? (failure.status === 0 && failure.error ? Buffer.from(`dispatch error: ${failure.error}`) : null);
    if (body && body.length > 0) attrs.knativeerrordata = body.toString('base64').slice(0, 1024);
    const dl: CloudEvent = { attrs, data: ev.data, headers: ev.headers };
    const out = await this.attemptLoop(d, async () => {
      const r = await this.host.forward(sink, dl, 'deadletter', d.timeoutMs);
      const ok = r.status >= 200 && r.status < 300;
      return { ok, status: r.status, body: null, error: r.error, dest: sink.url, retry: isRetryable(r.status) };
    });
    if (out.ok) {
      this.stats.deadLettered++;
      deadLetters.labels(this.model.key, 'sent').inc();
    } else {
      this.stats.dropped++;
      deadLetters.labels(this.model.key, 'dropped').inc();
      log.error({ trigger: this.model.key, id: ev.attrs.id, sink: sink.url, status: out.status, error: out.error }, 'dead-letter sink failed too; event dropped');
    }
  }
}
