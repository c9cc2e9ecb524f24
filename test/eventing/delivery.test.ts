// Dispatch over real sockets: routing by filters, replies, TTL, retries/backoff, Retry-After, dead-letter sinks,
// long events, delivery format, ordering and reload behaviour.
import { describe, expect, it } from 'vitest';
import { broker, ce, idIs, postEvent, sleep, trigger, perTestFixtures } from './helpers.js';

const { sinkOf, brokerOf } = perTestFixtures();

describe('routing', () => {
  it('two triggers with different filters each get exactly their event; no filter gets both', async () => {
    const a = await sinkOf();
    const c = await sinkOf();
    const all = await sinkOf();
    const b = await brokerOf([
      broker('default'),
      trigger('ta', { filter: { attributes: { type: 'type.a' } }, subscriber: { uri: a.url } }),
      trigger('tc', { filters: [{ prefix: { type: 'type.c' } }], subscriber: { uri: c.url } }),
      trigger('all', { subscriber: { uri: all.url } }),
    ]);
    const url = `${b.url}/default/default`;
    expect((await postEvent(url, ce('e1', { type: 'type.a' }))).status).toBe(202);
    expect((await postEvent(url, ce('e2', { type: 'type.c.sub' }))).status).toBe(202);
    await all.waitFor(2);
    await a.waitFor(1);
    await c.waitFor(1);
    await sleep(150);
    expect(a.ids()).toEqual(['e1']);
    expect(c.ids()).toEqual(['e2']);
    expect(all.ids().sort()).toEqual(['e1', 'e2']);
  });

  it('two triggers to the same subscriber: one delivery each', async () => {
    const s = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t1', { subscriber: { uri: s.url } }), trigger('t2', { subscriber: { uri: s.url } })]);
    await postEvent(`${b.url}/default/default`, ce('dup'));
    await s.waitFor(2);
    await sleep(150);
    expect(s.ids()).toEqual(['dup', 'dup']);
  });

  it('reply chain: trigger 1 replies, the reply matches trigger 2 exactly once; TTL is restored then decremented', async () => {
    const replier = await sinkOf((r, _n, res) => {
      res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': 'reply-of-' + r.headers['ce-id'], 'ce-source': '/replier', 'ce-type': 'type.reply', 'content-type': 'text/plain' }).end('pong');
    });
    const second = await sinkOf();
    const b = await brokerOf([
      broker('default'),
      trigger('t1', { filter: { attributes: { type: 'type.ping' } }, subscriber: { uri: replier.url } }),
      trigger('t2', { filter: { attributes: { type: 'type.reply' } }, subscriber: { uri: second.url } }),
    ]);
    expect((await postEvent(`${b.url}/default/default`, ce('p1', { type: 'type.ping', knativebrokerttl: '10' }))).status).toBe(202);
    const [got] = await second.waitFor(1);
    expect(got!.headers['ce-id']).toBe('reply-of-p1');
    expect(got!.body.toString()).toBe('pong');
    expect(got!.headers['ce-knativebrokerttl']).toBeUndefined();
    expect(got!.headers['prefer']).toBe('reply');
    await sleep(200);
    expect(second.received.length).toBe(1);
    expect(replier.received.length).toBe(1);
    // The stored reply carries the TTL: ingress 10 → 9, reply restored to 9 → re-ingested as 8.
    const elog = b.eventing.logOf('broker.default.default')!;
    expect(elog.get(1)!.attrs.knativebrokerttl).toBe(8);
  });

  it('TTL exhaustion ends a reply loop: the reply is rejected with 400 and the original goes to the dead-letter sink', async () => {
    const looper = await sinkOf((r, n, res) => {
      res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': `loop-${n}`, 'ce-source': '/loop', 'ce-type': 'type.loop' }).end();
    });
    const dls = await sinkOf();
    const b = await brokerOf([
      broker('default'),
      trigger('loop', { filter: { attributes: { type: 'type.loop' } }, subscriber: { uri: looper.url }, delivery: { deadLetterSink: { uri: dls.url }, retry: 2, backoffDelay: 'PT0.01S' } }),
    ]);
    expect((await postEvent(`${b.url}/default/default`, ce('start', { type: 'type.loop', knativebrokerttl: '4' }))).status).toBe(202);
    const [dl] = await dls.waitFor(1);
    // ttl 4 → 3 (start), reply loop-1 → 2, loop-2 → 1, loop-3 → 0 rejected: three deliveries, one dead letter.
    expect(looper.received.length).toBe(3);
    expect(dl!.headers['ce-knativeerrorcode']).toBe('400');
    expect(dl!.headers['ce-knativeerrordest']).toBe('http://broker-ingress.knative-eventing.svc.cluster.local/default/default');
    expect(dl!.headers['ce-id']).toBe('loop-2');
  });
});

