import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import pino from 'pino';
import { createBackends, type BackendsImpl } from '../../src/backends/index.js';
import { Outcome } from '../../src/backends/types.js';
import type { BackendSpec } from '../../src/model/snapshot.js';
import { TestWaiter, pidAlive, processSpec, staticSpec, until } from './helpers.js';

const logger = pino({ level: 'silent' });
let backends: BackendsImpl | null = null;
afterEach(async () => {
  await backends?.close();
  backends = null;
});

function make(opts: Parameters<typeof createBackends>[0] = {}): BackendsImpl {
  backends = createBackends({ logger, killGraceMs: 2000, ...opts });
  return backends;
}
const specs = (...s: BackendSpec[]) => new Map(s.map((x) => [x.key, x]));

async function get(origin: string, path = '/'): Promise<any> {
  const r = await fetch(origin + path);
  return r.json();
}

describe('static upstreams', () => {
  it('resolves localhost to its loopback addresses and uses IP literals directly', async () => {
    const b = make();
    b.sync(specs(staticSpec('rev:default/a', ['http://localhost:9999']), staticSpec('rev:default/b', ['http://10.1.2.3:81', 'http://[::1]:82'])));
    const a = b.throttler('rev:default/a')!;
    await until(() => a.readyCount > 0);
    const origins = a.endpoints().map((e) => e.origin).sort();
    expect(origins.length).toBeGreaterThan(0);
    for (const o of origins) expect(['http://127.0.0.1:9999', 'http://[::1]:9999']).toContain(o);
    const bt = b.throttler('rev:default/b')!;
    expect(bt.endpoints().map((e) => e.origin).sort()).toEqual(['http://10.1.2.3:81', 'http://[::1]:82']);
    expect(bt.readyCount).toBe(2);
  });

  it('uses every address and re-resolves periodically', async () => {
    let answer = ['10.0.0.1', '10.0.0.2'];
    const b = make({ lookup: async () => answer, resolveIntervalMs: 50 });
    b.sync(specs(staticSpec('rev:default/a', ['http://upstream.test:8080'])));
    const t = b.throttler('rev:default/a')!;
    await until(() => t.readyCount === 2);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const w = new TestWaiter();
      const ep = t.acquire(w)!;
      seen.add(ep.origin);
      t.release(ep, Outcome.Ok);
    }
    expect([...seen].sort()).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080']);
    answer = ['10.0.0.3'];
    await until(() => t.endpoints().map((e) => e.origin).join() === 'http://10.0.0.3:8080');
  });

  it('takes a failed endpoint out and puts it back once it accepts connections', async () => {
    const srv = http.createServer((_q, s) => s.end('x'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as any).port;
    const b = make();
    b.sync(specs(staticSpec('rev:default/a', [`http://127.0.0.1:${port}`])));
    const t = b.throttler('rev:default/a')!;
    const ep = t.acquire(new TestWaiter())!;
    expect(ep).not.toBeNull();
    t.release(ep, Outcome.EndpointFailed);
    // Re-probed at once over TCP: the server is up, so it comes back.
    expect(t.readyCount).toBe(0);
    await until(() => t.readyCount === 1);
    srv.close();
  });
});

