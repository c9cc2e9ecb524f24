// Reload under load at the data-plane level: every reload names a new revision (so the previous target is retired
// while requests to it are in flight) through the real backends layer. No request may fail.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent } from 'undici';
import { startBackend, get, type Backend, type Reply } from '../support/http.js';
import { fixtureSnapshot } from '../support/snapshot.js';
import { startWharfWith, type TestWharf } from '../support/wharf.js';
import { createBackends } from '../../src/backends/index.js';

let a: Backend, b: Backend;
let w: TestWharf & { source: import('../support/wharf.js').PushSource };
let generation = 1;

const snap = () => {
  const g = generation;
  const origin = g % 2 ? a.origin : b.origin;
  return fixtureSnapshot({
    hosts: [{ hosts: ['hello.default.example.com'], routes: [{ splits: [{ backend: `rev:default/hello-${g}`, percent: 100 }] }] }],
    backends: [{ key: `rev:default/hello-${g}`, urls: [origin], revision: `hello-${g}` }],
    config: { accessLog: false },
  });
};

beforeAll(async () => {
  // Each answer takes a little while, so requests are in flight across every swap.
  a = await startBackend((_q, s) => setTimeout(() => s.end('a'), 20));
  b = await startBackend((_q, s) => setTimeout(() => s.end('b'), 20));
  w = await startWharfWith(snap, { backends: createBackends({ drainTimeoutMs: 5000 }) });
});

afterAll(async () => {
  await w?.stop();
  await Promise.all([a?.close(), b?.close()]);
});

it('20 reloads at ~100 rps: zero failed requests, and traffic follows each new snapshot', async () => {
  const agent = new Agent({ keepAliveTimeout: 5000, connections: 32 });
  const replies: Promise<Reply>[] = [];
  const errors: unknown[] = [];
  const durationMs = 2200;
  const t0 = Date.now();
  // ~100 rps open loop: one request every 10 ms.
  const load = setInterval(() => {
    replies.push(get(w.external, 'hello.default.example.com', '/', { agent }).catch((e) => (errors.push(e), { status: 0, headers: {}, body: String(e) })));
  }, 10);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    generation++;
    w.source.push();
  }
  while (Date.now() - t0 < durationMs) await new Promise((r) => setTimeout(r, 20));
  clearInterval(load);
  const all = await Promise.all(replies);
  expect(errors).toEqual([]);
  expect(all.length).toBeGreaterThan(150);
  const failed = all.filter((r) => r.status !== 200);
  expect(failed.map((r) => `${r.status} ${r.body}`)).toEqual([]);
  expect(w.runtime.snapshot()!.version).toBe(21);
  const last = await get(w.external, 'hello.default.example.com', '/', { agent });
  expect(last.body).toBe(generation % 2 ? 'a' : 'b');
  await agent.close();
});
