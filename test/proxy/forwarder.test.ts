import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { request as undiciRequest } from 'undici';
import { startBackend, startStreamingEcho, deadPort, get, echoed, raw, type Backend } from '../support/http.js';
import { fixtureSnapshot } from '../support/snapshot.js';
import { startWharfWith, type TestWharf } from '../support/wharf.js';
import { FakeBackends, FakeTarget, Outcome } from '../support/backends.js';

let a: Backend, b: Backend, slow: Backend, busy: Backend, trailers: Backend, stream: Backend, firehose: Backend;
let firehoseWritten = 0;
let sinkReq: http.IncomingMessage | null = null;
let sink: Backend;
const FIREHOSE_BYTES = 64 * 1024 * 1024;
let dead: number;
let h2: http2.Http2Server;
let h2origin = '';
let w: TestWharf & { backends: FakeBackends };
let hold: FakeTarget;

beforeAll(async () => {
  a = await startBackend('a');
  b = await startBackend('b');
  slow = await startBackend((_req, res) => setTimeout(() => res.end('late'), 1500));
  busy = await startBackend((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain', 'x-from': 'backend' });
    res.end('backend overloaded');
  });
  trailers = await startBackend((_req, res) => {
    res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
    res.write('hello');
    res.addTrailers({ 'x-checksum': 'abc123' });
    res.end();
  });
  stream = await startStreamingEcho();
  // Accepts an upload but does not read it until the test says so.
  sink = await startBackend('sink');
  sink.server.removeAllListeners('request');
  sink.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.pause();
    sinkReq = req;
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(String(n)));
  });
  // Writes as fast as the connection lets it (respecting drain): with end-to-end backpressure it can only get a few
  // socket buffers ahead of a client that stops reading.
  firehose = await startBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': FIREHOSE_BYTES });
    const chunk = Buffer.alloc(64 * 1024, 120);
    const pump = () => {
      while (firehoseWritten < FIREHOSE_BYTES) {
        firehoseWritten += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  h2 = http2.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-proto': req.httpVersion });
    res.end(`h2c ${req.headers[':authority'] ?? req.headers.host} ${req.headers['knative-serving-revision'] ?? ''}`);
  });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  h2origin = `http://127.0.0.1:${(h2.address() as net.AddressInfo).port}`;
  dead = await deadPort();
  const snap = fixtureSnapshot({
    hosts: [
      {
        hosts: ['hello.default.example.com'],
        routes: [
          {
            splits: [
              {
                backend: 'a',
                percent: 100,
                appendHeaders: { 'Knative-Serving-Revision': 'hello-00001', 'Knative-Serving-Namespace': 'default' },
              },
            ],
          },
        ],
      },
      {
        hosts: ['split.default.example.com'],
        routes: [
          {
            splits: [
              { backend: 'a', percent: 70 },
              { backend: 'dead', percent: 0 },
              { backend: 'b', percent: 30 },
            ],
          },
        ],
      },
      {
        hosts: ['tagged.default.example.com'],
        routes: [
          { headers: { 'Knative-Serving-Tag': 'blue' }, splits: [{ backend: 'b', percent: 100 }] },
          { prefix: '/api', splits: [{ backend: 'b', percent: 100 }] },
          { appendHeaders: { 'Knative-Serving-Default-Route': 'true' }, splits: [{ backend: 'a', percent: 100 }] },
        ],
      },
      {
        hosts: ['mapped.example.org'],
        routes: [{ rewriteHost: 'hello.default.svc.cluster.local', splits: [{ backend: 'a', percent: 100 }] }],
      },
      { hosts: ['private.default.svc.cluster.local', 'private.default'], visibility: 'internal', routes: [{ splits: [{ backend: 'a', percent: 100 }] }] },
      { hosts: ['dead.example.com'], routes: [{ splits: [{ backend: 'dead', percent: 100 }] }] },
      { hosts: ['noendpoint.example.com'], routes: [{ splits: [{ backend: 'empty', percent: 100 }] }] },
      { hosts: ['nobackend.example.com'], routes: [{ splits: [] }] },
      { hosts: ['slow.example.com'], routes: [{ splits: [{ backend: 'slow', percent: 100 }] }] },
      { hosts: ['busy.example.com'], routes: [{ splits: [{ backend: 'busy', percent: 100 }] }] },
      { hosts: ['trailers.example.com'], routes: [{ splits: [{ backend: 'trailers', percent: 100 }] }] },
      { hosts: ['stream.example.com'], routes: [{ splits: [{ backend: 'stream', percent: 100 }] }] },
      { hosts: ['held.example.com'], routes: [{ splits: [{ backend: 'held', percent: 100 }] }] },
      { hosts: ['grpc.example.com'], routes: [{ splits: [{ backend: 'h2c', percent: 100 }] }] },
      { hosts: ['broker.example.com'], routes: [{ handler: 'test-handler' }] },
      { hosts: ['secure.example.com'], httpOption: 'Redirected', routes: [{ splits: [{ backend: 'a', percent: 100 }] }] },
      { hosts: ['nohandler.example.com'], routes: [{ handler: 'missing-handler' }] },
      { hosts: ['abort.example.com'], routes: [{ splits: [{ backend: 'abort', percent: 100 }] }] },
      { hosts: ['firehose.example.com'], routes: [{ splits: [{ backend: 'firehose', percent: 100 }] }] },
      { hosts: ['sink.example.com'], routes: [{ splits: [{ backend: 'sink', percent: 100 }] }] },
    ],
    backends: [
      { key: 'a', urls: [a.origin], revision: 'hello-00001' },
      { key: 'b', urls: [b.origin], revision: 'hello-00002' },
      { key: 'dead', urls: [`http://127.0.0.1:${dead}`] },
      { key: 'empty', urls: [] },
      { key: 'slow', urls: [slow.origin], timeoutMs: 300 },
      { key: 'busy', urls: [busy.origin] },
      { key: 'trailers', urls: [trailers.origin] },
      { key: 'stream', urls: [stream.origin] },
      { key: 'held', urls: [b.origin] },
      { key: 'h2c', urls: [h2origin], protocol: 'h2c', revision: 'grpc-00001' },
      { key: 'abort', urls: [slow.origin] },
      { key: 'firehose', urls: [firehose.origin] },
      { key: 'sink', urls: [sink.origin] },
    ],
    config: { accessLog: false },
  });
  w = await startWharfWith(snap);
  hold = w.backends.targets.get('held')!;
  w.runtime.registerHandler('test-handler', {
    handle(req, res, ctx) {
      res.writeHead(202, { 'content-type': 'text/plain' });
      res.end(`local ${ctx.plane} ${ctx.host} ${req.url} ${ctx.requestId ? 'id' : 'no-id'}`);
    },
  });
  hold.hold = true;
});