describe('retries and dead letters', () => {
  it('linear backoff as mt-broker: first retry immediate, then delay, 2·delay', async () => {
    const s = await sinkOf((_r, n, res) => res.writeHead(n <= 3 ? 503 : 200).end());
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url }, delivery: { retry: 5, backoffPolicy: 'linear', backoffDelay: 'PT0.4S' } })]);
    await postEvent(`${b.url}/default/default`, ce('r1'));
    const got = await s.waitFor(4, 5000);
    const gaps = [1, 2, 3].map((i) => got[i]!.at - got[i - 1]!.at);
    expect(gaps[0]).toBeLessThan(300);
    expect(gaps[1]).toBeGreaterThanOrEqual(380);
    expect(gaps[2]).toBeGreaterThanOrEqual(780);
    await sleep(100);
    expect(s.received.length).toBe(4);
  });

  it('exponential backoff: delay, 2·delay, 4·delay; retry = extra attempts, then drop (no sink)', async () => {
    const s = await sinkOf((_r, _n, res) => res.writeHead(500).end());
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url }, delivery: { retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.1S' } })]);
    await postEvent(`${b.url}/default/default`, ce('x1'));
    const got = await s.waitFor(4, 5000);
    const gaps = [1, 2, 3].map((i) => got[i]!.at - got[i - 1]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(gaps[2]).toBeGreaterThanOrEqual(390);
    await sleep(300);
    expect(s.received.length).toBe(4);
    const r = b.eventing.readerOf('broker.default.default', 'trigger/default/t')!;
    expect(r.stats.dropped).toBe(1);
  });

  it('non-retryable 4xx (400, 422) is not retried; 404/408/409/429 are', async () => {
    for (const [code, attempts] of [[400, 1], [422, 1], [404, 3], [409, 3], [429, 3]] as const) {
      const s = await sinkOf((_r, _n, res) => res.writeHead(code).end());
      const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url }, delivery: { retry: 2, backoffDelay: 'PT0.01S' } })]);
      await postEvent(`${b.url}/default/default`, ce('c' + code));
      await s.waitFor(attempts);
      await sleep(150);
      expect(s.received.length, String(code)).toBe(attempts);
    }
  });

  it('Retry-After is honoured only when retryAfterMax is set, capped by it', async () => {
    const s = await sinkOf((_r, n, res) => (n === 1 ? res.writeHead(429, { 'retry-after': '1' }).end() : res.writeHead(200).end()));
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url }, delivery: { retry: 2, backoffDelay: 'PT0.01S', retryAfterMax: 'PT5S' } })]);
    await postEvent(`${b.url}/default/default`, ce('ra'));
    const got = await s.waitFor(2, 5000);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(900);

    const s2 = await sinkOf((_r, n, res) => (n === 1 ? res.writeHead(503, { 'retry-after': '30' }).end() : res.writeHead(200).end()));
    const b2 = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s2.url }, delivery: { retry: 2, backoffDelay: 'PT0.01S', retryAfterMax: 'PT0.3S' } })]);
    await postEvent(`${b2.url}/default/default`, ce('ra2'));
    const got2 = await s2.waitFor(2, 5000);
    const gap2 = got2[1]!.at - got2[0]!.at;
    expect(gap2).toBeGreaterThanOrEqual(280);
    expect(gap2).toBeLessThan(2000);

    const s3 = await sinkOf((_r, n, res) => (n === 1 ? res.writeHead(429, { 'retry-after': '30' }).end() : res.writeHead(200).end()));
    const b3 = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s3.url }, delivery: { retry: 2, backoffDelay: 'PT0.01S' } })]);
    await postEvent(`${b3.url}/default/default`, ce('ra3'));
    const got3 = await s3.waitFor(2, 5000);
    expect(got3[1]!.at - got3[0]!.at).toBeLessThan(1000);
  });

  it('dead-letter sink for an unreachable subscriber: knativeerrordest = subscriber URI, code 500', async () => {
    const dls = await sinkOf();
    const b = await brokerOf([
      broker('default'),
      trigger('t', { subscriber: { uri: 'http://127.0.0.1:1/hook' }, delivery: { retry: 1, backoffDelay: 'PT0.01S', deadLetterSink: { uri: dls.url } } }),
    ]);
    await postEvent(`${b.url}/default/default`, ce('dead-1', { datacontenttype: 'text/plain' }), 'payload');
    const [dl] = await dls.waitFor(1);
    expect(dl!.headers['ce-id']).toBe('dead-1');
    expect(dl!.headers['ce-knativeerrordest']).toBe('http://127.0.0.1:1/hook');
    expect(dl!.headers['ce-knativeerrorcode']).toBe('500');
    expect(dl!.body.toString()).toBe('payload');
    expect(dl!.headers['prefer']).toBeUndefined();
    await sleep(100);
    expect(dls.received.length).toBe(1);
  });

  it('dead-letter sink for a 422 with a body: knativeerrorcode 422, knativeerrordata = base64(body), exactly one', async () => {
    const failer = await sinkOf((_r, _n, res) => res.writeHead(422, { 'content-type': 'text/plain' }).end('bad thing happened'));
    const dls = await sinkOf();
    // The trigger has no delivery of its own, so the Broker's (with the sink) applies.
    const b = await brokerOf([broker('default', 'default', { delivery: { deadLetterSink: { uri: dls.url }, retry: 3 } }), trigger('t', { subscriber: { uri: failer.url } })]);
    await postEvent(`${b.url}/default/default`, ce('dead-2'));
    const [dl] = await dls.waitFor(1);
    expect(dl!.headers['ce-knativeerrorcode']).toBe('422');
    expect(dl!.headers['ce-knativeerrordest']).toBe(failer.url);
    expect(Buffer.from(String(dl!.headers['ce-knativeerrordata']), 'base64').toString()).toBe('bad thing happened');
    await sleep(150);
    expect(failer.received.length).toBe(1);
    expect(dls.received.length).toBe(1);
  });

  it('knativeerrordata is truncated to 1024 base64 characters', async () => {
    const failer = await sinkOf((_r, _n, res) => res.writeHead(400).end('e'.repeat(5000)));
    const dls = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: failer.url }, delivery: { deadLetterSink: { uri: dls.url } } })]);
    await postEvent(`${b.url}/default/default`, ce('dead-3'));
    const [dl] = await dls.waitFor(1);
    expect(String(dl!.headers['ce-knativeerrordata']).length).toBe(1024);
  });

  it('a 2xx with a non-CloudEvent body is a failure (retried, then dead-lettered)', async () => {
    const s = await sinkOf((_r, _n, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('not an event'));
    const dls = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url }, delivery: { retry: 1, backoffDelay: 'PT0.01S', deadLetterSink: { uri: dls.url } } })]);
    await postEvent(`${b.url}/default/default`, ce('nonce'));
    const [dl] = await dls.waitFor(1);
    expect(s.received.length).toBe(2);
    expect(dl!.headers['ce-knativeerrorcode']).toBe('502');
  });

  it('per-attempt timeout: a hanging subscriber times out, is retried, then dead-lettered with code 500', async () => {
    const hang = await sinkOf((_r, _n, res) => setTimeout(() => res.writeHead(200).end(), 1500));
    const dls = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: hang.url }, delivery: { retry: 1, backoffDelay: 'PT0.01S', timeout: 'PT0.2S', deadLetterSink: { uri: dls.url } } })]);
    const t0 = Date.now();
    await postEvent(`${b.url}/default/default`, ce('slow'));
    const [dl] = await dls.waitFor(1, 5000);
    expect(Date.now() - t0).toBeLessThan(1400);
    expect(hang.received.length).toBe(2);
    expect(dl!.headers['ce-knativeerrorcode']).toBe('500');
    expect(Buffer.from(String(dl!.headers['ce-knativeerrordata']), 'base64').toString()).toMatch(/timeout after 200 ms/);
  });

  it('Trigger delivery replaces the Broker delivery as a whole', async () => {
    const brokerDls = await sinkOf();
    const s = await sinkOf((_r, _n, res) => res.writeHead(500).end());
    const b = await brokerOf([
      broker('default', 'default', { delivery: { deadLetterSink: { uri: brokerDls.url }, retry: 0 } }),
      trigger('t', { subscriber: { uri: s.url }, delivery: { retry: 1, backoffDelay: 'PT0.01S' } }),
    ]);
    await postEvent(`${b.url}/default/default`, ce('repl'));
    await s.waitFor(2);
    await sleep(200);
    expect(brokerDls.received.length).toBe(0); // the trigger's delivery has no sink: dropped, not the broker's DLS
  });
});

