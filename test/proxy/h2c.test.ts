// HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on the same port of both planes, h2 downstream to an h1 backend
// (headers that are illegal on h2 stripped, trailers kept), and h2c upstreams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startBackend, get, echoed, raw, deadPort, type Backend } from '../support/http.js';
import { startWharfWith, type TestWharf } from '../support/wharf.js';
import { fixtureSnapshot } from '../support/snapshot.js';

interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | null;
  body: string;
}

/** One request over a fresh h2c prior-knowledge session. */
async function h2get(port: number, authority: string, path = '/', extra: http2.OutgoingHttpHeaders = {}, body?: string): Promise<H2Reply> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<H2Reply>((resolve, reject) => {
      session.on('error', reject);
      const st = session.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path, ':authority': authority, ...extra });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | null = null;
      const chunks: Buffer[] = [];
      st.on('response', (h) => (headers = h));
      st.on('trailers', (t) => (trailers = t));
      st.on('data', (c: Buffer) => chunks.push(c));
      st.on('end', () => resolve({ status: Number(headers[':status']), headers, trailers, body: Buffer.concat(chunks).toString() }));
      st.on('error', reject);
      st.end(body);
    });
  } finally {
    session.close();
  }
}

let h1: Backend;
let bigSent = 0;
let h2back: http2.Http2Server;
let h2port = 0;
let w: TestWharf;
const h2seen: http2.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  h1 = await startBackend((req, res, body) => {
    if (req.url === '/conn') {
      // Connection-specific headers a backend may send on HTTP/1.1: illegal on an h2 response.
      res.writeHead(200, { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'x-backend': 'h1' });
      res.end('ok');
      return;
    }
    if (req.url === '/big') {
      // 64 MB, written with backpressure; bigSent shows how far the backend got.
      bigSent = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 64 * 1024 * 1024 });
      const pump = (): void => {
        while (bigSent < 64 * 1024 * 1024) {
          bigSent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (req.url === '/trailers') {
      res.writeHead(200, { trailer: 'x-checksum', 'content-type': 'text/plain' });
      res.write('part');
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end();
      return;
    }
    const payload = JSON.stringify({ backend: 'h1', httpVersion: req.httpVersion, headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/json', 'x-backend': 'h1' });
    res.end(payload);
  });
  h2back = http2.createServer((req, res) => {
    h2seen.push(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': 'h2c' });
      res.end(JSON.stringify({ backend: 'h2c', httpVersion: req.httpVersion, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((r) => h2back.listen(0, '127.0.0.1', r));
  h2port = (h2back.address() as AddressInfo).port;
  const dead = await deadPort();
  w = await startWharfWith(
    fixtureSnapshot({
      hosts: [
        { hosts: ['web.example.com'], routes: [{ splits: [{ backend: 'web', percent: 100 }] }] },
        { hosts: ['grpc.example.com'], routes: [{ splits: [{ backend: 'up2', percent: 100 }] }] },
        { hosts: ['dead.example.com'], routes: [{ splits: [{ backend: 'dead2', percent: 100 }] }] },
        { hosts: ['local.svc.cluster.local'], visibility: 'internal', routes: [{ splits: [{ backend: 'web', percent: 100 }] }] },
      ],
      backends: [
        { key: 'web', urls: [h1.origin] },
        { key: 'up2', urls: [`http://127.0.0.1:${h2port}`], protocol: 'h2c' },
        { key: 'dead2', urls: [`http://127.0.0.1:${dead}`], protocol: 'h2c' },
      ],
      config: { accessLog: false },
    }),
  );
});

afterAll(async () => {
  await w?.stop();
  await h1?.close();
  await new Promise<void>((r) => h2back.close(() => r()));
});

describe('h1 and h2c on one port', () => {
  it('serves HTTP/1.1 and h2c prior knowledge on the external port', async () => {
    const a = await get(w.external, 'web.example.com', '/x');
    expect(a.status).toBe(200);
    expect(echoed(a).backend).toBe('h1');
    const b = await h2get(w.external, 'web.example.com', '/y');
    expect(b.status).toBe(200);
    const e = JSON.parse(b.body);
    expect(e.backend).toBe('h1');
    // :authority became Host; no pseudo-header crossed to the HTTP/1.1 backend.
    expect(e.headers.host).toBe('web.example.com');
    expect(Object.keys(e.headers).some((k: string) => k.startsWith(':'))).toBe(false);
    expect(e.headers['x-forwarded-proto']).toBe('http');
  });

  it('serves both on the internal port', async () => {
    expect((await get(w.internal, 'local.svc.cluster.local')).status).toBe(200);
    const b = await h2get(w.internal, 'local.svc.cluster.local');
    expect(b.status).toBe(200);
    expect(JSON.parse(b.body).backend).toBe('h1');
    // Cluster-local hosts are not on the external plane, whatever the protocol.
    expect((await h2get(w.external, 'local.svc.cluster.local')).status).toBe(404);
  });

  it('carries an h2 request body to the backend', async () => {
    const b = await h2get(w.external, 'web.example.com', '/post', { 'content-type': 'text/plain' }, 'hello over h2');
    expect(JSON.parse(b.body).body).toBe('hello over h2');
  });

  it('drops connection-specific response headers on h2 and keeps them legal on h1', async () => {
    const b = await h2get(w.external, 'web.example.com', '/conn');
    expect(b.status).toBe(200);
    expect(b.body).toBe('ok');
    expect(b.headers.connection).toBeUndefined();
    expect(b.headers['keep-alive']).toBeUndefined();
    expect(b.headers['x-backend']).toBe('h1');
  });

  it('an h2 client that stops reading stops the backend (flow control becomes backpressure)', async () => {
    const session = http2.connect(`http://127.0.0.1:${w.external}`);
    try {
      const st = session.request({ ':path': '/big', ':authority': 'web.example.com' });
      st.pause();
      await new Promise((r) => setTimeout(r, 600));
      // Windows (1 MiB stream, 8 MiB session) plus socket buffers, not the 64 MB body.
      expect(bigSent).toBeLessThan(24 * 1024 * 1024);
      let n = 0;
      st.on('data', (c: Buffer) => (n += c.length));
      st.resume();
      await new Promise<void>((r) => st.on('end', () => r()));
      expect(n).toBe(64 * 1024 * 1024);
    } finally {
      session.close();
    }
  });

  it('forwards response trailers to h2 clients', async () => {
    const b = await h2get(w.external, 'web.example.com', '/trailers');
    expect(b.body).toBe('part');
    expect(b.trailers?.['x-checksum']).toBe('abc123');
  });

  it('still answers a malformed HTTP/1.1 request with 400 after sniffing', async () => {
    const r = await raw(w.external, 'GARBAGE\r\n\r\n');
    expect(r.status).toBe(400);
  });

  it('waits for a preface split over several packets', async () => {
    const net = await import('node:net');
    // Half the preface, a pause, then the rest and an empty SETTINGS frame: the h2 server answers with its own
    // SETTINGS frame (type 0x4), which an HTTP/1.1 server never would.
    const got = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(w.external, '127.0.0.1', () => {
        s.write('PRI * HTTP/2.0\r\n');
        setTimeout(() => s.write(Buffer.from('\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00', 'latin1')), 50);
      });
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d);
      });
      s.on('error', reject);
    });
    expect(got[3]).toBe(0x04);
  });
});

describe('h2c upstream', () => {
  it('talks h2c to a backend whose port is h2c, from h1 and from h2 clients', async () => {
    const a = await get(w.external, 'grpc.example.com', '/a', { method: 'POST', body: 'one' });
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toMatchObject({ backend: 'h2c', httpVersion: '2.0', body: 'one' });
    const b = await h2get(w.external, 'grpc.example.com', '/b', { te: 'trailers', 'grpc-timeout': '5S' }, 'two');
    expect(JSON.parse(b.body)).toMatchObject({ backend: 'h2c', httpVersion: '2.0', body: 'two' });
    const last = h2seen[h2seen.length - 1];
    expect(last[':authority']).toBe('grpc.example.com');
    expect(last['x-forwarded-proto']).toBe('http');
    // gRPC needs both: te: trailers survives hop-by-hop stripping, grpc-timeout is an ordinary header.
    expect(last.te).toBe('trailers');
    expect(last['grpc-timeout']).toBe('5S');
  });

  it('502 when the h2c backend refuses connections, over h1 and h2', async () => {
    const a = await get(w.external, 'dead.example.com', '/');
    expect(a.status).toBe(502);
    expect(a.body).toMatch(/could not connect/);
    expect((await h2get(w.external, 'dead.example.com', '/')).status).toBe(502);
  });

  it('streams a request body to the h2c backend while the response is already flowing (full duplex)', async () => {
    const session = http2.connect(`http://127.0.0.1:${w.external}`);
    try {
      const st = session.request({ ':method': 'POST', ':path': '/duplex', ':authority': 'grpc.example.com' });
      st.write('first ');
      await new Promise((r) => setTimeout(r, 30));
      st.end('second');
      const chunks: Buffer[] = [];
      st.on('data', (c: Buffer) => chunks.push(c));
      await new Promise<void>((r) => st.on('end', () => r()));
      expect(JSON.parse(Buffer.concat(chunks).toString()).body).toBe('first second');
    } finally {
      session.close();
    }
  });
});

describe('drain with connections that never sent a byte', () => {
  it('does not wait for them', async () => {
    const net = await import('node:net');
    const w2 = await startWharfWith(fixtureSnapshot({ hosts: [], backends: [], config: { accessLog: false } }), { drainTimeoutMs: 5000 });
    const sockets = [net.connect(w2.external, '127.0.0.1'), net.connect(w2.internal, '127.0.0.1')];
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.once('connect', () => r()))));
    const closed = Promise.all(sockets.map((s) => new Promise<void>((r) => s.once('close', () => r()))));
    const t0 = Date.now();
    await w2.runtime.drain();
    await closed;
    // Well under the 5 s drain timeout: silent connections are idle, so drain closes them at once.
    expect(Date.now() - t0).toBeLessThan(2500);
  });
});