afterAll(async () => {
  await w?.stop();
  await Promise.all([a, b, slow, busy, trailers, stream, firehose, sink].map((x) => x?.close()));
  h2?.close();
});

describe('forwarding', () => {
  it('routes by Host on the external plane and keeps the original Host', async () => {
    const r = await get(w.external, 'hello.default.example.com', '/x?y=1');
    expect(r.status).toBe(200);
    const e = echoed(r);
    expect(e.backend).toBe('a');
    expect(e.url).toBe('/x?y=1');
    expect(e.headers.host).toBe('hello.default.example.com');
  });

  it('matches every spelling of a host: port, upper case, trailing dot', async () => {
    for (const h of ['hello.default.example.com:8080', 'HELLO.Default.Example.COM', 'hello.default.example.com.', 'Hello.default.example.com.:80']) {
      expect((await get(w.external, h)).status, h).toBe(200);
    }
  });

  it('answers 404 with a short plain-text body for an unknown host', async () => {
    const r = await get(w.external, 'nope.example.com');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toContain('nope.example.com');
    expect(r.body.length).toBeLessThan(200);
  });

  it('serves cluster-local hosts only on the internal plane, whatever the spelling', async () => {
    for (const h of ['private.default.svc.cluster.local', 'PRIVATE.default.svc.cluster.local', 'private.default.svc.cluster.local.', 'private.default:80', 'private.default.svc.cluster.local:8080']) {
      expect((await get(w.external, h)).status, `external ${h}`).toBe(404);
      expect((await get(w.internal, h)).status, `internal ${h}`).toBe(200);
    }
  });

  it('sets X-Forwarded-For/-Proto, generates X-Request-Id and strips hop-by-hop headers', async () => {
    const r = await get(w.external, 'hello.default.example.com', '/', {
      headers: {
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        'proxy-connection': 'keep-alive',
        te: 'gzip',
        'x-keep': 'yes',
      },
    });
    const h = echoed(r).headers;
    expect(h['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(h['proxy-connection']).toBeUndefined();
    expect(h['te']).toBeUndefined();
    expect(h['x-keep']).toBe('yes');
  });

  it('strips the headers a client names in Connection', async () => {
    // undici's client will not send a custom Connection header, so this one goes over a raw socket.
    const r = await raw(
      w.external,
      'GET / HTTP/1.1\r\nHost: hello.default.example.com\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: no\r\nX-Other: yes\r\n\r\n',
    );
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4));
    expect(body.headers['x-secret-hop']).toBeUndefined();
    expect(body.headers['x-other']).toBe('yes');
  });

  it('keeps a client X-Request-Id and TE: trailers', async () => {
    const h = echoed(await get(w.external, 'hello.default.example.com', '/', { headers: { 'x-request-id': 'req-42', te: 'trailers' } })).headers;
    expect(h['x-request-id']).toBe('req-42');
    expect(h['te']).toBe('trailers');
  });

  it('replaces client-sent Knative-Serving-Revision and -Namespace', async () => {
    const h = echoed(
      await get(w.external, 'hello.default.example.com', '/', {
        headers: { 'knative-serving-revision': 'spoofed', 'Knative-Serving-Namespace': 'evil' },
      }),
    ).headers;
    expect(h['knative-serving-revision']).toBe('hello-00001');
    expect(h['knative-serving-namespace']).toBe('default');
  });

  it('rewrites Host and sets K-Original-Host for rewriteHost routes', async () => {
    const h = echoed(await get(w.external, 'mapped.example.org')).headers;
    expect(h.host).toBe('hello.default.svc.cluster.local');
    expect(h['k-original-host']).toBe('mapped.example.org');
  });

  it('matches header conditions and path prefixes in order, with route appendHeaders', async () => {
    expect(echoed(await get(w.external, 'tagged.default.example.com', '/', { headers: { 'knative-serving-tag': 'blue' } })).backend).toBe('b');
    const other = echoed(await get(w.external, 'tagged.default.example.com', '/', { headers: { 'knative-serving-tag': 'nope' } }));
    expect(other.backend).toBe('a');
    expect(other.headers['knative-serving-default-route']).toBe('true');
    expect(echoed(await get(w.external, 'tagged.default.example.com', '/api/v1')).backend).toBe('b');
  });

  it('splits traffic in proportion to percent and never picks a 0% target', async () => {
    const counts: Record<string, number> = {};
    const n = 2000;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) {
          next++;
          const r = await get(w.external, 'split.default.example.com');
          expect(r.status).toBe(200);
          const k = r.headers['x-backend'] as string;
          counts[k] = (counts[k] ?? 0) + 1;
        }
      }),
    );
    expect(counts.a + counts.b).toBe(n);
    expect(Math.abs((counts.a / n) * 100 - 70)).toBeLessThanOrEqual(3);
    expect(Math.abs((counts.b / n) * 100 - 30)).toBeLessThanOrEqual(3);
  });
});