describe('payloads, formats, ordering, reload', () => {
  it('a 36 KB text event is delivered exactly once, byte for byte', async () => {
    const s = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url } })]);
    const body = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(1024); // 36,864 bytes
    expect((await postEvent(`${b.url}/default/default`, ce('long', { datacontenttype: 'text/plain' }), body)).status).toBe(202);
    const [got] = await s.waitFor(1);
    await sleep(200);
    expect(s.received.length).toBe(1);
    expect(got!.body.toString()).toBe(body);
  });

  it('delivery.format json sends structured mode; binary is the default', async () => {
    const s = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url }, delivery: { format: 'json' } })]);
    await postEvent(`${b.url}/default/default`, ce('js', { datacontenttype: 'application/json', myext: 'v' }), '{"a":1}');
    const [got] = await s.waitFor(1);
    expect(got!.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    const obj = JSON.parse(got!.body.toString());
    expect(obj).toMatchObject({ id: 'js', specversion: '1.0', myext: 'v', data: { a: 1 } });
    expect(obj.knativebrokerttl).toBeUndefined();
    expect(got!.headers['ce-id']).toBeUndefined();
  });

  it('ordered delivery keeps order with a slow, jittery subscriber; unordered runs concurrently', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    const slow = (_r: unknown, _n: number, res: import('node:http').ServerResponse): void => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      setTimeout(() => {
        concurrent--;
        res.writeHead(200).end();
      }, 5 + Math.random() * 20);
    };
    const s = await sinkOf(slow);
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url } }, 'default', { 'wharf.dev/delivery-order': 'ordered' })]);
    for (let i = 0; i < 20; i++) await postEvent(`${b.url}/default/default`, ce(`o${i}`));
    await s.waitFor(20);
    expect(s.ids()).toEqual(Array.from({ length: 20 }, (_, i) => `o${i}`));
    expect(maxConcurrent).toBe(1);

    maxConcurrent = 0;
    const s2 = await sinkOf(slow);
    const b2 = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s2.url } })]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => postEvent(`${b2.url}/default/default`, ce(`u${i}`))));
    await s2.waitFor(20);
    expect(maxConcurrent).toBeGreaterThan(1);
  });

  it('ordered per partitionkey: each key in order, keys in parallel', async () => {
    const s = await sinkOf((_r, _n, res) => setTimeout(() => res.writeHead(200).end(), Math.random() * 15));
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url } }, 'default', { 'wharf.dev/delivery-order': 'ordered' })]);
    await Promise.all(
      ['a', 'b', 'c'].map(async (k) => {
        for (let i = 0; i < 8; i++) await postEvent(`${b.url}/default/default`, ce(`${k}${i}`, { partitionkey: k }));
      }),
    );
    await s.waitFor(24);
    for (const k of ['a', 'b', 'c']) expect(s.ids().filter((id) => id.startsWith(k))).toEqual(Array.from({ length: 8 }, (_, i) => `${k}${i}`));
  });

  it('reload: a subscriber change keeps the cursor; a new trigger starts at the log end', async () => {
    const s1 = await sinkOf();
    const s2 = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s1.url } })]);
    const url = `${b.url}/default/default`;
    await postEvent(url, ce('before-1'));
    await s1.waitFor(1);
    b.apply([broker('default'), trigger('t', { subscriber: { uri: s2.url } }), trigger('late', { subscriber: { uri: s1.url } })]);
    await postEvent(url, ce('after-1'));
    await s2.waitFor(1);
    await s1.waitFor(2);
    await sleep(150);
    expect(s1.ids()).toEqual(['before-1', 'after-1']); // 'late' did not see before-1
    expect(s2.ids()).toEqual(['after-1']);
  });

  it('a Knative Service subscriber ref resolves to its cluster-local URL (sent to the internal listener with that Host)', async () => {
    const s = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'display', namespace: 'default' } } })]);
    b.eventing.setInternalOrigin(`http://127.0.0.1:${s.port}`);
    await postEvent(`${b.url}/default/default`, ce('ksvc'));
    const [got] = await s.waitFor(1);
    expect(got!.headers.host).toBe('display.default.svc.cluster.local');
    expect(b.eventing.debug().subscribers[0]!.subscriber).toBe('http://display.default.svc.cluster.local');
  });

  it('/debug/eventing shows brokers, triggers with address, readiness and lag', async () => {
    const s = await sinkOf();
    const b = await brokerOf([broker('default'), trigger('t', { subscriber: { uri: s.url } }), trigger('orphan', { broker: 'missing', subscriber: { uri: s.url } })]);
    await postEvent(`${b.url}/default/default`, ce('dbg'));
    await s.waitFor(1);
    await sleep(120);
    const d = b.eventing.debug();
    expect(d.brokers[0]).toMatchObject({ broker: 'default/default', address: 'http://broker-ingress.knative-eventing.svc.cluster.local/default/default', ready: true });
    expect(d.brokers[0]!.log!.end).toBe(1);
    const t = d.subscribers.find((x) => x.name === 'default/t')!;
    expect(t).toMatchObject({ ready: true, lag: 0, cursor: 1 });
    expect(d.subscribers.find((x) => x.name === 'default/orphan')).toMatchObject({ ready: false, reason: 'broker not found' });
    expect(idIs('dbg')(s.received[0]!)).toBe(true);
  });
});

