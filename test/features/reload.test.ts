// Reloads from the folder: a change is live within a second, an invalid manifest keeps the old config (and is
// counted), and 20 folder reloads under ~100 rps fail no request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { startBackend, get, type Backend, type Reply } from '../support/http.js';
import { startWharfFolder, writeManifest, tempDir, configMaps, type TestWharf } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';

let a: Backend, b: Backend;
let w: TestWharf;
let dir: string;

const service = (name: string, upstream: string, templateAnnotations: Record<string, string> = {}) =>
  upstreamService({ name, upstream, templateAnnotations });

beforeAll(async () => {
  a = await startBackend((_q, s) => setTimeout(() => s.end('a'), 10));
  b = await startBackend((_q, s) => setTimeout(() => s.end('b'), 10));
  dir = tempDir();
  writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false' } }));
  writeManifest(dir, 'hello.yaml', service('hello', a.origin));
  w = await startWharfFolder(dir);
});

afterAll(async () => {
  await w?.stop();
  await Promise.all([a?.close(), b?.close()]);
});

async function until(fn: () => Promise<boolean>, ms = 1000): Promise<number> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

describe('reload', () => {
  it('applies a folder change within a second', async () => {
    expect((await get(w.external, 'hello.default.example.com')).body).toBe('a');
    writeManifest(dir, 'second.yaml', service('second', b.origin));
    await until(async () => (await get(w.external, 'second.default.example.com')).status === 200);
    expect((await get(w.external, 'second.default.example.com')).body).toBe('b');
  });

  it('keeps the last good config when a manifest is invalid, and counts the rejected reload', async () => {
    const version = w.runtime.snapshot()!.version;
    writeManifest(dir, 'broken.yaml', 'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: broken\n  namespace: default\nspec:\n  traffic:\n    - percent: 150\n');
    writeManifest(dir, 'hello.yaml', service('hello', b.origin));
    await until(async () => /wharf_config_reloads_total\{result="error"\} [1-9]/.test((await get(w.admin, 'localhost', '/metrics')).body));
    expect(w.runtime.snapshot()!.version).toBe(version);
    expect((await get(w.external, 'hello.default.example.com')).body).toBe('a');
    // Fixing the folder applies everything that was waiting.
    writeManifest(dir, 'broken.yaml', '# fixed\n');
    await until(async () => (await get(w.external, 'hello.default.example.com')).body === 'b');
  });

  it('20 folder reloads at ~100 rps: zero failed requests', async () => {
    const agent = new Agent({ keepAliveTimeout: 5000, connections: 32 });
    const replies: Promise<Reply>[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        replies.push(get(w.external, 'hello.default.example.com', '/', { agent }).catch((e) => ({ status: 0, headers: {}, body: String(e) })));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const startVersion = w.runtime.snapshot()!.version;
    for (let i = 1; i <= 20; i++) {
      // Each reload moves the Service to a new revision on the other backend.
      writeManifest(dir, 'hello.yaml', service('hello', i % 2 ? a.origin : b.origin, { 'wharf.dev/reload': String(i) }));
      await until(async () => w.runtime.snapshot()!.version >= startVersion + i, 3000);
    }
    stop = true;
    await load;
    const all = await Promise.all(replies);
    expect(all.length).toBeGreaterThan(50);
    expect(all.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`)).toEqual([]);
    await agent.close();
  });
});