describe('failures', () => {
  it('502 with a clear body when the upstream refuses connections', async () => {
    const r = await get(w.external, 'dead.example.com');
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/Bad Gateway: could not connect to the backend \(ECONNREFUSED\)/);
    expect(w.backends.targets.get('dead')!.released.at(-1)).toBe(Outcome.EndpointFailed);
  });

  it('503 with a clear body when there is no ready endpoint or no backend', async () => {
    const r = await get(w.external, 'noendpoint.example.com');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/no ready endpoint/);
    const r2 = await get(w.external, 'nobackend.example.com');
    expect(r2.status).toBe(503);
    expect(r2.body).toMatch(/No backend/);
  });

  it('504 when the backend does not start replying within timeoutSeconds', async () => {
    const t0 = Date.now();
    const r = await get(w.external, 'slow.example.com');
    expect(r.status).toBe(504);
    expect(r.body).toMatch(/Gateway Timeout.*timeoutSeconds/);
    expect(Date.now() - t0).toBeLessThan(1400);
    expect(w.backends.targets.get('slow')!.released.at(-1)).toBe(Outcome.Aborted);
  });

  it('passes the first 503 of a backend through unchanged (no retries)', async () => {
    const before = busy.seen.length;
    const r = await get(w.external, 'busy.example.com');
    expect(r.status).toBe(503);
    expect(r.body).toBe('backend overloaded');
    expect(r.headers['x-from']).toBe('backend');
    expect(busy.seen.length - before).toBe(1);
  });

  it('releases capacity exactly once per granted request', async () => {
    const t = w.backends.targets.get('a')!;
    const before = { acquired: t.acquired, released: t.released.length };
    await Promise.all(Array.from({ length: 20 }, () => get(w.external, 'hello.default.example.com')));
    expect(t.acquired - before.acquired).toBe(20);
    expect(t.released.length - before.released).toBe(20);
    expect(t.released.slice(before.released).every((o) => o === Outcome.Ok)).toBe(true);
  });

  it('cancels a queued waiter when the client goes away', async () => {
    const sock = net.connect(w.external, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET / HTTP/1.1\r\nHost: held.example.com\r\n\r\n');
    await expect.poll(() => hold.queue.length).toBe(1);
    sock.destroy();
    await expect.poll(() => hold.cancelled).toBe(1);
    expect(hold.queue.length).toBe(0);
  });

  it('dispatches a queued waiter when capacity is granted later', async () => {
    const p = get(w.external, 'held.example.com');
    await expect.poll(() => hold.queue.length).toBe(1);
    hold.grantAll();
    const r = await p;
    expect(r.status).toBe(200);
    expect(echoed(r).backend).toBe('b');
  });
});

