// Issue 2 routing features end to end: a manifest folder → source → compiler → backends → data plane, with real
// backend sockets behind `wharf.dev/upstream` annotations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, get, echoed, many, type Backend } from '../support/http.js';
import { startWharfFolder, writeManifest, tempDir, configMaps, type TestWharf } from '../support/wharf.js';
import { upstreamService, upstreamRevision } from '../support/manifests.js';

let blue: Backend, green: Backend, old: Backend, priv: Backend;
let w: TestWharf;

const revision = (name: string, service: string, upstream: string) => upstreamRevision({ name, service, upstream });

beforeAll(async () => {
  blue = await startBackend('blue');
  green = await startBackend('green');
  old = await startBackend('old');
  priv = await startBackend('private');
  const dir = tempDir();
  writeManifest(dir, 'config.yaml', configMaps({ 'config-features': { 'tag-header-based-routing': 'Enabled' }, 'config-wharf': { 'access-log': 'false' } }));
  writeManifest(dir, 'web.yaml', [
    revision('web-blue', 'web', blue.origin),
    revision('web-old', 'web', old.origin),
    upstreamService({
      name: 'web',
      upstream: green.origin,
      revisionName: 'web-green',
      specExtra: `  traffic:
    - revisionName: web-blue
      percent: 70
    - latestRevision: true
      percent: 30
      tag: candidate
    - revisionName: web-old
      percent: 0
      tag: old
`,
    }),
  ].join('---\n'));
  writeManifest(dir, 'private.yaml', upstreamService({ name: 'secret', upstream: priv.origin, labels: { 'networking.knative.dev/visibility': 'cluster-local' } }));
  w = await startWharfFolder(dir);
});

afterAll(async () => {
  await w?.stop();
  await Promise.all([blue, green, old, priv].map((b) => b?.close()));
});

describe('traffic splits', () => {
  it('2000 requests follow percent within ±3 points; the 0% target gets none', async () => {
    const n = 2000;
    const replies = await many(n, 16, () => get(w.external, 'web.default.example.com'));
    const counts: Record<string, number> = {};
    for (const r of replies) {
      expect(r.status).toBe(200);
      const b = r.headers['x-backend'] as string;
      counts[b] = (counts[b] ?? 0) + 1;
    }
    expect(counts.old ?? 0).toBe(0);
    expect(Math.abs(((counts.blue ?? 0) / n) * 100 - 70)).toBeLessThanOrEqual(3);
    expect(Math.abs(((counts.green ?? 0) / n) * 100 - 30)).toBeLessThanOrEqual(3);
  });

  it('each tag has its own host at 100%, including a 0% tagged target', async () => {
    for (let i = 0; i < 10; i++) {
      expect(echoed(await get(w.external, 'candidate-web.default.example.com')).backend).toBe('green');
      expect(echoed(await get(w.external, 'old-web.default.example.com')).backend).toBe('old');
    }
  });

  it('Knative-Serving-Tag on the default host routes to the tag; unknown or absent tags get the default split', async () => {
    for (let i = 0; i < 10; i++) {
      expect(echoed(await get(w.external, 'web.default.example.com', '/', { headers: { 'Knative-Serving-Tag': 'old' } })).backend).toBe('old');
      expect(echoed(await get(w.external, 'web.default.example.com', '/', { headers: { 'Knative-Serving-Tag': 'candidate' } })).backend).toBe('green');
    }
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const e = echoed(await get(w.external, 'web.default.example.com', '/', { headers: { 'Knative-Serving-Tag': 'nope' } }));
      seen.add(e.backend);
      expect(e.headers['knative-serving-default-route']).toBe('true');
    }
    expect([...seen].sort()).toEqual(['blue', 'green']);
  });

  it('sets Knative-Serving-Revision/-Namespace, replacing what the client sent', async () => {
    const e = echoed(
      await get(w.external, 'old-web.default.example.com', '/', {
        headers: { 'Knative-Serving-Revision': 'forged', 'Knative-Serving-Namespace': 'forged' },
      }),
    );
    expect(e.headers['knative-serving-revision']).toBe('web-old');
    expect(e.headers['knative-serving-namespace']).toBe('default');
    expect(e.headers.host).toBe('old-web.default.example.com');
    expect(e.headers['x-forwarded-proto']).toBe('http');
    expect(e.headers['x-request-id']).toBeTruthy();
  });
});

describe('visibility', () => {
  const spellings = (h: string) => [h, h.toUpperCase(), `${h}.`, `${h}:80`, `${h}:8081`, `${h.toUpperCase()}.:80`];

  it('cluster-local hosts answer 404 on the external plane for every spelling, and 200 on the internal plane', async () => {
    for (const base of ['secret.default', 'secret.default.svc', 'secret.default.svc.cluster.local']) {
      for (const h of spellings(base)) {
        const ext = await get(w.external, h);
        expect(ext.status, `external ${h}`).toBe(404);
        expect(ext.body.length).toBeLessThan(200);
        const int = await get(w.internal, h);
        expect(int.status, `internal ${h}`).toBe(200);
        expect(echoed(int).backend).toBe('private');
      }
    }
    // A cluster-local Service gets no external host at all.
    expect((await get(w.external, 'secret.default.example.com')).status).toBe(404);
    expect((await get(w.internal, 'secret.default.example.com')).status).toBe(404);
  });

  it('a public Service is reachable on both planes, and its cluster-local forms only internally', async () => {
    expect((await get(w.external, 'web.default.example.com')).status).toBe(200);
    expect((await get(w.internal, 'web.default.example.com')).status).toBe(200);
    expect((await get(w.external, 'web.default.svc.cluster.local')).status).toBe(404);
    expect((await get(w.internal, 'web.default.svc.cluster.local')).status).toBe(200);
    expect((await get(w.internal, 'candidate-web.default')).status).toBe(200);
  });
});
