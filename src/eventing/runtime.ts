// The eventing runtime: one durable log per broker/channel stream, one Reader per Trigger/Subscription, the
// ingress handlers, the PingSource scheduler and a housekeeping tick (persist cursors, compact, metrics).
// `apply(model)` is called on every snapshot swap; readers keep their cursors across it, and a reader that is new
// to a stream starts at the log's end (Kafka's "latest").
import path from 'node:path';
import type { LocalHandler } from '../proxy/handler.js';
import { BROKER_HANDLER, CHANNEL_HANDLER, type Destination, type EventingModel, type PingModel, type SubscriberModel } from '../model/eventing.js';
import { child } from '../observability/logger.js';
import { binaryHeaders } from './codec.js';
import { CursorStore } from './cursors.js';
import { Reader, type DispatchHost } from './dispatcher.js';
import { TTL_EXT, type CloudEvent } from './event.js';
import { applyTtl, BrokerIngress, ChannelIngress, stampArrival, type IngestTarget } from './ingress.js';
import { EventLog } from './log.js';
import { brokerEvents, brokerLogBytes, logErrors, triggerLag } from './metrics.js';
import { PingScheduler } from './ping.js';
import { Sender } from './sender.js';

const log = child('eventing');

export interface EventingOptions {
  /** wharf's data dir; the logs live in `<dataDir>/eventing/`. */
  dataDir: string;
  /** Origin of wharf's internal listener (http://host:port) for Knative Service subscribers; unset = direct. */
  internalOrigin?: string | null;
  /** Housekeeping period (cursor persistence, compaction, lag metrics). */
  tickMs?: number;
  /** Clock for PingSource (tests). */
  now?: () => number;
}

interface Stream {
  id: string;
  kind: 'broker' | 'channel';
  namespace: string;
  name: string;
  log: EventLog;
  cursors: CursorStore;
  readers: Map<string, Reader>;
  /**
   * Where a reader without a saved cursor starts on the first apply after opening: the log end (a new trigger,
   * Kafka's "latest"), or the log start when the cursor file was missing/unreadable but the log holds events
   * (a crash before the first cursor write must not skip acknowledged events). -1 once that first apply is done.
   */
  firstApplyStart: number;
  acceptedCounter: ReturnType<typeof brokerEvents.labels>;
}

export class Eventing implements IngestTarget, DispatchHost {
  readonly sender: Sender;
  private readonly root: string;
  private readonly tickMs: number;
  private model: EventingModel | null = null;
  private readonly streams = new Map<string, Stream>();
  private readonly ping: PingScheduler;
  private readonly brokerHandler: BrokerIngress;
  private readonly channelHandler: ChannelIngress;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;

  constructor(opts: EventingOptions) {
    this.root = path.join(opts.dataDir, 'eventing');
    this.tickMs = opts.tickMs ?? 200;
    this.sender = new Sender({ internalOrigin: opts.internalOrigin ?? null });
    this.ping = new PingScheduler((p, ev) => this.emitPing(p, ev), opts.now);
    this.brokerHandler = new BrokerIngress(this);
    this.channelHandler = new ChannelIngress(this);
  }

  /** Set once wharf's internal listener is bound. */
  setInternalOrigin(origin: string | null): void {
    this.sender.internalOrigin = origin;
  }

  /** The LocalHandler for a BuiltinHost handler name (BROKER_HANDLER / CHANNEL_HANDLER). */
  handlerFor(name: string): LocalHandler | undefined {
    if (name === BROKER_HANDLER) return this.brokerHandler;
    if (name === CHANNEL_HANDLER) return this.channelHandler;
    return undefined;
  }

  /** Swap in a new compiled model. Opens logs for new streams; readers keep their cursors. */
  apply(model: EventingModel): void {
    this.model = model;
    const wanted = new Map<string, { kind: 'broker' | 'channel'; namespace: string; name: string }>();
    for (const b of model.brokers.values()) wanted.set(b.stream, { kind: 'broker', namespace: b.namespace, name: b.name });
    for (const c of model.channels.values()) wanted.set(c.stream, { kind: 'channel', namespace: c.namespace, name: c.name });
    for (const [id, w] of wanted) {
      if (this.streams.has(id)) continue;
      try {
        this.streams.set(id, this.openStream(id, w.kind, w.namespace, w.name, model.config.segmentBytes));
      } catch (e) {
        log.error({ err: e, stream: id }, 'could not open the event log; this broker/channel answers 503');
      }
    }
    for (const [id, s] of this.streams) {
      if (wanted.has(id)) continue;
      for (const r of s.readers.values()) r.stop();
      this.streams.delete(id);
      s.cursors.flushSync();
      void s.log.close();
    }
    // Readers: update in place, create (cursor from file, else log end), or remove (and forget the cursor).
    const byStream = new Map<string, SubscriberModel[]>();
    for (const sub of model.subscribers) (byStream.get(sub.stream) ?? byStream.set(sub.stream, []).get(sub.stream)!).push(sub);
    for (const s of this.streams.values()) {
      const subs = byStream.get(s.id) ?? [];
      const keep = new Set<string>();
      let added = false;
      for (const sub of subs) {
        keep.add(sub.cursor);
        const r = s.readers.get(sub.cursor);
        if (r) {
          r.update(sub);
          continue;
        }
        const saved = s.cursors.has(sub.cursor) ? this.savedCursor(s, sub.cursor) : s.firstApplyStart >= 0 ? s.firstApplyStart : s.log.end;
        const reader = new Reader(sub, s.log, this, saved);
        s.readers.set(sub.cursor, reader);
        s.cursors.set(sub.cursor, saved);
        added = true;
        if (this.running) reader.start();
      }
      s.firstApplyStart = -1;
      // Persist a new reader's starting point now, so a crash before the next tick cannot move it to the end.
      if (added) s.cursors.flushSync();
      for (const [name, r] of s.readers) {
        if (keep.has(name)) continue;
        r.stop();
        s.readers.delete(name);
        s.cursors.delete(name);
        triggerLag.remove(r.model.key);
      }
    }
    this.ping.apply(model.pings);
  }

