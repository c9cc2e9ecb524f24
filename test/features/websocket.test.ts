// WebSockets through wharf with the `ws` package on both sides: the upgrade passes through (plain and TLS),
// 100 echo round trips on one connection, a 50/50 split where each connection stays on the revision it was
// given at upgrade, and config-wharf's websocket-idle-timeout closing a silent connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { get } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService, upstreamRevision } from '../support/manifests.js';
import { startEdgeWharf, tlsSecret, type EdgeWharf } from '../support/edge-wharf.js';
import { makeCa, type TestCa } from '../support/tls-certs.js';

/** A ws backend: says hello with its name, then echoes every message prefixed with its name. */
async function wsBackend(name: string): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (sock, req) => {
    sock.send(JSON.stringify({ hello: name, host: req.headers.host, revision: req.headers['knative-serving-revision'] }));
    sock.on('message', (data) => sock.send(`${name}:${data.toString()}`));
  });
  return { wss, port: (wss.address() as AddressInfo).port };
}

let a: { wss: WebSocketServer; port: number };
let b: { wss: WebSocketServer; port: number };
let w: EdgeWharf;
let ca: TestCa;
const HOST = 'chat.default.example.com';

beforeAll(async () => {
  a = await wsBackend('chat-a');
  b = await wsBackend('chat-b');
  ca = await makeCa();
  const dir = tempDir();
  writeManifest(
    dir,
    'config.yaml',
    configMaps({ 'config-wharf': { 'access-log': 'false', 'default-certificate': 'default/chat-tls', 'websocket-idle-timeout': '1s' } }),
  );
  writeManifest(dir, 'secret.yaml', tlsSecret('chat-tls', 'default', await ca.issue({ names: [HOST] })));
  writeManifest(
    dir,
    'chat.yaml',
    [
      upstreamRevision({ name: 'chat-a', service: 'chat', upstream: `http://127.0.0.1:${a.port}`, image: 'test/chat' }),
      upstreamService({
        name: 'chat',
        upstream: `http://127.0.0.1:${b.port}`,
        revisionName: 'chat-b',
        image: 'test/chat',
        specExtra: `  traffic:
    - revisionName: chat-a
      percent: 50
    - revisionName: chat-b
      percent: 50
`,
      }),
    ].join('---\n'),
  );
  w = await startEdgeWharf(dir);
});

afterAll(async () => {
  await w?.stop();
  for (const s of [a, b]) {
    for (const c of s?.wss.clients ?? []) c.terminate();
    await new Promise<void>((r) => s?.wss.close(() => r()));
  }
});

/** A client connection that queues incoming messages so a test can await them one by one. */
async function connect(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<{ ws: WebSocket; next: () => Promise<string> }> {
  const ws = new WebSocket(url, { headers: { host: HOST }, ...opts });
  const queue: string[] = [];
  const waiting: ((m: string) => void)[] = [];
  ws.on('message', (d) => {
    const m = d.toString();
    const wk = waiting.shift();
    if (wk) wk(m);
    else queue.push(m);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
  const next = () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise<string>((r) => waiting.push(r)));
  return { ws, next };
}

async function close(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  await new Promise<void>((r) => {
    ws.once('close', () => r());
    ws.close();
  });
}

describe('WebSockets', () => {
  it('100 echo round trips on one connection', async () => {
    const { ws, next } = await connect(`ws://127.0.0.1:${w.external}/socket`);
    try {
      const hello = JSON.parse(await next());
      expect(hello.host).toBe(HOST);
      expect(['chat-a', 'chat-b']).toContain(hello.hello);
      for (let i = 0; i < 100; i++) {
        ws.send(`m${i}`);
        expect(await next()).toBe(`${hello.hello}:m${i}`);
      }
    } finally {
      await close(ws);
    }
  });

  it('50/50 split: each connection sticks to the revision chosen at upgrade, and both are chosen', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) {
      const { ws, next } = await connect(`ws://127.0.0.1:${w.external}/`);
      try {
        const hello = JSON.parse(await next());
        // The revision header wharf adds agrees with the backend that answered.
        expect(hello.revision).toBe(hello.hello);
        for (let j = 0; j < 5; j++) {
          ws.send(`x${j}`);
          expect(await next()).toBe(`${hello.hello}:x${j}`);
        }
        seen.add(hello.hello);
      } finally {
        await close(ws);
      }
    }
    expect([...seen].sort()).toEqual(['chat-a', 'chat-b']);
  });

  it('passes the upgrade over TLS (wss, HTTP/1.1 by ALPN)', async () => {
    const { ws, next } = await connect(`wss://127.0.0.1:${w.https}/`, { ca: ca.cert, servername: HOST } as unknown as ConstructorParameters<typeof WebSocket>[2]);
    try {
      const hello = JSON.parse(await next());
      ws.send('secure');
      expect(await next()).toBe(`${hello.hello}:secure`);
    } finally {
      await close(ws);
    }
  });

  it('closes a connection idle for longer than websocket-idle-timeout', async () => {
    const { ws, next } = await connect(`ws://127.0.0.1:${w.external}/`);
    await next();
    const started = Date.now();
    const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
    // Cut by wharf (no close frame: 1006) after about a second of silence, not by the test's own timeout.
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('a plain request to the same host is still proxied as HTTP', async () => {
    const res = await get(w.external, HOST, '/');
    // ws backends answer plain HTTP with 426 Upgrade Required: the request reached one.
    expect(res.status).toBe(426);
  });
});
