// Channel + Subscription fan-out over the channel host, and PingSource ticks (second-resolution schedule).
import { describe, expect, it } from 'vitest';
import type { KObject } from '../../src/model/objects.js';
import { pingEvent } from '../../src/eventing/ping.js';
import { broker, ce, postWithHost, sleep, trigger, perTestFixtures } from './helpers.js';

const { sinkOf, brokerOf } = perTestFixtures();

const channel = (name: string, kind = 'InMemoryChannel'): KObject => ({ apiVersion: 'messaging.knative.dev/v1', kind, metadata: { name, namespace: 'default' } });
const subscription = (name: string, spec: Record<string, unknown>): KObject => ({
  apiVersion: 'messaging.knative.dev/v1',
  kind: 'Subscription',
  metadata: { name, namespace: 'default' },
  spec: { channel: { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', name: 'orders' }, ...spec },
});

describe('Channel and Subscription', () => {
  it('fans out every event to every subscription, addressed by <name>-kn-channel host; replies go to spec.reply', async () => {
    const s1 = await sinkOf();
    const s2 = await sinkOf((r, _n, res) =>
      res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': 'r-' + r.headers['ce-id'], 'ce-source': '/s2', 'ce-type': 'reply' }).end(),
    );
    const replies = await sinkOf();
    const b = await brokerOf([
      channel('orders'),
      subscription('one', { subscriber: { uri: s1.url } }),
      subscription('two', { subscriber: { uri: s2.url }, reply: { uri: replies.url } }),
    ]);
    for (const host of ['orders-kn-channel.default.svc.cluster.local', 'orders-kn-channel.default.svc', 'orders-kn-channel.default']) {
      expect(await postWithHost(`${b.url}/`, host, ce('c-' + host.split('.').length)), host).toBe(202);
    }
    await s1.waitFor(3);
    await s2.waitFor(3);
    await replies.waitFor(3);
    await sleep(100);
    expect(s1.ids().sort()).toEqual(['c-2', 'c-3', 'c-5']);
    expect(s2.ids().sort()).toEqual(['c-2', 'c-3', 'c-5']);
    expect(replies.ids().sort()).toEqual(['r-c-2', 'r-c-3', 'r-c-5']);
    expect(s1.received[0]!.headers['ce-knativebrokerttl']).toBeUndefined();
    // an unknown channel host → 404
    expect(await postWithHost(`${b.url}/`, 'nope-kn-channel.default.svc.cluster.local', ce('x'))).toBe(404);
  });

  it('a Subscription with only a reply forwards the event itself there', async () => {
    const s = await sinkOf();
    const b = await brokerOf([channel('orders'), subscription('relay', { reply: { uri: s.url } })]);
    expect(await postWithHost(`${b.url}/`, 'orders-kn-channel.default.svc.cluster.local', ce('relayed'))).toBe(202);
    const [got] = await s.waitFor(1);
    expect(got!.headers['ce-id']).toBe('relayed');
    expect(got!.headers['prefer']).toBeUndefined();
  });

  it('a Subscription can feed a Broker (ref) and the broker routes it on', async () => {
    const s = await sinkOf();
    const b = await brokerOf([
      channel('orders', 'Channel'),
      broker('default'),
      subscription('to-broker', { subscriber: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } }),
      trigger('t', { subscriber: { uri: s.url } }),
    ]);
    expect(await postWithHost(`${b.url}/`, 'orders-kn-channel.default.svc.cluster.local', ce('via-channel'))).toBe(202);
    const [got] = await s.waitFor(1);
    expect(got!.headers['ce-id']).toBe('via-channel');
  });
});

describe('PingSource', () => {
  it('emits dev.knative.sources.ping on schedule into a broker, with data and contentType', async () => {
    const s = await sinkOf();
    const ping: KObject = {
      apiVersion: 'sources.knative.dev/v1',
      kind: 'PingSource',
      metadata: { name: 'heartbeat', namespace: 'default' },
      spec: { schedule: '* * * * * *', contentType: 'application/json', data: '{"message":"hello"}', sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } },
    };
    const b = await brokerOf([broker('default'), trigger('t', { filter: { attributes: { type: 'dev.knative.sources.ping' } }, subscriber: { uri: s.url } }), ping]);
    const got = await s.waitFor(2, 5000);
    const [a, c] = got;
    expect(a!.headers['ce-type']).toBe('dev.knative.sources.ping');
    expect(a!.headers['ce-source']).toBe('/apis/v1/namespaces/default/pingsources/heartbeat');
    expect(a!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(a!.body.toString())).toEqual({ message: 'hello' });
    // ticks are on whole seconds, one second apart, with distinct ids
    const t1 = Date.parse(String(a!.headers['ce-time']));
    const t2 = Date.parse(String(c!.headers['ce-time']));
    expect(t1 % 1000).toBe(0);
    expect(t2 - t1).toBeGreaterThan(0);
    expect((t2 - t1) % 1000).toBe(0); // 1000 unless a loaded machine stalled the loop past a tick (skipped, not burst)
    expect(a!.headers['ce-id']).not.toBe(c!.headers['ce-id']);
    expect(b.eventing.debug().pings[0]).toMatchObject({ name: 'default/heartbeat', ready: true });
  });

  it('sends straight to a URI sink; dataBase64; no burst of missed ticks after a pause', async () => {
    const s = await sinkOf((_r, _n, res) => res.writeHead(202).end());
    const ping: KObject = {
      apiVersion: 'sources.knative.dev/v1',
      kind: 'PingSource',
      metadata: { name: 'bin', namespace: 'default' },
      spec: { schedule: '* * * * * *', contentType: 'application/octet-stream', dataBase64: 'AQID', sink: { uri: s.url } },
    };
    const b = await brokerOf([ping]);
    await s.waitFor(1, 5000);
    expect([...s.received[0]!.body]).toEqual([1, 2, 3]);
    // Stall the event loop for 2.5 s: the scheduler must not fire the missed ticks in a burst afterwards.
    const n0 = s.received.length;
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      /* busy */
    }
    await sleep(1300);
    expect(s.received.length - n0).toBeLessThanOrEqual(3);
    expect(b.eventing.debug().pings[0]!.ticks).toMatchObject({ failed: 0 });
  });

  it('pingEvent matches Knative: type, source, time, no datacontenttype without data', () => {
    const ev = pingEvent(
      { key: 'ns/p', namespace: 'ns', name: 'p', schedule: '* * * * *', timezone: null, dataBase64: null, contentType: 'text/plain', source: '/apis/v1/namespaces/ns/pingsources/p', sink: null, ready: true },
      new Date('2026-01-01T00:00:00Z'),
    );
    expect(ev.attrs).toMatchObject({ specversion: '1.0', type: 'dev.knative.sources.ping', source: '/apis/v1/namespaces/ns/pingsources/p', time: '2026-01-01T00:00:00.000Z' });
    expect(ev.attrs.datacontenttype).toBeUndefined();
    expect(ev.data).toBeNull();
  });
});
