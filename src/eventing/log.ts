// A durable, append-only event log: one directory per broker/channel stream, holding segment files named after
// the offset of their first record. Appends are group-committed: everything queued while one write+fdatasync is in
// flight goes out in the next single write+fdatasync, so the fsync cost is shared by all concurrent producers.
// An append's callback fires only after its bytes are on disk; that is what lets the ingress answer 202.
import fs from 'node:fs';
import path from 'node:path';
import { child } from '../observability/logger.js';
import { fsyncDirSync } from '../atomic-file.js';
import { decodePayload, encodeRecord, FRAME_HEADER, scanFrames } from './record.js';
import type { CloudEvent } from './event.js';

const log = child('eventing-log');

export type AppendCallback = (offset: number, err: NodeJS.ErrnoException | null) => void;

interface Segment {
  base: number;
  file: string;
  /** Byte position of each record in the file. */
  positions: number[];
  bytes: number;
  /** Decoded events, when cached (always for the active segment). */
  cache: CloudEvent[] | null;
}

export interface LogOptions {
  dir: string;
  /** Roll to a new segment once the active one reaches this size. */
  segmentBytes: number;
  /** Sealed segments kept decoded in memory (the active one always is). */
  cachedSegments?: number;
}

const SEG_RE = /^(\d{20})\.log$/;
const segName = (base: number): string => String(base).padStart(20, '0') + '.log';

export class EventLog {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly cachedSegments: number;
  private segments: Segment[] = [];
  private fd = -1;
  private nextOffset = 0;
  private pendingBufs: Buffer[] = [];
  private pendingEvents: CloudEvent[] = [];
  private pendingCbs: AppendCallback[] = [];
  private flushing = false;
  private closed = false;
  private readonly listeners: (() => void)[] = [];
  private cachedOrder: Segment[] = [];
  private readonly unlinking = new Set<Promise<unknown>>();
  /** Last storage error, for /debug/eventing; cleared by the next successful commit. */
  lastError: { code: string; message: string; at: string } | null = null;
  /** Test hook: the next commit fails with this error (simulates EIO/ENOSPC without a broken disk). */
  faultNext: NodeJS.ErrnoException | null = null;
  onError: ((err: NodeJS.ErrnoException) => void) | null = null;
  /** Commits done and events written, for tests and the bench (group commit ratio). */
  stats = { commits: 0, events: 0 };

  constructor(opts: LogOptions) {
    this.dir = opts.dir;
    this.segmentBytes = opts.segmentBytes;
    this.cachedSegments = opts.cachedSegments ?? 4;
  }

  /** Recover: list segments, cut any torn tail, and open the last one for appends. Synchronous (startup only). */
  open(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const names = fs.readdirSync(this.dir).filter((n) => SEG_RE.test(n)).sort();
    for (const name of names) {
      const base = Number(SEG_RE.exec(name)![1]);
      const file = path.join(this.dir, name);
      let buf: Buffer;
      try {
        buf = fs.readFileSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // compacted while we listed
        throw e;
      }
      const scan = scanFrames(buf);
      if (scan.validBytes < buf.length) {
        log.warn({ file, validBytes: scan.validBytes, size: buf.length }, 'eventing log: torn or corrupt tail cut off');
        fs.truncateSync(file, scan.validBytes);
      }
      this.segments.push({ base, file, positions: scan.positions, bytes: scan.validBytes, cache: null });
    }
    if (this.segments.length === 0) {
      const file = path.join(this.dir, segName(0));
      fs.writeFileSync(file, '');
      fsyncDirSync(this.dir);
      this.segments.push({ base: 0, file, positions: [], bytes: 0, cache: [] });
    }
    const active = this.segments[this.segments.length - 1]!;
    this.nextOffset = active.base + active.positions.length;
    this.loadCache(active);
    this.fd = fs.openSync(active.file, 'a');
  }

  /** First offset still stored. */
  get start(): number {
    return this.segments[0]!.base;
  }

