import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import pino from 'pino';
import { AutoscalerStatClient } from '../../src/scaling/autoscaler-client.js';
import { decodeWireStatMessages, type WireStatMessage } from '../../src/scaling/stat-proto.js';
import { ConcurrencyReporter } from '../../src/activator/concurrency-reporter.js';
import { Throttler } from '../../src/activator/throttler.js';
import { BackendEndpoint } from '../../src/backends/endpoint.js';
import { Outcome } from '../../src/backends/types.js';
import { TestWaiter, staticSpec, until } from '../backends/helpers.js';

/** A stand-in for Knative's stat server: decodes every binary frame with the same schema. */
class StatServer {
  wss!: WebSocketServer;
  frames: WireStatMessage[][] = [];
  textFrames = 0;
  pings = 0;
  connections = 0;
  sockets: WebSocket[] = [];
  port = 0;
  async start(port = 0): Promise<void> {
    this.wss = new WebSocketServer({ port, host: '127.0.0.1' });
    await new Promise<void>((r) => this.wss.once('listening', () => r()));
    this.port = (this.wss.address() as any).port;
    this.wss.on('connection', (ws, req) => {
      expect(req.url).toBe('/');
      this.connections++;
      this.sockets.push(ws);
      ws.on('ping', () => this.pings++);
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          this.textFrames++;
          return;
        }
        this.frames.push(decodeWireStatMessages(new Uint8Array(data as Buffer)));
      });
    });
  }
  async stop(code?: number): Promise<void> {
    for (const s of this.sockets) s.close(code ?? 1000, 'Restarting');
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}

const logger = pino({ level: 'silent' });
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('autoscaler stat stream', () => {
  it('sends the poke at once, then one frame per tick with Knative field values, pings, and reconnects after 1012', async () => {
    const server = new StatServer();
    await server.start();
    const client = new AutoscalerStatClient({ url: `ws://127.0.0.1:${server.port}`, podName: 'wharf-0', logger, pingIntervalMs: 50, backoffInitialMs: 20 });
    client.start();
    cleanup.push(() => client.close());
    cleanup.push(() => server.stop().catch(() => {}));
    await until(() => client.connected);

    let now = 0;
    const clock = () => now;
    const t1 = new Throttler(staticSpec('rev:default/hello-00001', [], { revision: 'hello-00001' }), undefined, clock);
    const t2 = new Throttler(staticSpec('rev:team/other-00002', [], { namespace: 'team', revision: 'other-00002' }), undefined, clock);
    for (const t of [t1, t2]) {
      const ep = new BackendEndpoint('http://10.0.0.1:80', 'http1', { endpointFailed() {} });
      ep.ready = true;
      t.addEndpoint(ep);
    }
    const rep = new ConcurrencyReporter([client], clock, () => 1_700_000_000_000);
    rep.add(t1);
    rep.add(t2);

    // Known load: revision 1 holds 3 requests from t=0 for the whole second; revision 2 one 250 ms request.
    const held = [t1.acquire(new TestWaiter())!, t1.acquire(new TestWaiter())!, t1.acquire(new TestWaiter())!];
    await until(() => server.frames.length === 1);
    expect(server.frames[0]).toEqual([
      {
        namespace: 'default',
        name: 'hello-00001',
        stat: { podName: 'wharf-0', averageConcurrentRequests: 1, averageProxiedConcurrentRequests: 0, requestCount: 1, proxiedRequestCount: 0, processUptime: 0, timestamp: 0 },
      },
    ]);
    now = 250;
    const r2 = t2.acquire(new TestWaiter())!;
    await until(() => server.frames.length === 2); // revision 2's poke
    expect(server.frames[1]![0]).toMatchObject({ namespace: 'team', name: 'other-00002', stat: { averageConcurrentRequests: 1, requestCount: 1 } });
    now = 500;
    t2.release(r2, Outcome.Ok);
    now = 1000;
    rep.tick();
    await until(() => server.frames.length === 3);
    const tick = server.frames[2]!;
    expect(tick.length).toBe(2); // all revisions in one frame
    const a = tick.find((m) => m.name === 'hello-00001')!;
    const b = tick.find((m) => m.name === 'other-00002')!;
    expect(a.stat.averageConcurrentRequests).toBeCloseTo(2, 9); // 3 − poke
    expect(a.stat.requestCount).toBe(2); // 3 − poke
    // revision 2 lived 250..1000 (its entry started at its arrival): 0.25 s of 1 over 0.75 s = 1/3, minus the poke → 0
    expect(b.stat.averageConcurrentRequests).toBe(0);
    expect(b.stat.requestCount).toBe(0);
    expect(server.textFrames).toBe(0);
    await until(() => server.pings >= 2);

    // The autoscaler restarts (close 1012): the client reconnects with backoff and keeps streaming.
    for (const s of server.sockets) s.close(1012, 'Restarting');
    await until(() => !client.connected);
    await until(() => client.connected && server.connections === 2);
    now = 2000;
    rep.tick();
    await until(() => server.frames.length === 4);
    const after = server.frames[3]!.find((m) => m.name === 'hello-00001')!;
    expect(after.stat.averageConcurrentRequests).toBe(3);
    expect(after.stat.requestCount).toBe(0);
    for (const h of held) t1.release(h, Outcome.Ok);
  });

  it('reconnects when the autoscaler is down at first and comes up later', async () => {
    const probe = new StatServer();
    await probe.start();
    const port = probe.port;
    await probe.stop();
    const client = new AutoscalerStatClient({ url: `ws://127.0.0.1:${port}`, podName: 'p', logger, backoffInitialMs: 20, backoffMaxMs: 100 });
    client.start();
    cleanup.push(() => client.close());
    await new Promise((r) => setTimeout(r, 150));
    expect(client.connected).toBe(false);
    // Stats while disconnected are dropped, not buffered.
    client.record('rev:a/b', { namespace: 'a', name: 'b', averageConcurrentRequests: 5, requestCount: 5, poke: false, timestampMs: 0 });
    client.flush();
    const server = new StatServer();
    await server.start(port);
    cleanup.push(() => server.stop().catch(() => {}));
    await until(() => client.connected);
    client.record('rev:a/b', { namespace: 'a', name: 'b', averageConcurrentRequests: 2, requestCount: 7, poke: false, timestampMs: 0 });
    client.flush();
    await until(() => server.frames.length === 1);
    expect(server.frames[0]![0]!.stat).toMatchObject({ averageConcurrentRequests: 2, requestCount: 7 });
  });
});
