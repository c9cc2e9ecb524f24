import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Watch, makeInformer, CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { FakeApiServer, startFakeApiServer } from './index.js';

const ING = '/apis/networking.internal.knative.dev/v1alpha1/namespaces/ns/ingresses';
const kingress = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'networking.internal.knative.dev/v1alpha1',
  kind: 'Ingress',
  metadata: { name, namespace: 'ns', annotations: { 'networking.knative.dev/ingress.class': 'x' } },
  spec: { rules: [{ hosts: [`${name}.example.com`], http: { paths: [{ splits: [{ serviceNamespace: 'ns', serviceName: 's', servicePort: 80 }] }] } }] },
  ...extra,
});

let api: FakeApiServer;
beforeEach(async () => {
  api = await startFakeApiServer({ historyLimit: 50 });
});
afterEach(async () => {
  await api.close();
});

async function req(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const r = await fetch(api.url + path, { method, headers: body ? { 'content-type': contentType } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json() };
}

function collect(path: string, query: Record<string, string>): { events: { type: string; object: any }[]; done: Promise<unknown>; stop(): void } {
  const events: { type: string; object: any }[] = [];
  let ctl: AbortController | undefined;
  let resolveDone!: (e: unknown) => void;
  const done = new Promise((r) => (resolveDone = r));
  void new Watch(api.kubeConfig())
    .watch(path, query, (type, object) => events.push({ type, object }), (err) => resolveDone(err ?? 'closed'))
    .then((c) => (ctl = c));
  return { events, done, stop: () => ctl?.abort() };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('fake API server', () => {
  it('creates, gets and lists with resourceVersions; built-in list items carry no kind', async () => {
    const c = await req('POST', ING, kingress('a'));
    expect(c.status).toBe(201);
    expect(c.body.metadata).toMatchObject({ name: 'a', namespace: 'ns', generation: 1 });
    expect(c.body.metadata.uid).toMatch(/-/);
    expect((await req('POST', ING, kingress('a'))).status).toBe(409);
    const l = await req('GET', ING);
    expect(l.body.kind).toBe('IngressList');
    expect(Number(l.body.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(c.body.metadata.resourceVersion));
    expect(l.body.items.map((i: any) => i.metadata.name)).toEqual(['a']);
    expect((await req('GET', `${ING}/nope`)).status).toBe(404);
    await req('POST', '/api/v1/namespaces/ns/configmaps', { metadata: { name: 'cm' }, data: { k: 'v' } });
    const cms = await req('GET', '/api/v1/configmaps');
    expect(cms.body.items[0].kind).toBeUndefined();
    // The typed client of client-node works against it.
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const got: V1ConfigMap = await core.readNamespacedConfigMap({ name: 'cm', namespace: 'ns' });
    expect(got.data).toEqual({ k: 'v' });
  });

  it('filters by label selector, including transitions on a watch', async () => {
    await req('POST', '/api/v1/namespaces/ns/services', { metadata: { name: 'a', labels: { app: 'x', tier: 'web' } }, spec: {} });
    await req('POST', '/api/v1/namespaces/ns/services', { metadata: { name: 'b', labels: { app: 'y' } }, spec: {} });
    const q = async (sel: string) => (await req('GET', `/api/v1/services?labelSelector=${encodeURIComponent(sel)}`)).body.items.map((i: any) => i.metadata.name);
    expect(await q('app=x')).toEqual(['a']);
    expect(await q('app!=x')).toEqual(['b']);
    expect(await q('app in (x,y)')).toEqual(['a', 'b']);
    expect(await q('tier')).toEqual(['a']);
    expect(await q('!tier')).toEqual(['b']);
    expect((await req('GET', '/api/v1/services?labelSelector=%3D%3D')).status).toBe(400);
    const rv = (await req('GET', '/api/v1/services')).body.metadata.resourceVersion;
    const w = collect('/api/v1/namespaces/ns/services', { labelSelector: 'app=x', resourceVersion: rv });
    await until(() => api.store.watchers.size === 1);
    await req('PATCH', '/api/v1/namespaces/ns/services/b', { metadata: { labels: { app: 'x' } } }, 'application/merge-patch+json');
    await req('PATCH', '/api/v1/namespaces/ns/services/a', { metadata: { labels: { app: null } } }, 'application/merge-patch+json');
    await until(() => w.events.length >= 2);
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b', 'DELETED a']);
    w.stop();
  });

  it('streams watch events in order from a resourceVersion, and ADDED for all on resourceVersion 0', async () => {
    const rv0 = (await req('POST', ING, kingress('a'))).body.metadata.resourceVersion;
    const w = collect(ING, { resourceVersion: rv0, allowWatchBookmarks: 'true' });
    const all = collect(ING, { resourceVersion: '0' });
    await until(() => api.store.watchers.size === 2); // a watch from "0" only sees what happens after it starts
    await req('POST', ING, kingress('b'));
    await req('PATCH', `${ING}/a`, { spec: { httpOption: 'Enabled' } }, 'application/merge-patch+json');
    await req('DELETE', `${ING}/b`);
    api.store.bookmark();
    await until(() => w.events.length >= 4);
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name ?? ''}`)).toEqual(['ADDED b', 'MODIFIED a', 'DELETED b', 'BOOKMARK ']);
    const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
    expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
    expect(new Set(rvs).size).toBe(rvs.length - 1); // bookmark repeats the last rv
    await until(() => all.events.length >= 4);
    expect(all.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'a' } } });
    expect(all.events.some((e) => e.type === 'BOOKMARK')).toBe(false); // not asked for
    w.stop();
    all.stop();
  });

  it('answers a watch from a compacted resourceVersion with an ERROR 410 event and ends the stream', async () => {
    const rv0 = (await req('POST', ING, kingress('a'))).body.metadata.resourceVersion;
    await req('POST', ING, kingress('b'));
    api.store.compact();
    const w = collect(ING, { resourceVersion: rv0 });
    await w.done;
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    // history bound: more than historyLimit events also expire old versions
    const rv1 = (await req('GET', ING)).body.metadata.resourceVersion;
    for (let i = 0; i < 60; i++) await req('PATCH', `${ING}/a`, { metadata: { labels: { i: String(i) } } }, 'application/merge-patch+json');
    const w2 = collect(ING, { resourceVersion: rv1 });
    await w2.done;
    expect(w2.events[0].object.code).toBe(410);
  });

  it('lets client-node informers relist after 410', async () => {
    await req('POST', ING, kingress('a'));
    const kc = api.kubeConfig();
    const list = async () => (await fetch(api.url + ING)).json();
    const inf = makeInformer(kc, ING, list as any);
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    inf.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    await inf.start();
    await until(() => seen.includes('add a'));
    await api.goDown(); // the informer's watch ends; while down, changes happen and history is compacted
    api.create(kingress('b'));
    api.delete('networking.internal.knative.dev/v1alpha1', 'Ingress', 'ns', 'a');
    api.store.compact();
    await api.comeUp();
    // client-node's ListWatch re-watches on a clean close, gets 410, then relists
    await until(() => seen.includes('add b') && seen.includes('delete a'), 5000);
    await inf.stop();
  });

  it('keeps status out of main-resource writes and everything but status out of /status writes', async () => {
    const c = await req('POST', ING, { ...kingress('a'), status: { observedGeneration: 9 } });
    expect(c.body.status).toBeUndefined();
    const put = await req('PUT', `${ING}/a`, { ...c.body, status: { observedGeneration: 5 }, spec: { ...c.body.spec, httpOption: 'Enabled' } });
    expect(put.status).toBe(200);
    expect(put.body.status).toBeUndefined();
    expect(put.body.metadata.generation).toBe(2);
    const st = await req('PATCH', `${ING}/a/status`, { status: { observedGeneration: 2 }, spec: { httpOption: 'Redirected' }, metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
    expect(st.body.status).toEqual({ observedGeneration: 2 });
    expect(st.body.spec.httpOption).toBe('Enabled');
    expect(st.body.metadata.labels).toBeUndefined();
    expect(st.body.metadata.generation).toBe(2); // status writes never bump generation
    const meta = await req('PATCH', `${ING}/a`, { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
    expect(meta.body.metadata.generation).toBe(2); // nor do metadata-only writes
    expect(meta.body.status).toEqual({ observedGeneration: 2 });
    // A no-op write keeps the resourceVersion.
    const noop = await req('PATCH', `${ING}/a`, { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
    expect(noop.body.metadata.resourceVersion).toBe(meta.body.metadata.resourceVersion);
    expect((await req('PUT', '/api/v1/namespaces/ns/configmaps/zz/status', {})).status).toBe(404);
  });

  it('rejects stale resourceVersions (409) and unconditional CRD PUTs (422)', async () => {
    const c = await req('POST', ING, kingress('a'));
    const ok = await req('PUT', `${ING}/a`, { ...c.body, metadata: { ...c.body.metadata, labels: { v: '1' } } });
    expect(ok.status).toBe(200);
    const stale = await req('PUT', `${ING}/a`, { ...c.body, metadata: { ...c.body.metadata, labels: { v: '2' } } });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    const uncond = await req('PUT', `${ING}/a`, { ...c.body, metadata: { ...c.body.metadata, resourceVersion: undefined } });
    expect(uncond.status).toBe(422);
    const stalePatch = await req('PATCH', `${ING}/a/status`, { metadata: { resourceVersion: c.body.metadata.resourceVersion }, status: { a: 1 } }, 'application/merge-patch+json');
    expect(stalePatch.status).toBe(409);
  });

  it('applies JSON patches, with test ops as preconditions', async () => {
    await req('POST', ING, kingress('a'));
    const p = await req('PATCH', `${ING}/a`, [{ op: 'add', path: '/metadata/finalizers', value: ['f'] }, { op: 'add', path: '/spec/httpOption', value: 'Enabled' }], 'application/json-patch+json');
    expect(p.status).toBe(200);
    expect(p.body.metadata.finalizers).toEqual(['f']);
    expect(p.body.spec.httpOption).toBe('Enabled');
    const bad = await req('PATCH', `${ING}/a`, [{ op: 'test', path: '/metadata/finalizers', value: ['g'] }, { op: 'remove', path: '/metadata/finalizers' }], 'application/json-patch+json');
    expect(bad.status).toBe(422);
    expect((await req('PATCH', `${ING}/a`, {}, 'application/strategic-merge-patch+json')).status).toBe(415);
  });

  it('holds objects with finalizers until the last finalizer goes', async () => {
    await req('POST', ING, { ...kingress('a'), metadata: { ...kingress('a').metadata, finalizers: ['one', 'two'] } });
    const rv = (await req('GET', ING)).body.metadata.resourceVersion;
    const w = collect(ING, { resourceVersion: rv });
    const d = await req('DELETE', `${ING}/a`);
    expect(d.status).toBe(200);
    expect(d.body.metadata.deletionTimestamp).toBeTruthy();
    const still = await req('GET', `${ING}/a`);
    expect(still.status).toBe(200);
    const add = await req('PATCH', `${ING}/a`, { metadata: { finalizers: ['one', 'two', 'three'] } }, 'application/merge-patch+json');
    expect(add.status).toBe(422);
    await req('PATCH', `${ING}/a`, { metadata: { finalizers: ['two'] } }, 'application/merge-patch+json');
    expect((await req('GET', `${ING}/a`)).status).toBe(200);
    await req('PATCH', `${ING}/a`, { metadata: { finalizers: [] } }, 'application/merge-patch+json');
    expect((await req('GET', `${ING}/a`)).status).toBe(404);
    await until(() => w.events.length >= 3);
    expect(w.events.map((e) => e.type)).toEqual(['MODIFIED', 'MODIFIED', 'DELETED']);
    w.stop();
  });

  it('serves cluster-scoped resources and discovery', async () => {
    const cdc = await req('POST', '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims', { metadata: { name: 'a.example.com' }, spec: { namespace: 'ns' } });
    expect(cdc.status).toBe(201);
    expect(cdc.body.metadata.namespace).toBeUndefined();
    const d = await req('GET', '/apis/networking.internal.knative.dev/v1alpha1');
    expect(d.body.resources.map((r: any) => r.name)).toContain('ingresses/status');
  });

  it('prunes unknown fields and rejects schema violations of CRDs, like a real server', async () => {
    const c = await req('POST', ING, { ...kingress('a'), spec: { ...kingress('a').spec, bogus: 1 }, extra: true });
    expect(c.status).toBe(201);
    expect(c.body.spec.bogus).toBeUndefined();
    expect(c.body.extra).toBeUndefined();
    expect(c.body.spec.rules[0].http.paths[0].splits[0].servicePort).toBe(80); // int-or-string kept
    const bad = await req('POST', ING, { ...kingress('b'), spec: { rules: 'nope' } });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toContain('spec.rules');
    const badStatus = await req('PATCH', `${ING}/a/status`, { status: { observedGeneration: 'one' } }, 'application/merge-patch+json');
    expect(badStatus.status).toBe(422);
    const noType = await req('PATCH', `${ING}/a/status`, { status: { conditions: [{ status: 'True' }] } }, 'application/merge-patch+json');
    expect(noType.status).toBe(422); // conditions need type and status
  });
});