  /** Offset the next append will get (= number of events ever appended). */
  get end(): number {
    return this.nextOffset;
  }

  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return n;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Called (synchronously, after the callbacks) whenever new events become durable. */
  onAppend(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Queue an event; `cb` runs once it is fsync'd (with its offset) or failed. */
  append(ev: CloudEvent, cb: AppendCallback): void {
    if (this.closed) {
      const err = Object.assign(new Error('event log is closed'), { code: 'ECLOSED' }) as NodeJS.ErrnoException;
      queueMicrotask(() => cb(-1, err));
      return;
    }
    this.pendingBufs.push(encodeRecord(ev));
    this.pendingEvents.push(ev);
    this.pendingCbs.push(cb);
    if (!this.flushing) this.flush();
  }

  /** Promise form of append, for tests and non-hot callers. */
  appendAsync(ev: CloudEvent): Promise<number> {
    return new Promise((resolve, reject) => this.append(ev, (off, err) => (err ? reject(err) : resolve(off))));
  }

  /** The event at `offset`, or undefined if it was compacted away or never written. */
  get(offset: number): CloudEvent | undefined {
    if (offset < this.start || offset >= this.nextOffset) return undefined;
    const seg = this.segmentFor(offset);
    if (!seg) return undefined;
    const idx = offset - seg.base;
    if (idx >= seg.positions.length) return undefined;
    if (!seg.cache) this.loadCache(seg);
    return seg.cache![idx];
  }

  /** Delete sealed segments that every reader has passed (`minCursor` = lowest cursor over all readers). */
  compact(minCursor: number): number {
    let removed = 0;
    while (this.segments.length > 1) {
      const s = this.segments[0]!;
      if (s.base + s.positions.length > minCursor) break;
      // Asynchronous: unlinking a large file can take milliseconds, and the loop is serving ingress.
      const done: Promise<unknown> = fs.promises
        .unlink(s.file)
        .catch((e) => log.warn({ err: e, file: s.file }, 'eventing log: could not delete compacted segment'))
        .finally(() => this.unlinking.delete(done));
      this.unlinking.add(done);
      this.segments.shift();
      this.cachedOrder = this.cachedOrder.filter((c) => c !== s);
      removed++;
    }
    return removed;
  }

  /** Stop accepting appends; wait for the in-flight commit; close the file. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.pendingBufs.length > 0) {
      if (!this.flushing) this.flush();
      await new Promise((r) => setTimeout(r, 2));
    }
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
    await Promise.all(this.unlinking);
  }

  private segmentFor(offset: number): Segment | undefined {
    const segs = this.segments;
    // Most reads hit the active segment.
    const last = segs[segs.length - 1]!;
    if (offset >= last.base) return last;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo];
  }

  private loadCache(seg: Segment): void {
    const active = seg === this.segments[this.segments.length - 1];
    if (seg.positions.length === 0) {
      seg.cache = [];
    } else {
      const buf = fs.readFileSync(seg.file);
      const out: CloudEvent[] = new Array(seg.positions.length);
      for (let i = 0; i < seg.positions.length; i++) {
        const p = seg.positions[i]!;
        const len = buf.readUInt32LE(p);
        out[i] = decodePayload(buf.subarray(p + FRAME_HEADER, p + FRAME_HEADER + len));
      }
      seg.cache = out;
    }
    if (!active) {
      this.cachedOrder.push(seg);
      while (this.cachedOrder.length > this.cachedSegments) this.cachedOrder.shift()!.cache = null;
    }
  }

  private rollIfFull(): void {
    const active = this.segments[this.segments.length - 1]!;
    if (active.bytes < this.segmentBytes) return;
    const file = path.join(this.dir, segName(this.nextOffset));
    const fd = fs.openSync(file, 'a');
    fsyncDirSync(this.dir);
    fs.closeSync(this.fd);
    this.fd = fd;
    // The sealed segment's decoded events stay cached as the most recent sealed one.
    this.cachedOrder.push(active);
    while (this.cachedOrder.length > this.cachedSegments) this.cachedOrder.shift()!.cache = null;
    this.segments.push({ base: this.nextOffset, file, positions: [], bytes: 0, cache: [] });
  }

  private flush(): void {
    if (this.pendingBufs.length === 0 || this.fd < 0) return;
    this.flushing = true;
    const bufs = this.pendingBufs;
    const events = this.pendingEvents;
    const cbs = this.pendingCbs;
    this.pendingBufs = [];
    this.pendingEvents = [];
    this.pendingCbs = [];
    try {
      this.rollIfFull();
    } catch (e) {
      this.finish(bufs, events, cbs, e as NodeJS.ErrnoException, 0);
      return;
    }
    let total = 0;
    for (const b of bufs) total += b.length;
    const fault = this.faultNext;
    if (fault) {
      this.faultNext = null;
      setImmediate(() => this.finish(bufs, events, cbs, fault, total));
      return;
    }
    fs.writev(this.fd, bufs, (err, written) => {
      if (!err && written !== total) {
        err = Object.assign(new Error(`short write (${written} of ${total} bytes)`), { code: 'ENOSPC' }) as NodeJS.ErrnoException;
      }
      if (err) return this.finish(bufs, events, cbs, err, total);
      fs.fdatasync(this.fd, (err2) => this.finish(bufs, events, cbs, err2, total));
    });
  }

  private finish(bufs: Buffer[], events: CloudEvent[], cbs: AppendCallback[], err: NodeJS.ErrnoException | null, total: number): void {
    const active = this.segments[this.segments.length - 1]!;
    if (err) {
      // Cut whatever part of the batch may have reached the file, so the log holds only acknowledged records.
      try {
        if (this.fd >= 0) fs.ftruncateSync(this.fd, active.bytes);
      } catch (e) {
        log.error({ err: e }, 'eventing log: could not truncate after a failed write');
      }
      this.lastError = { code: err.code ?? 'EIO', message: err.message, at: new Date().toISOString() };
      if (err.code === 'ENOSPC') log.error({ dir: this.dir }, 'eventing log: disk full; rejecting events with 503');
      else log.error({ err, dir: this.dir }, 'eventing log: write failed; rejecting events with 503');
      this.onError?.(err);
      for (const cb of cbs) cb(-1, err);
    } else {
      const first = this.nextOffset;
      let pos = active.bytes;
      for (let i = 0; i < bufs.length; i++) {
        active.positions.push(pos);
        pos += bufs[i]!.length;
        active.cache!.push(events[i]!);
      }
      active.bytes = pos;
      this.nextOffset += bufs.length;
      this.lastError = null;
      this.stats.commits++;
      this.stats.events += bufs.length;
      for (let i = 0; i < cbs.length; i++) cbs[i]!(first + i, null);
      for (const l of this.listeners) l();
    }
    void total;
    this.flushing = false;
    if (this.pendingBufs.length > 0) this.flush();
  }
}