  private savedCursor(s: Stream, name: string): number {
    const v = this.loadedCursors.get(s.id)?.get(name);
    if (v === undefined) return s.log.end;
    // A cursor behind the log start points into compacted segments: everything there was finished.
    return Math.min(Math.max(v, s.log.start), s.log.end);
  }

  private readonly loadedCursors = new Map<string, Map<string, number>>();

  private openStream(id: string, kind: 'broker' | 'channel', namespace: string, name: string, segmentBytes: number): Stream {
    const dir = path.join(this.root, id);
    const elog = new EventLog({ dir, segmentBytes });
    elog.open();
    const cursors = new CursorStore(dir);
    const loaded = cursors.load();
    this.loadedCursors.set(id, loaded.cursors);
    const label = kind === 'broker' ? name : `channel:${name}`;
    const firstApplyStart = !loaded.intact && elog.end > elog.start ? elog.start : -1;
    if (firstApplyStart >= 0) log.warn({ stream: id, start: elog.start, end: elog.end }, 'no cursor file but the log holds events: readers start at the log start (duplicates possible)');
    const s: Stream = { id, kind, namespace, name, log: elog, cursors, readers: new Map(), firstApplyStart, acceptedCounter: brokerEvents.labels(namespace, label, 'accepted') };
    elog.onAppend(() => {
      for (const r of s.readers.values()) r.pump();
    });
    elog.onError = (err) => logErrors.labels(namespace, label, err.code ?? 'EIO').inc();
    log.info({ stream: id, dir, start: elog.start, end: elog.end, segments: elog.segmentCount }, 'event log opened');
    return s;
  }

  /**
   * Run PingSources on this instance or not (default: yes). With several replicas in a cluster, call it with the
   * leader-election state so only the leader fires ticks.
   */
  setPingActive(active: boolean): void {
    this.pingActive = active;
    if (!this.running) return;
    if (active) this.ping.start();
    else this.ping.stop();
  }

  private pingActive = true;

  start(): Promise<void> {
    this.running = true;
    for (const s of this.streams.values()) for (const r of s.readers.values()) r.start();
    if (this.pingActive) this.ping.start();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref?.();
    return Promise.resolve();
  }

  /** Stop readers and pings, persist cursors, close logs (waiting for the in-flight commit). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.ping.stop();
    for (const s of this.streams.values()) {
      for (const r of s.readers.values()) {
        r.stop();
        s.cursors.set(r.model.cursor, r.committed);
      }
      await s.cursors.settle();
      s.cursors.flushSync();
    }
    await Promise.all([...this.streams.values()].map((s) => s.log.close()));
    await this.sender.close();
  }

  /** Persist cursors, then delete segments every reader has passed; refresh gauges. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const s of this.streams.values()) {
        let min = s.log.end;
        for (const r of s.readers.values()) {
          s.cursors.set(r.model.cursor, r.committed);
          if (r.committed < min) min = r.committed;
          triggerLag.labels(r.model.key).set(r.lag);
        }
        await s.cursors.flush();
        s.log.compact(min);
        brokerLogBytes.labels(s.namespace, s.kind === 'broker' ? s.name : `channel:${s.name}`).set(s.log.bytes);
      }
    } finally {
      this.ticking = false;
    }
  }

  // ------------------------------------------------------------ IngestTarget

  maxEventBytes(): number {
    return this.model?.config.maxEventBytes ?? 1 << 20;
  }

  hasBroker(key: string): boolean {
    return this.model?.brokers.has(key) ?? false;
  }

  channelForHost(host: string): string | undefined {
    return this.model?.channelHosts.get(host);
  }

  ingest(kind: 'broker' | 'channel', key: string, ev: CloudEvent, done: (status: number, message: string | null) => void): void {
    const m = this.model;
    const streamId = kind === 'broker' ? m?.brokers.get(key)?.stream : m?.channels.get(key)?.stream;
    const [ns, name] = key.split('/') as [string, string];
    const label = kind === 'broker' ? name : `channel:${name}`;
    if (!m || !streamId) {
      brokerEvents.labels(ns, label, 'unknown').inc();
      done(404, `${kind} ${key} not found`);
      return;
    }
    stampArrival(ev);
    if (kind === 'broker' && !applyTtl(ev, m.config.ttl)) {
      brokerEvents.labels(ns, label, 'ttl_exhausted').inc();
      done(400, `${TTL_EXT} exhausted (the event has been through too many replies)`);
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) {
      brokerEvents.labels(ns, label, 'storage_error').inc();
      done(503, 'event log unavailable');
      return;
    }
    s.log.append(ev, (_off, err) => {
      if (err) {
        brokerEvents.labels(ns, label, 'storage_error').inc();
        done(503, err.code === 'ENOSPC' ? 'event log: disk full' : 'event log: write failed');
      } else {
        s.acceptedCounter.inc();
        done(202, null);
      }
    });
  }

  // ------------------------------------------------------------ DispatchHost

  /** Replies and dead letters: in-process append for our own brokers/channels, else an HTTP POST (binary). */
  forward(dest: Destination, ev: CloudEvent, _kind: 'reply' | 'deadletter', timeoutMs: number): Promise<{ status: number; error: string | null }> {
    if (dest.via === 'local' && dest.local) {
      const copy: CloudEvent = { attrs: { ...ev.attrs }, data: ev.data, headers: ev.headers };
      return new Promise((resolve) => this.ingest(dest.local!.kind, dest.local!.key, copy, (status, message) => resolve({ status, error: message })));
    }
    const headers = binaryHeaders(ev, TTL_EXT, []);
    return this.sender.post(dest, headers, ev.data, timeoutMs).then((r) => ({ status: r.status, error: r.error }));
  }