describe('httpOption Redirected', () => {
  it('redirects plain HTTP to HTTPS on the external plane only', async () => {
    const r = await get(w.external, 'Secure.example.com:8080', '/p?q=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://secure.example.com/p?q=1');
    expect((await get(w.internal, 'secure.example.com')).status).toBe(200);
  });
});

describe('local handlers', () => {
  it('hands a handler route to the registered LocalHandler', async () => {
    const r = await get(w.external, 'Broker.example.com:8080', '/ns/default/b');
    expect(r.status).toBe(202);
    expect(r.body).toBe('local external broker.example.com /ns/default/b id');
  });

  it('503 when the route names a handler nobody registered', async () => {
    const r = await get(w.external, 'nohandler.example.com');
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/missing-handler/);
  });
});

describe('client aborts', () => {
  it('aborts the upstream request and releases capacity once when the client disconnects mid-flight', async () => {
    const t = w.backends.targets.get('abort')!;
    const sock = net.connect(w.external, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET / HTTP/1.1\r\nHost: abort.example.com\r\n\r\n');
    await expect.poll(() => t.acquired).toBe(1);
    sock.destroy();
    await expect.poll(() => t.released.length).toBe(1);
    expect(t.released[0]).toBe(Outcome.Aborted);
    await new Promise((r) => setTimeout(r, 1700)); // the backend answers late: nothing may be released twice
    expect(t.released.length).toBe(1);
  });
});

describe('streaming', () => {
  it('forwards to an h2c upstream when the backend speaks h2c', async () => {
    const r = await get(w.external, 'grpc.example.com');
    expect(r.status).toBe(200);
    expect(r.headers['x-proto']).toBe('2.0');
    expect(r.body).toBe('h2c grpc.example.com grpc-00001');
  });

  it('forwards response trailers', async () => {
    const res = await undiciRequest(`http://127.0.0.1:${w.external}/`, { headers: { host: 'trailers.example.com', te: 'trailers' } });
    expect(await res.body.text()).toBe('hello');
    expect(res.trailers['x-checksum']).toBe('abc123');
  });

  it('applies backpressure: a client that stops reading stops the backend too', async () => {
    const sock = net.connect(w.external, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET / HTTP/1.1\r\nHost: firehose.example.com\r\n\r\n');
    let received = 0;
    let paused = false;
    sock.on('data', (c: Buffer) => {
      received += c.length;
      if (!paused && received > 1024 * 1024) {
        paused = true; // read about 1 MiB, then stop reading
        sock.pause();
      }
    });
    await expect.poll(() => received > 1024 * 1024).toBe(true);
    await new Promise((r) => setTimeout(r, 800));
    // Without backpressure wharf would have pulled (and buffered) all 64 MiB by now.
    expect(firehoseWritten).toBeLessThan(24 * 1024 * 1024);
    // Reading again lets the whole body through.
    sock.resume();
    await expect.poll(() => received, { timeout: 20_000 }).toBeGreaterThan(FIREHOSE_BYTES);
    sock.destroy();
  });

  it('applies backpressure to uploads: a backend that stops reading stops the client', async () => {
    const size = 64 * 1024 * 1024;
    let accepted = 0;
    const req = http.request({ port: w.external, host: '127.0.0.1', method: 'PUT', path: '/', headers: { host: 'sink.example.com', 'content-length': size } });
    const done = new Promise<string>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
    });
    const chunk = Buffer.alloc(64 * 1024, 121);
    let stalled = false;
    const pump = () => {
      while (accepted < size) {
        accepted += chunk.length;
        if (!req.write(chunk)) {
          stalled = true;
          return void req.once('drain', pump);
        }
      }
      req.end();
    };
    pump();
    await expect.poll(() => sinkReq !== null).toBe(true);
    await new Promise((r) => setTimeout(r, 800));
    expect(stalled).toBe(true);
    // Without backpressure wharf would have read (and buffered) the whole upload by now.
    expect(accepted).toBeLessThan(24 * 1024 * 1024);
    sinkReq!.resume();
    expect(await done).toBe(String(size));
  });

  it('streams a large body both ways without corrupting it', async () => {
    const size = 24 * 1024 * 1024;
    const payload = randomBytes(size);
    const want = createHash('sha256').update(payload).digest('hex');
    const got = await new Promise<{ hash: string; len: number; status: number }>((resolve, reject) => {
      const req = http.request(
        { port: w.external, host: '127.0.0.1', method: 'POST', path: '/upload', headers: { host: 'stream.example.com', 'transfer-encoding': 'chunked' } },
        (res) => {
          const h = createHash('sha256');
          let len = 0;
          res.on('data', (c: Buffer) => {
            len += c.length;
            h.update(c);
          });
          res.on('end', () => resolve({ hash: h.digest('hex'), len, status: res.statusCode ?? 0 }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      // Write in chunks so the request side exercises backpressure too.
      let off = 0;
      const pump = () => {
        while (off < size) {
          const chunk = payload.subarray(off, off + 256 * 1024);
          off += chunk.length;
          if (!req.write(chunk)) return req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(got.status).toBe(200);
    expect(got.len).toBe(size);
    expect(got.hash).toBe(want);
  });
});

describe('request hygiene', () => {
  it('400 when the absolute-form URI host disagrees with Host', async () => {
    const r = await raw(w.external, 'GET http://other.example.com/ HTTP/1.1\r\nHost: hello.default.example.com\r\nConnection: close\r\n\r\n');
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/does not match the Host header/);
    const ok = await raw(w.external, 'GET http://hello.default.example.com/p HTTP/1.1\r\nHost: hello.default.example.com\r\nConnection: close\r\n\r\n');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('"url":"/p"');
  });

  it('400 for a request without Host', async () => {
    const r = await raw(w.external, 'GET / HTTP/1.0\r\n\r\n');
    expect(r.status).toBe(400);
    const r11 = await raw(w.external, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(r11.status).toBe(400);
  });
});

describe('Knative ingress probes', () => {
  it('answers K-Network-Probe itself, echoing the hash the route appends or the request carries', async () => {
    const before = a.seen.length;
    const r = await get(w.internal, 'hello.default.example.com', '/healthz', { headers: { 'k-network-probe': 'probe', 'k-network-hash': 'abc' } });
    expect(r.status).toBe(200);
    expect(r.headers['k-network-hash']).toBe('abc');
    const none = await get(w.internal, 'hello.default.example.com', '/healthz', { headers: { 'k-network-probe': 'probe' } });
    expect(none.status).toBe(400);
    expect(a.seen.length).toBe(before);
  });
});
