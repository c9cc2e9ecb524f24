// A WebSocket tunnel gets one access-log line when it closes, with the revision it was pinned to and the bytes of
// the whole connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { fixtureSnapshot } from '../support/snapshot.js';
import { startWharfWith, type TestWharf } from '../support/wharf.js';
import { captureLogs, stopCapturingLogs } from '../support/log-capture.js';

let lines: Record<string, unknown>[] = [];
let wss: WebSocketServer;
let w: TestWharf;

beforeAll(async () => {
  lines = captureLogs();
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (s) => s.on('message', (d) => s.send(d.toString())));
  w = await startWharfWith(
    fixtureSnapshot({
      hosts: [{ hosts: ['ws.example.com'], routes: [{ splits: [{ backend: 'ws', percent: 100 }] }] }],
      backends: [{ key: 'ws', urls: [`http://127.0.0.1:${(wss.address() as AddressInfo).port}`], revision: 'ws-00001', service: 'ws' }],
    }),
  );
});

afterAll(async () => {
  await w?.stop();
  await new Promise<void>((r) => wss.close(() => r()));
  stopCapturingLogs();
});

describe('WebSocket access log', () => {
  it('logs the tunnel once, on close', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${w.external}/live`, { headers: { host: 'ws.example.com' } });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    ws.send('x'.repeat(1000));
    await new Promise<void>((r) => ws.once('message', () => r()));
    await new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.close();
    });
    let entry: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !entry; i++) {
      await new Promise((r) => setTimeout(r, 25));
      entry = lines.find((l) => l.component === 'access' && l.path === '/live');
    }
    expect(entry).toMatchObject({ method: 'GET', authority: 'ws.example.com', response_code: 101, response_flags: 'UPGRADE', revision: 'ws-00001', plane: 'external' });
    expect(entry!.bytes_received as number).toBeGreaterThan(1000);
    expect(lines.filter((l) => l.component === 'access' && l.path === '/live')).toHaveLength(1);
  });
});
