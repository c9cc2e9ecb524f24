// Broker ingress over real sockets: Knative's status codes and order of checks, CloudEvents 1.0/0.3 in binary and
// structured mode (built with the cloudevents SDK and with raw fetch), percent-encoding, TTL, 413, 503.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudEvent, HTTP } from 'cloudevents';
import { broker, ce, idIs, postEvent, startBroker, startSink, trigger, type Sink, type TestBroker } from './helpers.js';

let b: TestBroker;
let sink: Sink;
let url: string;

beforeAll(async () => {
  sink = await startSink();
  b = await startBroker([broker('default'), trigger('all', { subscriber: { uri: sink.url } })], { 'broker-max-event-bytes': '4096' });
  url = `${b.url}/default/default`;
});
afterAll(async () => {
  await b.close();
  await sink.close();
});

describe('broker ingress status codes', () => {
  it('OPTIONS → 200 with Allow and WebHook headers', async () => {
    const r = await fetch(url, { method: 'OPTIONS' });
    expect(r.status).toBe(200);
    expect(r.headers.get('allow')).toBe('POST, OPTIONS');
    expect(r.headers.get('webhook-allowed-origin')).toBe('*');
    expect(r.headers.get('webhook-allowed-rate')).toBe('*');
  });

  it.each(['GET', 'PUT', 'PATCH', 'DELETE'])('%s → 405 with Allow', async (method) => {
    const r = await fetch(url, { method });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('path / → 404, wrong segment count → 400, trailing slash allowed', async () => {
    expect((await postEvent(`${b.url}/`, ce('p1'))).status).toBe(404);
    expect((await postEvent(`${b.url}/knative/ns/name`, ce('p2'))).status).toBe(400);
    expect((await postEvent(`${b.url}/onlyone`, ce('p3'))).status).toBe(400);
    expect((await postEvent(`${url}/`, ce('p4'))).status).toBe(202);
  });

  it('unknown broker → 404, but a malformed event to an unknown broker → 400 (parse first)', async () => {
    expect((await postEvent(`${b.url}/default/nope`, ce('u1'))).status).toBe(404);
    const r = await fetch(`${b.url}/default/nope`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(r.status).toBe(400);
  });

  it('non-CloudEvent, unknown specversion, missing required attributes → 400', async () => {
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(400);
    expect((await postEvent(url, { ...ce('v'), specversion: '19.0' })).status).toBe(400);
    for (const missing of ['id', 'source', 'type']) {
      const attrs = ce('m-' + missing);
      delete attrs[missing];
      expect((await postEvent(url, attrs)).status, missing).toBe(400);
    }
    expect((await postEvent(url, ce('blank', { type: '   ' }))).status).toBe(400);
  });

  it('batched mode → 400', async () => {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify([{ specversion: '1.0', id: 'b', source: '/s', type: 't' }]) });
    expect(r.status).toBe(400);
  });

  it('invalid attribute name, ce-datacontenttype in binary mode, bad dataschema/time → 400', async () => {
    expect((await fetch(url, { method: 'POST', headers: { ...hdrs(ce('n1')), 'ce-my_ext': 'x' } })).status).toBe(400);
    expect((await fetch(url, { method: 'POST', headers: { ...hdrs(ce('n2')), 'ce-datacontenttype': 'text/plain' } })).status).toBe(400);
    expect((await postEvent(url, ce('n3', { dataschema: 'not a uri' }))).status).toBe(400);
    expect((await postEvent(url, ce('n4', { time: 'yesterday' }))).status).toBe(400);
    const structured = { specversion: '1.0', id: 's', source: '/s', type: 't', 'Bad-Name': 1 };
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(structured) })).status).toBe(400);
    const both = { specversion: '1.0', id: 's', source: '/s', type: 't', data: 1, data_base64: 'AQID' };
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(both) })).status).toBe(400);
  });

  it('body over the limit → 413 (by Content-Length and by streaming)', async () => {
    const big = 'x'.repeat(5000);
    expect((await postEvent(url, ce('big', { datacontenttype: 'text/plain' }), big)).status).toBe(413);
    // chunked: no Content-Length, limit hit while reading
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const r = await fetch(url, { method: 'POST', headers: hdrs(ce('big2')), body: stream, duplex: 'half' } as RequestInit);
    expect(r.status).toBe(413);
  });

  it('knativebrokerttl of 1 or 0 → 400; 2 → 202', async () => {
    expect((await postEvent(url, ce('t1', { knativebrokerttl: '1' }))).status).toBe(400);
    expect((await postEvent(url, ce('t0', { knativebrokerttl: '0' }))).status).toBe(400);
    expect((await postEvent(url, ce('t2', { knativebrokerttl: '2' }))).status).toBe(202);
  });
});

function hdrs(attrs: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) h['ce-' + k] = v;
  return h;
}

