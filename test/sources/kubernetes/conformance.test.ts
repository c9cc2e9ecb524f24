// Knative's ingress conformance scenarios (knative/networking test/conformance/ingress), run against wharf in cluster
// mode: KIngress/Service/EndpointSlice objects go into the fake API server, wharf's status must turn Ready the way
// the suite waits for it, and behaviour is checked through wharf's listeners with loopback backends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngressSpec } from '../../../src/model/kingress.js';
import { probeHash } from '../../../src/model/probehash.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { KINGRESS_API, endpointSlice, kingress, service, simpleSpec, until } from '../../support/k8s-fixtures.js';
import { EchoBackend, exposeBackend, get, startClusterWharf, waitReady, type ClusterWharf } from '../../support/k8s-wharf.js';

const NS = 'serving-tests';
let api: FakeApiServer;
let wharf: ClusterWharf;
const backends: EchoBackend[] = [];

async function backend(name: string, handler?: ConstructorParameters<typeof EchoBackend>[1]): Promise<EchoBackend> {
  const b = await new EchoBackend(name, handler).start();
  backends.push(b);
  exposeBackend(api, NS, name, b);
  return b;
}

const split = (svc: string, percent?: number, appendHeaders?: Record<string, string>) => ({ serviceNamespace: NS, serviceName: svc, servicePort: 80, percent, appendHeaders });

async function createReady(name: string, spec: IngressSpec): Promise<any> {
  api.create(kingress(NS, name, { ...spec, httpOption: 'Enabled' }));
  return waitReady(api, NS, name);
}