describe('metrics', () => {
  it('counts broker events by result, deliveries by code class, dead letters, lag and log bytes', async () => {
    const { registry } = await import('../../src/observability/metrics.js');
    const s = await sinkOf((_r, n, res) => res.writeHead(n === 1 ? 500 : 200).end());
    const b = await brokerOf([broker('metrics', 'mns'), trigger('mt', { broker: 'metrics', subscriber: { uri: s.url }, delivery: { retry: 1, backoffDelay: 'PT0.01S' } }, 'mns')]);
    expect((await postEvent(`${b.url}/mns/metrics`, ce('m1'))).status).toBe(202);
    expect((await postEvent(`${b.url}/mns/metrics`, ce('m2', { knativebrokerttl: '1' }))).status).toBe(400);
    await s.waitFor(2);
    await sleep(150);
    const text = await registry.metrics();
    expect(text).toContain('wharf_broker_events_total{namespace="mns",broker="metrics",result="accepted"} 1');
    expect(text).toContain('wharf_broker_events_total{namespace="mns",broker="metrics",result="ttl_exhausted"} 1');
    expect(text).toContain('wharf_trigger_deliveries_total{trigger="mns/mt",code_class="5xx"} 1');
    expect(text).toContain('wharf_trigger_deliveries_total{trigger="mns/mt",code_class="2xx"} 1');
    expect(text).toContain('wharf_trigger_lag_events{trigger="mns/mt"} 0');
    expect(text).toMatch(/wharf_broker_log_bytes\{namespace="mns",broker="metrics"\} [1-9]\d*/);
    expect(text).toMatch(/wharf_trigger_delivery_duration_seconds_count\{trigger="mns\/mt"\} 2/);
  });
});
