// The durable log on its own: offsets, group commit, recovery with a torn tail, segment roll + compaction,
// failure handling, and cursor persistence.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../src/eventing/log.js';
import { CursorStore } from '../../src/eventing/cursors.js';
import { encodeRecord, scanFrames } from '../../src/eventing/record.js';
import type { CloudEvent } from '../../src/eventing/event.js';
import { tmpDir } from './helpers.js';

const ev = (i: number, size = 10): CloudEvent => ({
  attrs: { specversion: '1.0', id: `e${i}`, source: '/s', type: 't', knativebrokerttl: 255 },
  data: Buffer.alloc(size, i % 256),
  headers: i % 2 ? ['x-request-id', `r${i}`] : null,
});

describe('EventLog', () => {
  it('assigns sequential offsets, group-commits concurrent appends, and reads events back', async () => {
    const l = new EventLog({ dir: tmpDir(), segmentBytes: 1 << 20 });
    l.open();
    const offs = await Promise.all(Array.from({ length: 200 }, (_, i) => l.appendAsync(ev(i))));
    expect(offs).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // 200 concurrent producers share far fewer fsyncs.
    expect(l.stats.commits).toBeLessThan(20);
    expect(l.get(17)!.attrs.id).toBe('e17');
    expect(l.get(17)!.headers).toEqual(['x-request-id', 'r17']);
    expect(l.get(200)).toBeUndefined();
    await l.close();
  });

  it('recovers after reopen and cuts a torn tail (half-written record) and a corrupt record', async () => {
    const dir = tmpDir();
    const l = new EventLog({ dir, segmentBytes: 1 << 20 });
    l.open();
    for (let i = 0; i < 5; i++) await l.appendAsync(ev(i));
    await l.close();
    const seg = path.join(dir, fs.readdirSync(dir).find((n) => n.endsWith('.log'))!);
    const good = fs.statSync(seg).size;
    // torn tail: the first 20 bytes of a sixth record
    fs.appendFileSync(seg, encodeRecord(ev(5)).subarray(0, 20));
    const l2 = new EventLog({ dir, segmentBytes: 1 << 20 });
    l2.open();
    expect(l2.end).toBe(5);
    expect(fs.statSync(seg).size).toBe(good);
    expect(await l2.appendAsync(ev(5))).toBe(5);
    await l2.close();
    // corrupt the last record's payload: CRC mismatch → cut there
    const buf = fs.readFileSync(seg);
    buf[buf.length - 3] ^= 0xff;
    fs.writeFileSync(seg, buf);
    const l3 = new EventLog({ dir, segmentBytes: 1 << 20 });
    l3.open();
    expect(l3.end).toBe(5);
    expect(l3.get(4)!.attrs.id).toBe('e4');
    await l3.close();
    expect(scanFrames(fs.readFileSync(seg)).positions.length).toBe(5);
  });

  it('rolls segments and compacts only segments every reader has passed; offsets survive compaction and reopen', async () => {
    const dir = tmpDir();
    const l = new EventLog({ dir, segmentBytes: 4096, cachedSegments: 1 });
    l.open();
    for (let i = 0; i < 100; i++) await l.appendAsync(ev(i, 500));
    expect(l.segmentCount).toBeGreaterThan(5);
    // reading an old (evicted) segment reloads it from disk
    expect(l.get(3)!.attrs.id).toBe('e3');
    expect(l.compact(0)).toBe(0);
    const removed = l.compact(50);
    expect(removed).toBeGreaterThan(0);
    expect(l.start).toBeLessThanOrEqual(50);
    expect(l.get(l.start - 1)).toBeUndefined();
    expect(l.get(50)!.attrs.id).toBe('e50');
    // never deletes the active segment
    l.compact(1e9);
    expect(l.segmentCount).toBe(1);
    expect(l.get(99)!.attrs.id).toBe('e99');
    await l.close();
    const l2 = new EventLog({ dir, segmentBytes: 4096 });
    l2.open();
    expect(l2.end).toBe(100);
    expect(await l2.appendAsync(ev(100))).toBe(100);
    await l2.close();
  });

  it('a failed commit fails the events of that batch, leaves nothing behind, and the log keeps working', async () => {
    const dir = tmpDir();
    const l = new EventLog({ dir, segmentBytes: 1 << 20 });
    l.open();
    await l.appendAsync(ev(0));
    l.faultNext = Object.assign(new Error('EIO'), { code: 'EIO' });
    // e1 goes out alone in the failing commit; e2 queues behind it and lands in the next one.
    const [r1, r2] = await Promise.allSettled([l.appendAsync(ev(1)), l.appendAsync(ev(2))]);
    expect(r1.status).toBe('rejected');
    expect(r2).toEqual({ status: 'fulfilled', value: 1 });
    expect(await l.appendAsync(ev(3))).toBe(2);
    expect(l.lastError).toBeNull();
    await l.close();
    const l2 = new EventLog({ dir, segmentBytes: 1 << 20 });
    l2.open();
    expect([0, 1, 2].map((i) => l2.get(i)!.attrs.id)).toEqual(['e0', 'e2', 'e3']);
    await l2.close();
  });

  it('notifies listeners after events are durable', async () => {
    const l = new EventLog({ dir: tmpDir(), segmentBytes: 1 << 20 });
    l.open();
    const seen: number[] = [];
    l.onAppend(() => seen.push(l.end));
    await l.appendAsync(ev(0));
    expect(seen).toEqual([1]);
    await l.close();
  });
});

describe('CursorStore', () => {
  it('persists atomically and reloads; an unreadable file starts empty', async () => {
    const dir = tmpDir();
    const c = new CursorStore(dir);
    c.load();
    c.set('trigger/default/a', 42);
    c.set('trigger/default/b', 7);
    await c.flush();
    const c2 = new CursorStore(dir);
    const loaded = c2.load();
    expect(loaded.intact).toBe(true);
    expect(Object.fromEntries(loaded.cursors)).toEqual({ 'trigger/default/a': 42, 'trigger/default/b': 7 });
    fs.writeFileSync(path.join(dir, 'cursors.json'), '{"trig');
    const bad = new CursorStore(dir).load();
    expect(bad.cursors.size).toBe(0);
    expect(bad.intact).toBe(false);
  });
});
