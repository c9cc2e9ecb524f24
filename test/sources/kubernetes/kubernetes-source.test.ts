import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Desired } from '../../../src/model/desired.js';
import { KubernetesSource } from '../../../src/sources/kubernetes/kubernetes-source.js';
import { probeHash } from '../../../src/model/probehash.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { configMap, endpointSlice, kingress, revision, service, simpleSpec, tlsSecret, until } from '../../support/k8s-fixtures.js';

let api: FakeApiServer;
let source: KubernetesSource | null = null;
let got: Desired[];

beforeEach(async () => {
  api = await startFakeApiServer();
  got = [];
});
afterEach(async () => {
  await source?.stop();
  source = null;
  await api.close();
});

async function startSource(opts: Partial<ConstructorParameters<typeof KubernetesSource>[0]> = {}): Promise<KubernetesSource> {
  source = new KubernetesSource({ kubeConfig: api.kubeConfig(), debounceMs: 20, ...opts });
  await source.start((d) => got.push(d));
  return source;
}
const last = (): Desired => got[got.length - 1];

describe('KubernetesSource', () => {
  it('hands over only KIngresses of our class, defaulted and with probe paths, on the first full sync', async () => {
    const ours = api.create(kingress('ns', 'ours', simpleSpec('ns', 'a.example.com', 'svc')));
    api.create(kingress('ns', 'theirs', simpleSpec('ns', 'b.example.com', 'svc'), { cls: 'kourier.ingress.networking.knative.dev' }));
    api.create(kingress('ns', 'none', simpleSpec('ns', 'c.example.com', 'svc'), { cls: null }));
    await startSource();
    expect(got).toHaveLength(1);
    const d = last();
    expect(d.ingresses.map((i) => i.metadata.name)).toEqual(['ours']);
    const paths = d.ingresses[0].spec.rules![0].http!.paths;
    const hash = probeHash(ours as never);
    expect(paths).toHaveLength(2);
    expect(paths[0].headers).toEqual({ 'K-Network-Hash': { exact: 'override' } });
    expect(paths[0].appendHeaders).toEqual({ 'K-Network-Hash': hash });
    expect(paths[1].splits[0].percent).toBe(100); // Knative defaults applied
    expect(d.ingresses[0].spec.rules![0].visibility).toBe('ExternalIP');
    expect(source!.lastEmitted().get('ns/ours')).toMatchObject({ hash, generation: 1 });
  });

  it('resolves Services: ports, named targetPorts through EndpointSlices, ready addresses, ExternalName', async () => {
    api.create(kingress('ns', 'i', { rules: [{ hosts: ['a.example.com'], http: { paths: [{ path: '/a', splits: [{ serviceNamespace: 'ns', serviceName: 'web', servicePort: 'http' }] }, { splits: [{ serviceNamespace: 'ns', serviceName: 'ext', servicePort: 80 }] }] } }] }));
    api.create(service('ns', 'web', [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'h2', port: 81, targetPort: 9000, appProtocol: 'kubernetes.io/h2c' }]));
    api.create(service('ns', 'ext', [{ name: 'http2', port: 80 }], { externalName: 'wharf-internal.wharf-system.svc.cluster.local' }));
    api.create(service('ns', 'unrelated', [{ port: 80 }]));
    api.create(endpointSlice('ns', 'web', 'web-1', [{ ip: '10.0.0.2' }, { ip: '10.0.0.1', ready: null }, { ip: '10.0.0.3', ready: false }], [{ name: 'http', port: 8123 }, { name: 'h2', port: 9000 }]));
    await startSource();
    const web = last().services.find((s) => s.name === 'web')!;
    expect(web.ports).toEqual([
      { name: 'http', port: 80, targetPort: 8123, appProtocol: undefined },
      { name: 'h2', port: 81, targetPort: 9000, appProtocol: 'kubernetes.io/h2c' },
    ]);
    expect(web.addresses).toEqual(['10.0.0.1', '10.0.0.2']);
    const ext = last().services.find((s) => s.name === 'ext')!;
    expect(ext.externalName).toBe('wharf-internal.wharf-system.svc.cluster.local');
    expect(last().services.some((s) => s.name === 'unrelated')).toBe(false);
    // endpoints follow changes quickly
    api.update(endpointSlice('ns', 'web', 'web-1', [{ ip: '10.0.0.9' }], [{ name: 'http', port: 8123 }]));
    await until(() => last().services.find((s) => s.name === 'web')!.addresses!.join() === '10.0.0.9', 3000, 'endpoint update');
  });

  it('reads revisions with their private endpoints, TLS secrets decoded, ConfigMaps and eventing objects', async () => {
    api.create(kingress('ns', 'hello', { tls: [{ hosts: ['hello.example.com'], secretName: 'cert', secretNamespace: 'ns' }], rules: simpleSpec('ns', 'hello.example.com', 'hello-00001').rules }));
    api.create(revision('ns', 'hello-00001', { containerConcurrency: 3, timeoutSeconds: 42 }));
    api.create(service('ns', 'hello-00001', [{ name: 'http', port: 80, targetPort: 8012 }], { labels: { 'serving.knative.dev/revision': 'hello-00001' } }));
    api.create(endpointSlice('ns', 'hello-00001-private', 'p1', [{ ip: '10.1.0.1' }, { ip: '10.1.0.2', ready: false }], [{ name: 'http', port: 8012 }, { name: 'http-autometric', port: 9090 }]));
    api.create(tlsSecret('ns', 'cert', 'CERT PEM', 'KEY PEM'));
    api.create(tlsSecret('other', 'unused', 'X', 'Y'));
    api.create({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'opaque', namespace: 'ns' }, data: {} });
    api.create(configMap('knative-serving', 'config-network', { 'ingress-class': 'wharf.ingress.networking.knative.dev' }));
    api.create(configMap('knative-serving', 'config-defaults', { 'revision-timeout-seconds': '120' }));
    api.create(configMap('knative-serving', 'unrelated', { a: 'b' }));
    api.create(configMap('default', 'config-network', { nope: 'x' }));
    api.create({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'b', namespace: 'ns', annotations: { 'eventing.knative.dev/broker.class': 'wharf' } }, spec: {} });
    api.create({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'mt', namespace: 'ns', annotations: { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' } }, spec: {} });
    api.create({ apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: 't', namespace: 'ns' }, spec: { broker: 'b', subscriber: { uri: 'http://x' } } });
    api.create({ apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: 't2', namespace: 'ns' }, spec: { broker: 'mt', subscriber: { uri: 'http://x' } } });
    await startSource();
    const d = last();
    expect(d.revisions).toEqual([
      expect.objectContaining({ namespace: 'ns', name: 'hello-00001', service: 'hello', containerConcurrency: 3, timeoutSeconds: 42, protocol: 'http1', readiness: { kind: 'queue' }, pods: { ready: ['10.1.0.1'], notReady: ['10.1.0.2'], port: 8012 } }),
    ]);
    expect(d.revisions[0].annotations['autoscaling.knative.dev/target']).toBe('10');
    expect(d.services.find((s) => s.name === 'hello-00001')!.revision).toBe('hello-00001');
    expect(d.secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(['ns/cert']);
    expect(d.secrets[0].data).toEqual({ 'tls.crt': 'CERT PEM', 'tls.key': 'KEY PEM' });
    // config-wharf gets wharf's own namespace for the broker ingress Service unless it names one.
    expect(d.configMaps).toEqual({
      'config-network': { 'ingress-class': 'wharf.ingress.networking.knative.dev' },
      'config-defaults': { 'revision-timeout-seconds': '120' },
      'config-wharf': { 'broker-ingress-namespace': 'wharf-system' },
    });
    expect(d.eventing.map((o) => `${o.kind} ${o.metadata.name}`).sort()).toEqual(['Broker b', 'Trigger t']);
    // A revision without a timeout takes config-defaults'.
    api.create(revision('ns', 'hello-00002', { h2c: true }));
    await until(() => last().revisions.length === 2);
    expect(last().revisions.find((r) => r.name === 'hello-00002')).toMatchObject({ timeoutSeconds: 120, containerConcurrency: 0, protocol: 'h2c', pods: { ready: [], notReady: [], port: 8013 } });
    // config-wharf broker-class picks which Brokers are ours
    api.create(configMap('knative-serving', 'config-wharf', { 'broker-class': 'MTChannelBasedBroker' }));
    await until(() => last().eventing.map((o) => `${o.kind} ${o.metadata.name}`).sort().join() === 'Broker mt,Trigger t2');
  });

  it('coalesces a burst of changes into few Desired values', async () => {
    await startSource({ debounceMs: 50 });
    const before = got.length;
    for (let i = 0; i < 20; i++) api.create(kingress('ns', `i${i}`, simpleSpec('ns', `h${i}.example.com`, 'svc')));
    await until(() => last().ingresses.length === 20);
    expect(got.length - before).toBeLessThanOrEqual(3);
  });

  it('relists after the watch history is compacted (410) and sees deletes that happened meanwhile', async () => {
    api.create(kingress('ns', 'a', simpleSpec('ns', 'a.example.com', 'svc')));
    await startSource();
    await api.goDown();
    api.delete('networking.internal.knative.dev/v1alpha1', 'Ingress', 'ns', 'a');
    api.create(kingress('ns', 'b', simpleSpec('ns', 'b.example.com', 'svc')));
    api.store.compact();
    await api.comeUp();
    await until(() => last().ingresses.map((i) => i.metadata.name).join() === 'b', 8000, 'relist');
    const lists = api.requests.filter((r) => r.path.endsWith('/ingresses') && r.query.watch === undefined);
    expect(lists.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps the last config while the API is unreachable and catches up after', async () => {
    api.create(kingress('ns', 'a', simpleSpec('ns', 'a.example.com', 'svc')));
    await startSource();
    const n = got.length;
    await api.goDown();
    await new Promise((r) => setTimeout(r, 600)); // several failed re-watches
    expect(got.length).toBe(n); // nothing emitted: no empty config replaced the last one
    api.update(kingress('ns', 'a', simpleSpec('ns', 'a2.example.com', 'svc')));
    await api.comeUp();
    await until(() => last().ingresses[0]?.spec.rules![0].hosts![0] === 'a2.example.com', 8000, 'catch up');
    expect(last().ingresses).toHaveLength(1);
  });

  it('resumes a watch from its resourceVersion after a clean close (no relist)', async () => {
    await startSource();
    const lists = () => api.requests.filter((r) => r.path.endsWith('/ingresses') && r.query.watch === undefined).length;
    const l0 = lists();
    api.closeWatches();
    api.create(kingress('ns', 'later', simpleSpec('ns', 'l.example.com', 'svc')));
    await until(() => last().ingresses.length === 1);
    expect(lists()).toBe(l0);
  });
});

describe('KubernetesSource without optional CRDs', () => {
  it('starts when Knative Eventing is not installed, and picks Brokers up once it is', async () => {
    api.missingGroups.add('eventing.knative.dev');
    api.create(kingress('ns', 'a', simpleSpec('ns', 'a.example.com', 'svc')));
    api.create({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'b', namespace: 'ns', annotations: { 'eventing.knative.dev/broker.class': 'wharf' } }, spec: {} });
    await startSource({ absentRetryMs: 100 });
    expect(last().ingresses).toHaveLength(1);
    expect(last().eventing).toEqual([]);
    api.missingGroups.delete('eventing.knative.dev');
    await until(() => last().eventing.length === 1, 5000, 'broker after install');
  });
});