/** n GETs with `parallel` in flight; counts by a response header the backend echoes. */
async function tally(port: number, host: string, n: number, parallel: number, key: (r: Awaited<ReturnType<typeof get>>) => string, path = '/'): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const r = await get(port, host, path);
      const k = r.status === 200 ? key(r) : `status ${r.status}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return counts;
}

beforeAll(async () => {
  api = await startFakeApiServer();
  wharf = await startClusterWharf(api, { replicas: 2 });
});
afterAll(async () => {
  await wharf?.stop();
  for (const b of backends) b.close();
  await api?.close();
});

describe('ingress conformance (cluster mode)', () => {
  it('basics', async () => {
    await backend('basics');
    const o = await createReady('basics', simpleSpec(NS, 'basics.example.com', 'basics'));
    expect(o.status.publicLoadBalancer.ingress[0].domainInternal).toBe('wharf.wharf-system.svc.cluster.local');
    for (const r of wharf.replicas) {
      const res = await get(r.external, 'basics.example.com');
      expect(res.status).toBe(200);
      expect(res.json.backend).toBe('basics');
    }
    // /debug/kubernetes: exactly one leader; every watch synced; the live ingress with its hash
    const dbg = await Promise.all(wharf.replicas.map(async (r) => (await fetch(`http://127.0.0.1:${r.admin}/debug/kubernetes`)).json()));
    expect(dbg.filter((d: any) => d.leader)).toHaveLength(1);
    for (const d of dbg as any[]) {
      expect(Object.values(d.watches).every((w: any) => w.synced)).toBe(true);
      expect(d.ingresses[`${NS}/basics`]).toMatchObject({ generation: 1, hash: probeHash(o) });
    }
  });

  it('basics/http2 (port named http2 + appProtocol h2c → the backend speaks HTTP/2)', async () => {
    const { createServer } = await import('node:http2');
    const h2 = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backend: 'h2', request: { protoMajor: req.httpVersionMajor, headers: req.headers } }));
    });
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', () => r()));
    const port = (h2.address() as import('node:net').AddressInfo).port;
    try {
      api.create(service(NS, 'h2', [{ name: 'http2', port: 80, targetPort: port, appProtocol: 'kubernetes.io/h2c' }]));
      api.create(endpointSlice(NS, 'h2', 'h2-abc', [{ ip: '127.0.0.1' }], [{ name: 'http2', port }]));
      await createReady('h2', simpleSpec(NS, 'h2.example.com', 'h2'));
      const r = await get(wharf.external, 'h2.example.com');
      expect(r.status).toBe(200);
      expect(r.json.request.protoMajor).toBe(2);
    } finally {
      h2.close();
    }
  });

  it('hosts/multiple', async () => {
    await backend('multi');
    const hosts = ['multi.foo.com', 'multi.www.foo.com', 'a-long-label.with.many.labels.multi.example.com', 'multi.bar.com'];
    await createReady('multi', { rules: [{ hosts, http: { paths: [{ splits: [split('multi')] }] } }] });
    for (const h of hosts) expect((await get(wharf.external, h)).status, h).toBe(200);
  });

  it('dispatch/path', async () => {
    for (const n of ['path-foo', 'path-bar', 'path-baz', 'path-all']) await backend(n);
    await createReady('path', {
      rules: [
        {
          hosts: ['path.example.com'],
          http: {
            paths: [
              { path: '/foo', splits: [split('path-foo', 100, { 'Which-Backend': 'foo' })] },
              { path: '/bar', splits: [split('path-bar', 100, { 'Which-Backend': 'bar' })] },
              { path: '/baz', splits: [split('path-baz', 100, { 'Which-Backend': 'baz' })] },
              { splits: [split('path-all', 100, { 'Which-Backend': 'all' })] },
            ],
          },
        },
      ],
    });
    const which = async (p: string) => (await get(wharf.external, 'path.example.com', p)).json?.request.headers['which-backend'];
    expect(await which('/foo')).toBe('foo');
    expect(await which('/bar')).toBe('bar');
    expect(await which('/baz')).toBe('baz');
    expect(await which('/')).toBe('all');
    expect(await which('/asdf')).toBe('all');
  });

  it('dispatch/rule', async () => {
    await backend('rule-a');
    await backend('rule-b');
    await createReady('rule', {
      rules: [
        { hosts: ['rule-a.example.com'], http: { paths: [{ appendHeaders: { 'Which-Backend': 'a' }, splits: [split('rule-a')] }] } },
        { hosts: ['rule-b.example.com'], http: { paths: [{ appendHeaders: { 'Which-Backend': 'b' }, splits: [split('rule-b')] }] } },
      ],
    });
    expect((await get(wharf.external, 'rule-a.example.com')).json.backend).toBe('rule-a');
    expect((await get(wharf.external, 'rule-b.example.com')).json.backend).toBe('rule-b');
  });

  it('dispatch/percentage (1,2,4,8,16,32,37,0,0,0: ±10 points over 1000, 0% gets none)', async () => {
    await backend('pct');
    const percents = [1, 2, 4, 8, 16, 32, 37, 0, 0, 0];
    await createReady('pct', { rules: [{ hosts: ['pct.example.com'], http: { paths: [{ splits: percents.map((p, i) => split('pct', p, { 'Which-Backend': `b${i}` })) }] } }] });
    const counts = await tally(wharf.external, 'pct.example.com', 1000, 8, (r) => r.json.request.headers['which-backend']);
    percents.forEach((p, i) => {
      const got = ((counts.get(`b${i}`) ?? 0) / 1000) * 100;
      expect(Math.abs(got - p), `b${i}: ${got}% for ${p}%`).toBeLessThanOrEqual(10);
      if (p === 0) expect(counts.get(`b${i}`) ?? 0).toBe(0);
    });
    expect([...counts.keys()].filter((k) => k.startsWith('status'))).toEqual([]);
  });

  it('dispatch/path_and_percentage', async () => {
    await backend('pp-a');
    await backend('pp-b');
    await backend('pp-all');
    await createReady('pp', {
      rules: [
        {
          hosts: ['pp.example.com'],
          http: { paths: [{ path: '/foo', splits: [split('pp-a', 50), split('pp-b', 50)] }, { splits: [split('pp-all')] }] },
        },
      ],
    });
    const counts = await tally(wharf.external, 'pp.example.com', 1000, 8, (r) => r.json.backend, '/foo');
    expect(Math.abs((counts.get('pp-a') ?? 0) - 500)).toBeLessThanOrEqual(150);
    expect(Math.abs((counts.get('pp-b') ?? 0) - 500)).toBeLessThanOrEqual(150);
    expect((counts.get('pp-a') ?? 0) + (counts.get('pp-b') ?? 0)).toBe(1000);
  });

  it('headers/pre-split (set, not append)', async () => {
    await backend('pre');
    await createReady('pre', { rules: [{ hosts: ['pre.example.com'], http: { paths: [{ appendHeaders: { 'Foo-Bar-Baz': 'pre' }, splits: [split('pre')] }] } }] });
    expect((await get(wharf.external, 'pre.example.com')).json.request.headers['foo-bar-baz']).toBe('pre');
    expect((await get(wharf.external, 'pre.example.com', '/', { 'Foo-Bar-Baz': 'bogus' })).json.request.headers['foo-bar-baz']).toBe('pre');
  });

  it('headers/post-split (4 × 25%, all seen within 100 requests, overwrite)', async () => {
    for (let i = 0; i < 4; i++) await backend(`post-${i}`);
    await createReady('post', { rules: [{ hosts: ['post.example.com'], http: { paths: [{ splits: [0, 1, 2, 3].map((i) => split(`post-${i}`, 25, { 'Foo-Bar-Baz': `v${i}` })) }] } }] });
    const seen = new Set<string>();
    for (let i = 0; i < 100 && seen.size < 4; i++) {
      const r = await get(wharf.external, 'post.example.com', '/', { 'Foo-Bar-Baz': 'bogus' });
      const v = r.json.request.headers['foo-bar-baz'];
      expect(v).toBe(`v${r.json.backend.slice(-1)}`);
      seen.add(v);
    }
    expect(seen.size).toBe(4);
  });

  it('headers/probe', async () => {
    await backend('probe');
    const o = await createReady('probe', simpleSpec(NS, 'probe.example.com', 'probe'));
    const r = await get(wharf.external, 'probe.example.com', '/', { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'override' });
    expect(r.status).toBe(200);
    expect(r.headers['k-network-hash']).toBe(probeHash(o));
    const arbitrary = 'ab'.repeat(32);
    const r2 = await get(wharf.external, 'probe.example.com', '/', { 'K-Network-Probe': 'probe', 'K-Network-Hash': arbitrary });
    expect(r2.status).toBe(200);
    expect(r2.headers['k-network-hash']).toBe(arbitrary);
  });

  it('headers/tags', async () => {
    await backend('tags');
    await createReady('tags', {
      rules: [
        {
          hosts: ['tags.example.com'],
          http: {
            paths: [
              { headers: { 'Knative-Serving-Tag': { exact: 'the-tag' } }, appendHeaders: { 'Which-Backend': 'tag' }, splits: [split('tags')] },
              { appendHeaders: { 'Which-Backend': 'no-tag' }, splits: [split('tags')] },
            ],
          },
        },
      ],
    });
    const which = async (h: Record<string, string>) => (await get(wharf.external, 'tags.example.com', '/', h)).json.request.headers['which-backend'];
    expect(await which({ 'Knative-Serving-Tag': 'the-tag' })).toBe('tag');
    expect(await which({})).toBe('no-tag');
    expect(await which({ 'Knative-Serving-Tag': '' })).toBe('no-tag');
    expect(await which({ 'Knative-Serving-Tag': 'other' })).toBe('no-tag');
  });

  it('retry (the first 503 reaches the client)', async () => {
    let n = 0;
    await backend('retry', (_req, res) => {
      if (n++ === 0) {
        res.writeHead(503).end('first');
        return true;
      }
      return false;
    });
    await createReady('retry', simpleSpec(NS, 'retry.example.com', 'retry'));
    expect((await get(wharf.external, 'retry.example.com')).status).toBe(503);
    expect((await get(wharf.external, 'retry.example.com')).status).toBe(200);
  });

  it('visibility (ClusterLocal: 404 publicly, 200 on the internal plane for all short forms)', async () => {
    await backend('vis');
    const hosts = [`vis.${NS}.svc.cluster.local`, `vis.${NS}.svc`, `vis.${NS}`];
    const o = await createReady('vis', { rules: [{ hosts, visibility: 'ClusterLocal', http: { paths: [{ splits: [split('vis')] }] } }] });
    expect(o.status.privateLoadBalancer.ingress[0].domainInternal).toBe('wharf-internal.wharf-system.svc.cluster.local');
    for (const h of hosts) {
      expect((await get(wharf.external, h)).status, `public ${h}`).toBe(404);
      expect((await get(wharf.internal, h)).status, `internal ${h}`).toBe(200);
    }
  });

  it('visibility/split (ClusterLocal percentages through the internal plane only)', async () => {
    await backend('vsplit');
    const percents = [1, 2, 4, 8, 16, 32, 37, 0, 0, 0];
    const host = `vsplit.${NS}.svc.cluster.local`;
    await createReady('vsplit', { rules: [{ hosts: [host], visibility: 'ClusterLocal', http: { paths: [{ splits: percents.map((p, i) => split('vsplit', p, { 'Which-Backend': `b${i}` })) }] } }] });
    expect((await get(wharf.external, host)).status).toBe(404);
    const counts = await tally(wharf.internal, host, 1000, 8, (r) => r.json.request.headers['which-backend']);
    percents.forEach((p, i) => {
      expect(Math.abs(((counts.get(`b${i}`) ?? 0) / 1000) * 100 - p), `b${i}`).toBeLessThanOrEqual(10);
      if (p === 0) expect(counts.get(`b${i}`) ?? 0).toBe(0);
    });
  });

  it('visibility/path (ClusterLocal path table)', async () => {
    await backend('vpath');
    const host = `vpath.${NS}.svc.cluster.local`;
    await createReady('vpath', {
      rules: [
        {
          hosts: [host],
          visibility: 'ClusterLocal',
          http: { paths: ['/foo', '/bar', '/baz', ''].map((p) => ({ path: p || undefined, splits: [split('vpath', 100, { 'Which-Backend': p || 'all' })] })) },
        },
      ],
    });
    for (const p of ['', '/foo', '/bar', '/baz']) expect((await get(wharf.external, host, p || '/')).status, `public ${p}`).toBe(404);
    const which = async (p: string) => (await get(wharf.internal, host, p)).json?.request.headers['which-backend'];
    expect(await which('/foo')).toBe('/foo');
    expect(await which('/bar')).toBe('/bar');
    expect(await which('/baz')).toBe('/baz');
    expect(await which('/')).toBe('all');
    expect(await which('/asdf')).toBe('all');
  });

  it('httpoption (plain HTTP: Enabled → 200, Redirected → 301 to https)', async () => {
    await backend('opt');
    api.create(kingress(NS, 'opt-enabled', { ...simpleSpec(NS, 'opt-enabled.example.com', 'opt'), httpOption: 'Enabled' }));
    api.create(kingress(NS, 'opt-redirected', { ...simpleSpec(NS, 'opt-redirected.example.com', 'opt'), httpOption: 'Redirected' }));
    await waitReady(api, NS, 'opt-enabled');
    await waitReady(api, NS, 'opt-redirected'); // the prober accepts the 301, as Knative's does
    expect((await get(wharf.external, 'opt-enabled.example.com')).status).toBe(200);
    const r = await get(wharf.external, 'opt-redirected.example.com', '/x');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://opt-redirected.example.com/x');
  });

  it('ingressclass (other classes stay byte-identical)', async () => {
    await backend('cls');
    const spec = simpleSpec(NS, 'cls.example.com', 'cls');
    const made = [
      api.create(kingress(NS, 'cls-nil', spec, { cls: null })),
      api.create({ ...kingress(NS, 'cls-empty', spec), metadata: { name: 'cls-empty', namespace: NS, annotations: {} } }),
      api.create(kingress(NS, 'cls-incorrect', spec, { cls: 'incorrect' })),
      api.create(kingress(NS, 'cls-blank', spec, { cls: '' })),
    ].map((o) => JSON.stringify(o));
    await new Promise((r) => setTimeout(r, 2000));
    const now = ['cls-nil', 'cls-empty', 'cls-incorrect', 'cls-blank'].map((n) => JSON.stringify(api.get(KINGRESS_API, 'Ingress', NS, n)));
    expect(now).toEqual(made);
    expect((await get(wharf.external, 'cls.example.com')).status).toBe(404);
  });

  it('update (20 changes under load, zero failures; Ready means every replica serves the change)', async () => {
    await backend('upd-0');
    await createReady('upd', simpleSpec(NS, 'upd.example.com', 'upd-0', 80, { appendHeaders: { 'Which-Backend': 'sentinel-0' } }));
    let stop = false;
    const failures: string[] = [];
    let sent = 0;
    const loop = async (): Promise<void> => {
      while (!stop) {
        const r = await get(wharf.replicas[sent++ % 2].external, 'upd.example.com').catch((e: Error) => ({ status: -1, body: e.message }) as never);
        if (r.status !== 200) failures.push(`${r.status} ${r.body}`);
      }
    };
    const loops = [loop(), loop()];
    let svc = 'upd-0';
    for (let i = 1; i <= 20; i++) {
      const sentinel = `sentinel-${i}`;
      if (i > 10) {
        // switch to a fresh Service, then delete the old one
        const fresh = `upd-${i}`;
        await backend(fresh);
        const old = svc;
        svc = fresh;
        const o = api.get(KINGRESS_API, 'Ingress', NS, 'upd');
        api.update({ ...o, spec: { ...simpleSpec(NS, 'upd.example.com', svc, 80, { appendHeaders: { 'Which-Backend': sentinel } }), httpOption: 'Enabled' } });
        await waitReady(api, NS, 'upd');
        api.delete('v1', 'Service', NS, old);
        api.delete('discovery.k8s.io/v1', 'EndpointSlice', NS, `${old}-abc`);
      } else {
        const o = api.get(KINGRESS_API, 'Ingress', NS, 'upd');
        api.update({ ...o, spec: { ...simpleSpec(NS, 'upd.example.com', svc, 80, { appendHeaders: { 'Which-Backend': sentinel } }), httpOption: 'Enabled' } });
        await waitReady(api, NS, 'upd');
      }
      for (const r of wharf.replicas) {
        const res = await get(r.external, 'upd.example.com');
        expect(res.json?.request.headers['which-backend'], `replica ${r.external} after update ${i}`).toBe(sentinel);
      }
    }
    stop = true;
    await Promise.all(loops);
    expect(sent).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });

  it('status: Ready waits until the backend Service has endpoints', async () => {
    const b = await new EchoBackend('late').start();
    backends.push(b);
    api.create(service(NS, 'late', [{ name: 'http', port: 80, targetPort: b.port }]));
    api.create(kingress(NS, 'late', { ...simpleSpec(NS, 'late.example.com', 'late'), httpOption: 'Enabled' }));
    await until(() => api.get(KINGRESS_API, 'Ingress', NS, 'late').status?.conditions?.some((c: any) => c.type === 'NetworkConfigured' && c.status === 'True'), 5000, 'configured');
    await new Promise((r) => setTimeout(r, 500));
    const o = api.get(KINGRESS_API, 'Ingress', NS, 'late');
    expect(o.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('Unknown');
    api.create(endpointSlice(NS, 'late', 'late-abc', [{ ip: '127.0.0.1' }], [{ name: 'http', port: b.port }]));
    await waitReady(api, NS, 'late');
    expect((await get(wharf.external, 'late.example.com')).status).toBe(200);
  });

  it('status: DomainConflict for the newer ingress, finalizer removed on delete', async () => {
    await backend('dc');
    await createReady('dc-old', simpleSpec(NS, 'dc.example.com', 'dc'));
    await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has 1 s resolution: make dc-old strictly older
    api.create(kingress(NS, 'dc-new', simpleSpec(NS, 'dc.example.com', 'dc')));
    await until(() => api.get(KINGRESS_API, 'Ingress', NS, 'dc-new').status?.conditions?.some((c: any) => c.type === 'LoadBalancerReady' && c.status === 'False' && c.reason === 'DomainConflict'), 5000, 'DomainConflict');
    api.delete(KINGRESS_API, 'Ingress', NS, 'dc-old');
    await until(() => api.tryGet(KINGRESS_API, 'Ingress', NS, 'dc-old') === undefined, 5000, 'old ingress finalized');
    await waitReady(api, NS, 'dc-new'); // the conflict clears once the older ingress is gone
    expect((await get(wharf.external, 'dc.example.com')).status).toBe(200);
  });
});
