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
  // ~100 rps open loop (one request every 10 ms), and a reload after every 10th request: 20 reloads in 200 requests.
  await new Promise<void>((resolve) => {
    let sent = 0;
    const load = setInterval(() => {
      replies.push(get(w.external, 'hello.default.example.com', '/', { agent }).catch((e) => (errors.push(e), { status: 0, headers: {}, body: String(e) })));
      sent++;
      if (sent % 10 === 0) {
        generation++;
        w.source.push();
      }
      if (sent === 200) {
        clearInterval(load);
        resolve();
      }
    }, 10);
  });
  const all = await Promise.all(replies);
  expect(errors).toEqual([]);
  expect(all.length).toBe(200);
  const failed = all.filter((r) => r.status !== 200);
  expect(failed.map((r) => `${r.status} ${r.body}`)).toEqual([]);
  expect(w.runtime.snapshot()!.version).toBe(21);
  const last = await get(w.external, 'hello.default.example.com', '/', { agent });
  expect(last.body).toBe(generation % 2 ? 'a' : 'b');
  await agent.close();
});