describe('accepted CloudEvents', () => {
  it('SDK binary and structured, 1.0 and 0.3 → 202, delivered in binary mode with knativearrivaltime', async () => {
    const events = [
      new CloudEvent({ specversion: '1.0', id: 'sdk-1', source: '/sdk', type: 'sdk.binary', data: { n: 1 } }),
      new CloudEvent({ specversion: '0.3', id: 'sdk-2', source: '/sdk', type: 'sdk.binary', data: { n: 2 } }),
    ];
    for (const ev of events) {
      for (const mode of ['binary', 'structured'] as const) {
        const msg = mode === 'binary' ? HTTP.binary(ev) : HTTP.structured(ev);
        const r = await fetch(url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
        expect(r.status, `${ev.specversion} ${mode}`).toBe(202);
      }
    }
    const got = await sink.waitMatching(idIs('sdk-1', 'sdk-2'), 4);
    const byId = got.map((r) => [r.headers['ce-id'], r.headers['ce-specversion'], JSON.parse(r.body.toString()).n]);
    expect(byId.sort()).toEqual([
      ['sdk-1', '1.0', 1],
      ['sdk-1', '1.0', 1],
      ['sdk-2', '0.3', 2],
      ['sdk-2', '0.3', 2],
    ]);
    for (const r of got) {
      expect(r.headers['ce-knativearrivaltime']).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(r.headers['ce-knativebrokerttl']).toBeUndefined();
      expect(r.headers['content-type']).toMatch(/json/);
      expect(r.headers['prefer']).toBe('reply');
      expect(r.headers['kn-namespace']).toBe('default');
    }
  });

  it('structured with any charset parameter and data_base64', async () => {
    const body = JSON.stringify({ specversion: '1.0', id: 'cs-1', source: '/s', type: 't', datacontenttype: 'application/octet-stream', data_base64: 'AQID' });
    for (const ct of ['application/cloudevents+json; charset=UTF-8', 'application/cloudevents+json;charset=utf-8', 'application/cloudevents+json']) {
      expect((await fetch(url, { method: 'POST', headers: { 'content-type': ct }, body })).status, ct).toBe(202);
    }
    const got = await sink.waitMatching(idIs('cs-1'), 3);
    for (const r of got) {
      expect([...r.body]).toEqual([1, 2, 3]);
      expect(r.headers['content-type']).toBe('application/octet-stream');
    }
  });

  it('percent-encoded ce- headers are decoded; invalid UTF-8 (overlong) → 400; values re-encoded on delivery', async () => {
    const r = await fetch(url, { method: 'POST', headers: { ...hdrs(ce('pct')), 'ce-myext': 'Euro%20%E2%82%AC%20%22q%22' } });
    expect(r.status).toBe(202);
    expect((await fetch(url, { method: 'POST', headers: { ...hdrs(ce('bad8')), 'ce-myext': 'x%C0%A0' } })).status).toBe(400);
    expect((await fetch(url, { method: 'POST', headers: { ...hdrs(ce('bad%')), 'ce-myext': 'x%G1' } })).status).toBe(400);
    const [got] = await sink.waitMatching(idIs('pct'));
    expect(got!.headers['ce-myext']).toBe('Euro%20%E2%82%AC%20%22q%22');
    expect(decodeURIComponent(String(got!.headers['ce-myext']))).toBe('Euro € "q"');
  });

  it('pass-through headers only: x-request-id, knative-*, x-b3-*, traceparent', async () => {
    const r = await postEvent(url, ce('hdr'), '', {
      'x-request-id': 'rid-1',
      'knative-foo': 'bar',
      'x-b3-traceid': 'abc',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      foo: 'not-forwarded',
    });
    expect(r.status).toBe(202);
    const [got] = await sink.waitMatching(idIs('hdr'));
    expect(got!.headers['x-request-id']).toBe('rid-1');
    expect(got!.headers['knative-foo']).toBe('bar');
    expect(got!.headers['x-b3-traceid']).toBe('abc');
    expect(got!.headers['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(got!.headers['foo']).toBeUndefined();
  });

  it('storage failure → 503 and the event is not delivered; the next event is fine', async () => {
    const elog = b.eventing.logOf('broker.default.default')!;
    elog.faultNext = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const r = await postEvent(url, ce('fail-1'));
    expect(r.status).toBe(503);
    expect(await r.text()).toMatch(/disk full/);
    expect(b.eventing.debug().brokers[0]!.log!.lastError?.code).toBe('ENOSPC');
    expect((await postEvent(url, ce('ok-after'))).status).toBe(202);
    const [got] = await sink.waitMatching(idIs('ok-after'));
    expect(got!.headers['ce-id']).toBe('ok-after');
    expect(sink.received.some((x) => x.headers['ce-id'] === 'fail-1')).toBe(false);
  });
});