  private async emitPing(p: PingModel, ev: CloudEvent): Promise<boolean> {
    if (!p.sink) return false;
    const r = await this.forward(p.sink, ev, 'reply', this.model?.config.defaultTimeoutMs ?? 60_000);
    if (r.status < 200 || r.status >= 300) {
      log.warn({ pingsource: p.key, sink: p.sink.url, status: r.status, error: r.error }, 'PingSource event not accepted by its sink');
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------ debug

  /** Data for /debug/eventing and `wharf routes`: brokers, channels, triggers/subscriptions with lag, pings. */
  debug(): EventingDebug {
    const m = this.model;
    const readerOf = (sub: SubscriberModel): Reader | undefined => this.streams.get(sub.stream)?.readers.get(sub.cursor);
    const streamInfo = (id: string): StreamDebug | null => {
      const s = this.streams.get(id);
      if (!s) return null;
      return { dir: s.log.dir, start: s.log.start, end: s.log.end, bytes: s.log.bytes, segments: s.log.segmentCount, lastError: s.log.lastError };
    };
    return {
      brokers: m
        ? [...m.brokers.values()].map((b) => ({ broker: b.key, address: b.address, externalAddress: b.externalAddress, ready: b.ready && this.streams.has(b.stream), reason: b.reason ?? (this.streams.has(b.stream) ? undefined : 'log unavailable'), log: streamInfo(b.stream) }))
        : [],
      channels: m ? [...m.channels.values()].map((c) => ({ channel: c.key, kind: c.kind, address: c.address, log: streamInfo(c.stream) })) : [],
      subscribers: m
        ? m.subscribers.map((sub) => {
            const r = readerOf(sub);
            return {
              kind: sub.kind,
              name: sub.key,
              stream: sub.stream,
              subscriber: sub.subscriber?.url ?? null,
              ready: sub.ready,
              reason: sub.reason,
              ordered: sub.ordered,
              cursor: r?.committed ?? null,
              lag: r?.lag ?? null,
              inFlight: r?.inFlight ?? 0,
              stats: r?.stats ?? null,
            };
          })
        : [],
      pings: m ? m.pings.map((p) => ({ name: p.key, schedule: p.schedule, timezone: p.timezone, sink: p.sink?.url ?? null, ready: p.ready, reason: p.reason, ticks: this.ping.ticks.get(p.key) ?? null })) : [],
    };
  }

  /** The log of a stream (tests and the bench). */
  logOf(streamId: string): EventLog | undefined {
    return this.streams.get(streamId)?.log;
  }

  readerOf(streamId: string, cursor: string): Reader | undefined {
    return this.streams.get(streamId)?.readers.get(cursor);
  }
}

export interface StreamDebug {
  dir: string;
  start: number;
  end: number;
  bytes: number;
  segments: number;
  lastError: { code: string; message: string; at: string } | null;
}

export interface EventingDebug {
  brokers: { broker: string; address: string; externalAddress: string | null; ready: boolean; reason?: string; log: StreamDebug | null }[];
  channels: { channel: string; kind: string; address: string; log: StreamDebug | null }[];
  subscribers: {
    kind: string;
    name: string;
    stream: string;
    subscriber: string | null;
    ready: boolean;
    reason?: string;
    ordered: boolean;
    cursor: number | null;
    lag: number | null;
    inFlight: number;
    stats: Reader['stats'] | null;
  }[];
  pings: { name: string; schedule: string; timezone: string | null; sink: string | null; ready: boolean; reason?: string; ticks: unknown }[];
}
