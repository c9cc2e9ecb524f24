// Restart semantics in-process: unfinished events are redelivered after a graceful restart, a lost cursor file
// means "from the log start" (never a silent skip), a trigger added later starts at the log end, and compaction
// removes segments once every cursor passed them.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { broker, ce, postEvent, sleep, startBroker, tmpDir, trigger, type TestBroker, perTestFixtures } from './helpers.js';

const { cleanup, sinkOf } = perTestFixtures();

describe('restart', () => {
  it('redelivers events that were not finished before a graceful stop; finished ones are not redelivered', async () => {
    const dataDir = tmpDir();
    let failing = true;
    const s = await sinkOf((r, _n, res) => res.writeHead(failing && r.headers['ce-id'] !== 'ok-0' ? 503 : 200).end());
    const objs = [broker('default'), trigger('t', { subscriber: { uri: s.url }, delivery: { retry: 100, backoffDelay: 'PT0.05S', backoffPolicy: 'linear' } })];
    const b1 = await startBroker(objs, {}, dataDir);
    await postEvent(`${b1.url}/default/default`, ce('ok-0'));
    await s.waitMatching((r) => r.headers['ce-id'] === 'ok-0');
    for (let i = 1; i <= 3; i++) expect((await postEvent(`${b1.url}/default/default`, ce(`pending-${i}`))).status).toBe(202);
    await s.waitMatching((r) => String(r.headers['ce-id']).startsWith('pending'), 6);
    await sleep(100);
    await b1.close();
    failing = false;
    const before = s.received.length;
    const b2 = await startBroker(objs, {}, dataDir);
    cleanup.push(() => b2.close());
    await s.waitFor(before + 3);
    await sleep(200);
    const after = s.ids().slice(before);
    expect(after.sort()).toEqual(['pending-1', 'pending-2', 'pending-3']);
  });

  it('a lost cursor file replays from the log start; a trigger added after restart starts at the end', async () => {
    const dataDir = tmpDir();
    const s = await sinkOf();
    const late = await sinkOf();
    const b1 = await startBroker([broker('default'), trigger('t', { subscriber: { uri: s.url } })], {}, dataDir);
    for (let i = 0; i < 3; i++) await postEvent(`${b1.url}/default/default`, ce(`e${i}`));
    await s.waitFor(3);
    await b1.close();
    fs.rmSync(path.join(dataDir, 'eventing', 'broker.default.default', 'cursors.json'));
    const b2: TestBroker = await startBroker([broker('default'), trigger('t', { subscriber: { uri: s.url } })], {}, dataDir);
    cleanup.push(() => b2.close());
    await s.waitFor(6);
    expect(s.ids().slice(3).sort()).toEqual(['e0', 'e1', 'e2']);
    b2.apply([broker('default'), trigger('t', { subscriber: { uri: s.url } }), trigger('late', { subscriber: { uri: late.url } })]);
    await postEvent(`${b2.url}/default/default`, ce('e3'));
    await late.waitFor(1);
    await sleep(100);
    expect(late.ids()).toEqual(['e3']);
  });

  it('compacts segments every trigger has passed, and keeps those a stuck trigger still needs', async () => {
    const ok = await sinkOf();
    const stuck = await sinkOf((_r, _n, res) => res.writeHead(503).end());
    const objs = [broker('default'), trigger('ok', { subscriber: { uri: ok.url } })];
    const b = await startBroker(objs, { 'broker-segment-bytes': '4096' });
    cleanup.push(() => b.close());
    const url = `${b.url}/default/default`;
    for (let i = 0; i < 40; i++) await postEvent(url, ce(`c${i}`, { datacontenttype: 'text/plain' }), 'x'.repeat(400));
    await ok.waitFor(40);
    await sleep(200);
    const elog = b.eventing.logOf('broker.default.default')!;
    expect(elog.segmentCount).toBe(1);
    expect(elog.start).toBeGreaterThan(0);
    b.apply([...objs, trigger('stuck', { subscriber: { uri: stuck.url }, delivery: { retry: 1000, backoffDelay: 'PT1S', backoffPolicy: 'linear' } })]);
    for (let i = 40; i < 80; i++) await postEvent(url, ce(`c${i}`, { datacontenttype: 'text/plain' }), 'x'.repeat(400));
    await ok.waitFor(80);
    await sleep(200);
    expect(elog.segmentCount).toBeGreaterThan(3); // the stuck trigger holds its first unfinished event's segment
    expect(b.eventing.debug().subscribers.find((x) => x.name === 'default/stuck')!.lag).toBe(40);
  });
});
