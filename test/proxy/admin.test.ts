import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, get, type Backend } from '../support/http.js';
import { fixtureSnapshot } from '../support/snapshot.js';
import { PushSource, type TestWharf } from '../support/wharf.js';
import { Runtime } from '../../src/runtime.js';
import { FakeBackends } from '../support/backends.js';
import type { Problem } from '../../src/model/objects.js';

let be: Backend;
let w: TestWharf;
let source: PushSource;
let problems: Problem[] = [];
let runtime: Runtime;

const snap = () =>
  fixtureSnapshot({
    hosts: [
      { hosts: ['hello.example.com'], routes: [{ splits: [{ backend: 'a', percent: 100 }] }] },
      { hosts: ['private.default'], visibility: 'internal', routes: [{ splits: [{ backend: 'a', percent: 100 }] }] },
    ],
    backends: [{ key: 'a', urls: [be.origin], namespace: 'default', service: 'hello', revision: 'hello-00001' }],
    config: { accessLog: false },
  });

beforeAll(async () => {
  be = await startBackend('a');
  source = new PushSource(null); // nothing at start: not ready
  runtime = new Runtime({
    source,
    backends: new FakeBackends(),
    compile: (_d, { version }) => ({ snapshot: { ...snap(), version }, problems }),
    external: { port: 0, host: '127.0.0.1' },
    internal: { port: 0, host: '127.0.0.1' },
    admin: { port: 0, host: '127.0.0.1' },
    drainDelayMs: 0,
    drainTimeoutMs: 1000,
  });
  await runtime.start();
  const a = runtime.addresses();
  w = { runtime, external: a.external!.port, internal: a.internal!.port, admin: a.admin!.port, stop: () => runtime.stop() };
});

afterAll(async () => {
  await w?.stop();
  await be?.close();
});

describe('admin listener', () => {
  it('/healthz is 200 at once; /readyz is 503 until the first config is live', async () => {
    expect((await get(w.admin, 'localhost', '/healthz')).status).toBe(200);
    expect((await get(w.admin, 'localhost', '/readyz')).status).toBe(503);
    expect((await get(w.external, 'hello.example.com')).status).toBe(503);
    source.push();
    expect((await get(w.admin, 'localhost', '/readyz')).status).toBe(200);
    expect((await get(w.external, 'hello.example.com')).status).toBe(200);
  });

  it('/metrics exposes request, reload and route metrics in seconds', async () => {
    await get(w.external, 'hello.example.com');
    await get(w.external, 'unknown.example.com');
    const m = (await get(w.admin, 'localhost', '/metrics')).body;
    expect(m).toMatch(/wharf_requests_total\{plane="external",namespace="default",service="hello",revision="hello-00001",code_class="2xx"\} \d+/);
    expect(m).toMatch(/wharf_requests_total\{plane="external",namespace="",service="",revision="",code_class="4xx"\} 1/);
    expect(m).toMatch(/wharf_request_duration_seconds_bucket\{plane="external",namespace="default",service="hello",revision="hello-00001",le="\+Inf"\} \d+/);
    expect(m).toMatch(/wharf_config_reloads_total\{result="success"\} 1/);
    expect(m).toMatch(/wharf_routes\{plane="external"\} 1/);
    expect(m).toMatch(/wharf_routes\{plane="internal"\} 2/);
  });

  it('a reload with errors keeps the previous snapshot and counts the error', async () => {
    problems = [{ severity: 'error', object: 'Service default/bad', field: 'spec', message: 'broken' }];
    source.push();
    problems = [];
    expect(runtime.snapshot()!.version).toBe(1);
    expect((await get(w.external, 'hello.example.com')).status).toBe(200);
    const m = (await get(w.admin, 'localhost', '/metrics')).body;
    expect(m).toMatch(/wharf_config_reloads_total\{result="error"\} 1/);
  });

  it('/debug/routes shows the compiled table, and other debug endpoints can be registered', async () => {
    const r = JSON.parse((await get(w.admin, 'localhost', '/debug/routes')).body);
    expect(r.planes.external.hosts.map((h: { host: string }) => h.host)).toEqual(['hello.example.com']);
    expect(r.planes.internal.hosts.map((h: { host: string }) => h.host)).toEqual(['hello.example.com', 'private.default']);
    expect(r.planes.external.hosts[0].routes[0].splits[0]).toMatchObject({ percent: 100, backend: 'a', revision: 'hello-00001' });
    runtime.registerDebug('/debug/things', () => ({ things: [1, 2] }));
    expect(JSON.parse((await get(w.admin, 'localhost', '/debug/things')).body)).toEqual({ things: [1, 2] });
    expect(JSON.parse((await get(w.admin, 'localhost', '/debug')).body).endpoints).toContain('/debug/things');
  });

  it('drain turns /readyz 503 and lets the in-flight request finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    be.server.removeAllListeners('request');
    be.server.on('request', async (_req, res) => {
      await gate;
      res.end('finished');
    });
    const inflight = get(w.external, 'hello.example.com');
    await new Promise((r) => setTimeout(r, 100));
    const drained = runtime.drain();
    expect((await get(w.admin, 'localhost', '/readyz')).status).toBe(503);
    release();
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.body).toBe('finished');
    await drained;
  });
});

describe('metric series', () => {
  it('two backend keys with the same labels share one series (no duplicate lines)', async () => {
    const { proxyMetrics } = await import('../../src/proxy/metrics.js');
    const s = fixtureSnapshot({
      hosts: [],
      backends: [
        { key: 'rev:default/dup-00001', urls: ['http://127.0.0.1:1'], namespace: 'default', service: 'dup', revision: 'dup-00001' },
        { key: 'svc:default/dup:80', urls: ['http://127.0.0.1:1'], namespace: 'default', service: 'dup', revision: 'dup-00001' },
      ],
    });
    proxyMetrics.bind(s);
    const a = proxyMetrics.forBackend('rev:default/dup-00001', s.backends.get('rev:default/dup-00001')!);
    const b = proxyMetrics.forBackend('svc:default/dup:80', s.backends.get('svc:default/dup:80')!);
    expect(a).toBe(b);
    a.external.record(200, 0.01);
    b.external.record(200, 0.01);
    const { registry } = await import('../../src/observability/metrics.js');
    const text = await registry.metrics();
    const lines = text.split('\n').filter((l) => l.startsWith('wharf_requests_total{') && l.includes('revision="dup-00001"'));
    expect(lines).toEqual(['wharf_requests_total{plane="external",namespace="default",service="dup",revision="dup-00001",code_class="2xx"} 2']);
  });
});
