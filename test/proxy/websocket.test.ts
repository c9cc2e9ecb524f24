// The upgrade path against the Target seam: capacity is held for the connection's whole life and released once;
// a backend that declines the upgrade has its answer relayed; a dead backend is a 502 that blames the endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { startWharfWith, type TestWharf } from '../support/wharf.js';
import { fixtureSnapshot } from '../support/snapshot.js';
import { startBackend, deadPort, raw, type Backend } from '../support/http.js';
import { FakeBackends, Outcome } from '../support/backends.js';

let wss: WebSocketServer;
let plain: Backend;
let w: TestWharf & { backends: FakeBackends };

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (s) => s.on('message', (d) => s.send(d.toString())));
  plain = await startBackend('plain');
  const dead = await deadPort();
  w = await startWharfWith(
    fixtureSnapshot({
      hosts: [
        { hosts: ['ws.example.com'], routes: [{ splits: [{ backend: 'ws', percent: 100 }] }] },
        { hosts: ['plain.example.com'], routes: [{ splits: [{ backend: 'plain', percent: 100 }] }] },
        { hosts: ['dead.example.com'], routes: [{ splits: [{ backend: 'dead', percent: 100 }] }] },
        { hosts: ['secure.example.com'], httpOption: 'Redirected', routes: [{ splits: [{ backend: 'ws', percent: 100 }] }] },
      ],
      backends: [
        { key: 'ws', urls: [`http://127.0.0.1:${(wss.address() as AddressInfo).port}`] },
        { key: 'plain', urls: [plain.origin] },
        { key: 'dead', urls: [`http://127.0.0.1:${dead}`] },
      ],
      config: { accessLog: false },
    }),
    { backends: new FakeBackends() },
  );
});

afterAll(async () => {
  await w?.stop();
  await plain?.close();
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
});

const upgradeReq = (host: string) =>
  `GET /chat HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

describe('upgrade path', () => {
  it('holds the backend capacity while the connection is open and releases it once when it closes', async () => {
    const t = w.backends.targets.get('ws')!;
    const before = { acquired: t.acquired, released: t.released.length };
    const ws = new WebSocket(`ws://127.0.0.1:${w.external}/`, { headers: { host: 'ws.example.com' } });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    ws.send('ping');
    await new Promise<void>((r) => ws.once('message', () => r()));
    expect(t.acquired).toBe(before.acquired + 1);
    expect(t.released.length).toBe(before.released);
    await new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.close();
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(t.released.slice(before.released)).toEqual([Outcome.Ok]);
  });

  it('closes the backend side when the client resets the connection', async () => {
    const backendClosed = new Promise<void>((r) => wss.once('connection', (s) => s.once('close', () => r())));
    const ws = new WebSocket(`ws://127.0.0.1:${w.external}/`, { headers: { host: 'ws.example.com' } });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    // A reset, not a close handshake or FIN: the client's socket just goes away.
    (ws as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy();
    const outcome = await Promise.race([backendClosed.then(() => 'closed'), new Promise((r) => setTimeout(r, 2000, 'still open'))]);
    expect(outcome).toBe('closed');
  });

  it('relays the answer of a backend that does not upgrade, then closes', async () => {
    const r = await raw(w.external, upgradeReq('plain.example.com'));
    expect(r.status).toBe(200);
    expect(r.text).toContain('"backend":"plain"');
    expect(r.text.toLowerCase()).toContain('connection: close');
  });

  it("replaces a client's copy of the target's fixed headers instead of forwarding both", async () => {
    const t = w.backends.targets.get('plain')!;
    Object.assign(t, { requestHeaders: [['k-proxy-request', 'activator']] });
    try {
      const req = upgradeReq('plain.example.com').replace('\r\n\r\n', '\r\nK-Proxy-Request: client\r\n\r\n');
      expect((await raw(w.external, req)).status).toBe(200);
      const rh = plain.seen.at(-1)!.rawHeaders;
      const values = rh.filter((_, i) => i % 2 === 1 && rh[i - 1].toLowerCase() === 'k-proxy-request');
      expect(values).toEqual(['activator']);
    } finally {
      Object.assign(t, { requestHeaders: undefined });
    }
  });

  it('answers 502 when the backend is down and reports the endpoint as failed', async () => {
    const t = w.backends.targets.get('dead')!;
    const r = await raw(w.external, upgradeReq('dead.example.com'));
    expect(r.status).toBe(502);
    expect(t.released.at(-1)).toBe(Outcome.EndpointFailed);
  });

  it('redirects an upgrade on a Redirected host on the external plane only', async () => {
    const ext = await raw(w.external, upgradeReq('secure.example.com'));
    expect(ext.status).toBe(301);
    expect(ext.text).toContain('Location: https://secure.example.com/chat');
    const int = await raw(w.internal, upgradeReq('secure.example.com'), 1000);
    expect(int.status).toBe(101);
  });

  it('400 for an absolute-form target naming another host than Host, as for plain requests', async () => {
    const req = upgradeReq('ws.example.com').replace('GET /chat ', 'GET http://other.example.com/chat ');
    const r = await raw(w.external, req);
    expect(r.status).toBe(400);
    expect(r.text).toContain('does not match the Host header');
    const same = await raw(w.external, upgradeReq('ws.example.com').replace('GET /chat ', 'GET http://ws.example.com/chat '), 1000);
    expect(same.status).toBe(101);
  });

  it('404 for an unknown host', async () => {
    expect((await raw(w.external, upgradeReq('nope.example.com'))).status).toBe(404);
  });
});

describe('drain with an open WebSocket', () => {
  it('cuts the tunnel at the drain timeout instead of waiting for it to end', async () => {
    const w2 = await startWharfWith(
      fixtureSnapshot({
        hosts: [{ hosts: ['ws.example.com'], routes: [{ splits: [{ backend: 'ws', percent: 100 }] }] }],
        backends: [{ key: 'ws', urls: [`http://127.0.0.1:${(wss.address() as AddressInfo).port}`] }],
        config: { accessLog: false },
      }),
      { drainTimeoutMs: 300 },
    );
    const ws = new WebSocket(`ws://127.0.0.1:${w2.external}/`, { headers: { host: 'ws.example.com' } });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await w2.runtime.drain();
    await closed;
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });
});