describe('process backends', () => {
  it('starts the process with PORT and Knative env, queues until ready, then grants', async () => {
    const b = make();
    b.sync(specs(processSpec('rev:default/hello-00001', { GREETING: 'hi', START_DELAY_MS: '300' })));
    const t = b.throttler('rev:default/hello-00001')!;
    const w = new TestWaiter();
    expect(t.acquire(w)).toBeNull(); // not ready yet: queued
    expect(t.queueDepth).toBe(1);
    await w.settled;
    expect(w.granted).not.toBeNull();
    const pool = b.pool('rev:default/hello-00001')!;
    const inst = pool.instances[0]!;
    // Released soon after the process starts listening: readiness is probed every few tens of ms while starting.
    const stats = await get(w.granted!.origin, '/stats');
    expect(w.grantedWall - stats.listenedAt).toBeLessThan(250);
    const body = await get(w.granted!.origin);
    expect(body.port).toBe(inst.port);
    expect(w.granted!.origin).toBe(`http://127.0.0.1:${inst.port}`);
    expect(body.revision).toBe('hello-00001');
    expect(body.service).toBe('svc');
    expect(body.configuration).toBe('svc');
    expect(body.greeting).toBe('hi');
    t.release(w.granted!, Outcome.Ok);
  });

  it('restarts a process that dies', async () => {
    const b = make();
    b.sync(specs(processSpec('rev:default/crashy')));
    const t = b.throttler('rev:default/crashy')!;
    await until(() => t.readyCount === 1);
    const pool = b.pool('rev:default/crashy')!;
    const pid1 = pool.instances[0]!.pid!;
    const ep = t.acquire(new TestWaiter())!;
    await fetch(ep.origin + '/crash').then((r) => r.text());
    t.release(ep, Outcome.Ok);
    await until(() => !pidAlive(pid1));
    await until(() => t.readyCount === 1 && pool.instances[0]!.pid !== pid1);
    expect(pool.instances[0]!.restarts).toBe(1);
    const w = new TestWaiter();
    const ep2 = t.acquire(w)!;
    expect((await get(ep2.origin)).pid).toBe(pool.instances[0]!.pid);
    t.release(ep2, Outcome.Ok);
  });

  it('stops the process and rejects queued requests when the backend is removed', async () => {
    const b = make();
    b.sync(specs(processSpec('rev:default/gone', { START_DELAY_MS: '5000' })));
    const t = b.throttler('rev:default/gone')!;
    const pool = b.pool('rev:default/gone')!;
    await until(() => pool.instances[0]?.pid !== undefined);
    const pid = pool.instances[0]!.pid!;
    const w = new TestWaiter();
    t.acquire(w);
    b.sync(new Map());
    await w.settled;
    expect(w.rejected?.status).toBe(503);
    expect(b.get('rev:default/gone')).toBeUndefined();
    await until(() => !pidAlive(pid));
  });

  it('survives a command that cannot start: retries with backoff and times queued requests out', async () => {
    const b = make();
    const spec = processSpec('rev:default/broken', {}, { timeoutMs: 300 });
    spec.source = { kind: 'process', process: { command: ['/nonexistent/wharf-test-binary'], args: [], env: {}, cwd: '/' } };
    b.sync(specs(spec));
    const t = b.throttler('rev:default/broken')!;
    const w = new TestWaiter();
    t.acquire(w);
    await w.settled;
    expect(w.rejected).toMatchObject({ status: 504, reason: 'activator request timeout' });
    const inst = b.pool('rev:default/broken')!.instances[0]!;
    expect(inst.restarts).toBeGreaterThanOrEqual(2); // 100 ms, 200 ms, ...
    expect(inst.restarts).toBeLessThan(6); // backing off, not spinning
  });

  it('keeps the queue across a spec update', async () => {
    const b = make();
    const s1 = processSpec('rev:default/upd', { START_DELAY_MS: '400' });
    b.sync(specs(s1));
    const t = b.throttler('rev:default/upd')!;
    const w = new TestWaiter();
    t.acquire(w);
    b.sync(specs({ ...s1, timeoutMs: 20_000 }));
    expect(b.throttler('rev:default/upd')).toBe(t);
    await w.settled;
    expect(w.granted).not.toBeNull();
    t.release(w.granted!, Outcome.Ok);
  });
});

describe('cluster address lists', () => {
  it('a plain service target with no ready address fails fast with 503', () => {
    const b = make();
    const spec: BackendSpec = { ...staticSpec('svc:default/x:80', []), activator: false, source: { kind: 'addresses', addresses: [], notReady: [], port: 80 } };
    b.sync(specs(spec));
    const w = new TestWaiter();
    expect(b.get('svc:default/x:80')!.acquire(w)).toBeNull();
    expect(w.rejected?.status).toBe(503);
  });

  it('uses ready addresses with the spec port and updates them in place', () => {
    const b = make();
    const spec: BackendSpec = { ...staticSpec('svc:default/x:80', []), activator: false, source: { kind: 'addresses', addresses: ['10.0.0.1', '10.0.0.2:9000'], notReady: [], port: 8012 } };
    b.sync(specs(spec));
    const t = b.throttler('svc:default/x:80')!;
    expect(t.endpoints().map((e) => e.origin).sort()).toEqual(['http://10.0.0.1:8012', 'http://10.0.0.2:9000']);
    b.sync(specs({ ...spec, source: { kind: 'addresses', addresses: ['10.0.0.1'], notReady: [], port: 8012 } }));
    expect(t.endpoints().map((e) => e.origin)).toEqual(['http://10.0.0.1:8012']);
    b.sync(specs({ ...spec, source: { kind: 'dns', host: 'example.org', port: 80 } }));
    expect(t.endpoints().map((e) => e.origin)).toEqual(['http://example.org:80']);
  });

  it('probes not-ready pod addresses like the activator (K-Network-Probe: queue → 200 "queue") before using them', async () => {
    const seen: Record<string, string | undefined>[] = [];
    let healthy = false;
    const qp = http.createServer((req, res) => {
      seen.push({ path: req.url, probe: req.headers['k-network-probe'] as string, ua: req.headers['user-agent'] });
      res.end(healthy ? 'queue' : 'not yet');
    });
    await new Promise<void>((r) => qp.listen(0, '127.0.0.1', r));
    const port = (qp.address() as any).port;
    const b = make();
    const spec: BackendSpec = {
      ...staticSpec('rev:default/pod', []),
      readiness: { kind: 'queue' },
      source: { kind: 'addresses', addresses: [], notReady: [`127.0.0.1:${port}`], port: 8012 },
    };
    b.sync(specs(spec));
    const t = b.throttler('rev:default/pod')!;
    const w = new TestWaiter();
    expect(t.acquire(w)).toBeNull();
    await until(() => seen.length >= 2);
    expect(t.readyCount).toBe(0); // 200 without the "queue" body is not ready
    expect(seen[0]).toEqual({ path: '/healthz', probe: 'queue', ua: 'Knative-Activator-Probe' });
    healthy = true;
    await w.settled;
    expect(w.granted?.origin).toBe(`http://127.0.0.1:${port}`);
    t.release(w.granted!, Outcome.Ok);
    qp.close();
  });
});
