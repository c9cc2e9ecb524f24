import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesCluster, gatewayPods, gatewayTargets } from '../../../src/sources/kubernetes/cluster.js';
import { API_USAGE, INGRESS_FINALIZER } from '../../../src/sources/kubernetes/constants.js';
import { probeHash } from '../../../src/model/probehash.js';
import type { IngressVersion } from '../../../src/sources/kubernetes/translate.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { KINGRESS_API, endpointSlice, kingress, simpleSpec, until } from '../../support/k8s-fixtures.js';

/** A stand-in gateway pod: answers Knative's probe for the hosts of the config it was given. */
class FakePod {
  server: Server;
  hosts = new Map<string, string>(); // host → hash it serves
  probes = 0;
  constructor() {
    this.server = createServer((req, res) => {
      this.probes++;
      const hash = this.hosts.get(String(req.headers.host));
      const ok = req.headers['k-network-probe'] === 'probe' && req.headers['user-agent'] === 'Knative-Ingress-Probe' && req.headers['k-network-hash'] === 'override' && req.url === '/healthz';
      if (!ok || hash === undefined) return res.writeHead(404).end();
      res.writeHead(200, { 'k-network-hash': hash }).end();
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return this;
  }
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  /** Take the config: serve every host of these ingress versions with their hash. */
  load(versions: ReadonlyMap<string, IngressVersion>): void {
    this.hosts.clear();
    for (const v of versions.values()) for (const r of v.spec.rules ?? []) for (const h of r.hosts ?? []) this.hosts.set(h, v.hash);
  }
}

let api: FakeApiServer;
let pods: FakePod[];
let clusters: KubernetesCluster[];

beforeEach(async () => {
  api = await startFakeApiServer();
  pods = [await new FakePod().start(), await new FakePod().start()];
  clusters = [];
});
afterEach(async () => {
  for (const c of clusters) await c.stop();
  await api.close();
  for (const p of pods) p.server.close();
});

/** A replica: source + status, whose "runtime" applies each Desired at once (onSwap with given problems). */
async function replica(identity: string, problems: () => { reason?: string; object?: string; severity: 'warning'; message: string }[] = () => []): Promise<KubernetesCluster> {
  const c = new KubernetesCluster({
    kubeConfig: api.kubeConfig(),
    debounceMs: 10,
    identity,
    namespace: 'wharf-system',
    probeTargets: () => pods.map((p) => ({ ip: '127.0.0.1', externalPort: p.port, internalPort: p.port })),
    leaseDurationSeconds: 1,
    leaseRetryMs: 100,
    probeInitialDelayMs: 20,
    probeMaxDelayMs: 100,
  });
  clusters.push(c);
  await c.source.start(() => queueMicrotask(() => c.onSwap({ problems: problems() })));
  c.start();
  return c;
}

const getIng = (name: string): any => api.get(KINGRESS_API, 'Ingress', 'ns', name);
const cond = (o: any, type: string): any => o.status?.conditions?.find((c: any) => c.type === type);

describe('KIngress status', () => {
  it('adds the finalizer, reports NetworkConfigured, and LoadBalancerReady only once every pod serves the hash', async () => {
    api.create(kingress('ns', 'hello', simpleSpec('ns', 'hello.example.com', 'svc')));
    const c = await replica('r1');
    await until(() => cond(getIng('hello'), 'NetworkConfigured')?.status === 'True', 5000, 'NetworkConfigured');
    let o = getIng('hello');
    expect(o.metadata.finalizers).toEqual([INGRESS_FINALIZER]);
    expect(o.status.observedGeneration).toBe(1);
    expect(cond(o, 'LoadBalancerReady')).toMatchObject({ status: 'Unknown', reason: 'Uninitialized' });
    expect(cond(o, 'Ready')).toMatchObject({ status: 'Unknown' });
    expect(o.status.publicLoadBalancer).toBeUndefined();
    // one pod has the config, the other not yet: still not ready
    pods[0].load(c.source.lastEmitted());
    await until(() => pods[1].probes > 2, 5000, 'probing the lagging pod');
    expect(cond(getIng('hello'), 'Ready').status).toBe('Unknown');
    pods[1].load(c.source.lastEmitted());
    await until(() => cond(getIng('hello'), 'Ready')?.status === 'True', 5000, 'Ready');
    o = getIng('hello');
    expect(o.status.conditions.map((x: any) => x.type)).toEqual(['LoadBalancerReady', 'NetworkConfigured', 'Ready']);
    expect(o.status.publicLoadBalancer).toEqual({ ingress: [{ domainInternal: 'wharf.wharf-system.svc.cluster.local' }] });
    expect(o.status.privateLoadBalancer).toEqual({ ingress: [{ domainInternal: 'wharf-internal.wharf-system.svc.cluster.local' }] });
    expect(c.source.lastEmitted().get('ns/hello')!.hash).toBe(probeHash(o));

    // A new generation: observedGeneration follows, Ready waits for the new hash on every pod.
    api.update({ ...kingress('ns', 'hello', simpleSpec('ns', 'hello.example.com', 'svc2')), metadata: { ...o.metadata } });
    await until(() => getIng('hello').status.observedGeneration === 2, 5000, 'observedGeneration 2');
    expect(cond(getIng('hello'), 'Ready').status).toBe('Unknown');
    for (const p of pods) p.load(c.source.lastEmitted());
    await until(() => cond(getIng('hello'), 'Ready')?.status === 'True', 5000, 'Ready again');
    // The RBAC list declares every call the code made.
    const declared = new Set(API_USAGE.flatMap((u) => u.verbs.map((v) => `${u.group}|${u.resource}|${v}`)));
    for (const used of c.source.client.used) expect(declared, `undeclared API use ${used}`).toContain(used);
  });

  it('never touches KIngresses of another class (byte-identical)', async () => {
    const variants = [
      kingress('ns', 'nil', simpleSpec('ns', 'a.example.com', 'svc'), { cls: null }),
      { ...kingress('ns', 'empty', simpleSpec('ns', 'b.example.com', 'svc')), metadata: { name: 'empty', namespace: 'ns', annotations: {} } },
      kingress('ns', 'incorrect', simpleSpec('ns', 'c.example.com', 'svc'), { cls: 'incorrect' }),
      kingress('ns', 'blank', simpleSpec('ns', 'd.example.com', 'svc'), { cls: '' }),
    ];
    const before = variants.map((v) => JSON.stringify(api.create(v)));
    api.create(kingress('ns', 'ours', simpleSpec('ns', 'e.example.com', 'svc')));
    const c = await replica('r1');
    for (const p of pods) p.load(c.source.lastEmitted());
    await until(() => cond(getIng('ours'), 'Ready')?.status === 'True', 5000, 'ours Ready');
    const after = variants.map((v) => JSON.stringify(getIng(v.metadata.name)));
    expect(after).toEqual(before);
    expect(api.writes('/ingresses/').every((w) => w.path.includes('/ingresses/ours'))).toBe(true);
  });

  it('marks a DomainConflict reported by compile as LoadBalancerReady False', async () => {
    api.create(kingress('ns', 'first', simpleSpec('ns', 'x.example.com', 'svc')));
    api.create(kingress('ns', 'second', simpleSpec('ns', 'x.example.com', 'svc')));
    const c = await replica('r1', () => [{ severity: 'warning', object: 'Ingress ns/second', reason: 'DomainConflict', message: 'host x.example.com is taken by ns/first' }]);
    for (const p of pods) p.load(new Map([...c.source.lastEmitted()].filter(([k]) => k === 'ns/first')));
    await until(() => cond(getIng('first'), 'Ready')?.status === 'True' && cond(getIng('second'), 'LoadBalancerReady')?.status === 'False', 5000, 'conflict status');
    expect(cond(getIng('second'), 'LoadBalancerReady')).toMatchObject({ reason: 'DomainConflict' });
    expect(cond(getIng('second'), 'Ready')).toMatchObject({ status: 'False', reason: 'DomainConflict' });
    expect(cond(getIng('second'), 'NetworkConfigured')?.status).toBe('True');
  });

  it('removes the finalizer once the deleted ingress is out of the live config', async () => {
    api.create(kingress('ns', 'gone', simpleSpec('ns', 'g.example.com', 'svc')));
    await replica('r1');
    await until(() => (getIng('gone').metadata.finalizers ?? []).includes(INGRESS_FINALIZER), 5000, 'finalizer');
    api.delete(KINGRESS_API, 'Ingress', 'ns', 'gone');
    await until(() => api.tryGet(KINGRESS_API, 'Ingress', 'ns', 'gone') === undefined, 5000, 'deleted');
  });

  it('writes status from the leader only, and another replica takes over when it goes', async () => {
    api.create(kingress('ns', 'hello', simpleSpec('ns', 'hello.example.com', 'svc')));
    const a = await replica('a');
    await until(() => a.elector.isLeader, 3000, 'a leads');
    const b = await replica('b');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.elector.isLeader).toBe(false);
    const lease = api.get('coordination.k8s.io/v1', 'Lease', 'wharf-system', 'wharf-leader');
    expect(lease.spec.holderIdentity).toBe('a');
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await a.stop();
    clusters.splice(clusters.indexOf(a), 1);
    await until(() => b.elector.isLeader, 3000, 'b takes over');
    expect(api.get('coordination.k8s.io/v1', 'Lease', 'wharf-system', 'wharf-leader').spec.holderIdentity).toBe('b');
    // b now owns status: a new generation gets observed
    const o = getIng('hello');
    api.update({ ...o, spec: simpleSpec('ns', 'hello2.example.com', 'svc') });
    await until(() => getIng('hello').status?.observedGeneration === 2, 5000, 'b writes status');
  });

  it('writes Broker address/conditions and Trigger subscriberUri for wharf-class brokers only', async () => {
    const EV = 'eventing.knative.dev/v1';
    api.create({ apiVersion: EV, kind: 'Broker', metadata: { name: 'default', namespace: 'ns', annotations: { 'eventing.knative.dev/broker.class': 'wharf' } }, spec: {} });
    const mt = api.create({ apiVersion: EV, kind: 'Broker', metadata: { name: 'mt', namespace: 'ns', annotations: { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' } }, spec: {} });
    api.create({ apiVersion: EV, kind: 'Trigger', metadata: { name: 'to-ksvc', namespace: 'ns' }, spec: { broker: 'default', subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'display' }, uri: '/events' } } });
    api.create({ apiVersion: EV, kind: 'Trigger', metadata: { name: 'to-svc', namespace: 'ns' }, spec: { broker: 'default', subscriber: { ref: { apiVersion: 'v1', kind: 'Service', name: 'sink', namespace: 'other' } } } });
    api.create({ apiVersion: EV, kind: 'Trigger', metadata: { name: 'bad', namespace: 'ns' }, spec: { broker: 'default', subscriber: { ref: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' } } } });
    const mtTrigger = api.create({ apiVersion: EV, kind: 'Trigger', metadata: { name: 'mt-t', namespace: 'ns' }, spec: { broker: 'mt', subscriber: { uri: 'http://x' } } });
    await replica('r1');
    const st = (kind: string, name: string) => api.get(EV, kind, 'ns', name).status;
    await until(() => st('Trigger', 'bad')?.conditions !== undefined && st('Broker', 'default')?.address !== undefined, 5000, 'eventing status');
    expect(st('Broker', 'default').address.url).toBe('http://wharf-broker-ingress.wharf-system.svc.cluster.local/ns/default');
    expect(st('Broker', 'default').conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    await until(() => st('Trigger', 'to-svc')?.subscriberUri !== undefined && st('Trigger', 'to-ksvc')?.subscriberUri !== undefined, 5000, 'trigger status');
    expect(st('Trigger', 'to-ksvc').subscriberUri).toBe('http://display.ns.svc.cluster.local/events');
    expect(st('Trigger', 'to-svc').subscriberUri).toBe('http://sink.other.svc.cluster.local');
    expect(st('Trigger', 'to-ksvc').conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    expect(st('Trigger', 'bad').conditions.find((c: any) => c.type === 'SubscriberResolved')).toMatchObject({ status: 'False' });
    expect(st('Trigger', 'bad').subscriberUri).toBeUndefined();
    // Brokers of another class and their triggers are never touched.
    expect(api.get(EV, 'Broker', 'ns', 'mt')).toEqual(mt);
    expect(api.get(EV, 'Trigger', 'ns', 'mt-t')).toEqual(mtTrigger);
    const declared = new Set(API_USAGE.flatMap((u) => u.verbs.map((v) => `${u.group}|${u.resource}|${v}`)));
    const used = [...clusters[0].source.client.used];
    expect(used).toContain('eventing.knative.dev|brokers/status|patch');
    for (const u of used) expect(declared, `undeclared API use ${u}`).toContain(u);
  });

  it('finds the gateway pods to probe in the wharf-internal EndpointSlices', () => {
    const slices: ReturnType<typeof endpointSlice>[] = [
      endpointSlice('wharf-system', 'wharf-internal', 'a', [{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }, { ip: '10.0.0.3', ready: false }], [{ name: 'http2', port: 8081 }]),
      endpointSlice('wharf-system', 'wharf-internal', 'b', [{ ip: '10.0.0.1' }], [{ name: 'http2', port: 8081 }]),
      endpointSlice('wharf-system', 'wharf', 'c', [{ ip: '10.0.0.9' }], [{ name: 'http2', port: 8080 }]),
      endpointSlice('other', 'wharf-internal', 'd', [{ ip: '10.0.0.8' }], [{ name: 'http2', port: 8081 }]),
    ];
    expect(gatewayPods(slices as never, 'wharf-system')).toEqual(['10.0.0.1', '10.0.0.2']);
    slices.push(endpointSlice('wharf-system', 'wharf', 'e', [{ ip: '10.0.0.1' }], [{ name: 'https', port: 18443 }, { name: 'http2', port: 18080 }]));
    expect(gatewayTargets(slices as never, 'wharf-system', { external: 8080, internal: 8081 })).toEqual([
      { ip: '10.0.0.1', internalPort: 8081, externalPort: 18080 },
      { ip: '10.0.0.2', internalPort: 8081, externalPort: 8080 },
    ]);
  });

  it('keeps Ready ingresses Ready across a restart without re-probing them', async () => {
    api.create(kingress('ns', 'stay', simpleSpec('ns', 'stay.example.com', 'svc')));
    const a = await replica('a');
    for (const p of pods) p.load(a.source.lastEmitted());
    await until(() => cond(getIng('stay'), 'Ready')?.status === 'True', 5000, 'Ready');
    const before = getIng('stay');
    await a.stop();
    clusters.splice(clusters.indexOf(a), 1);
    for (const p of pods) p.hosts.clear(); // the pods would now fail any probe
    const probes = pods.map((p) => p.probes);
    const b = await replica('b');
    await until(() => b.elector.isLeader, 3000, 'b leads');
    await new Promise((r) => setTimeout(r, 300));
    expect(getIng('stay').status).toEqual(before.status);
    expect(pods.map((p) => p.probes)).toEqual(probes);
  });
});
