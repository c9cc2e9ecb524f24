// Brokers in cluster mode: Broker/Trigger objects of wharf's class from the API server are served by the runtime's
// eventing, their status gets the broker address and Ready conditions, and an event sent to the broker reaches the
// Trigger's subscriber.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { configMap, until } from '../../support/k8s-fixtures.js';
import { startClusterWharf, type ClusterWharf } from '../../support/k8s-wharf.js';
import { startSink, type Sink } from '../../eventing/helpers.js';

const EV = 'eventing.knative.dev/v1';
let api: FakeApiServer;
let wharf: ClusterWharf;
let sink: Sink;

beforeAll(async () => {
  api = await startFakeApiServer();
  sink = await startSink();
  wharf = await startClusterWharf(api, { eventing: true });
});
afterAll(async () => {
  await wharf?.stop();
  await sink?.close();
  await api?.close();
});

describe('Brokers from the cluster', () => {
  it('writes Broker/Trigger status and delivers an event to the subscriber', async () => {
    api.create({ apiVersion: EV, kind: 'Broker', metadata: { name: 'default', namespace: 'default', annotations: { 'eventing.knative.dev/broker.class': 'wharf' } }, spec: {} });
    api.create({ apiVersion: EV, kind: 'Trigger', metadata: { name: 'all', namespace: 'default' }, spec: { broker: 'default', filter: { attributes: { type: 'demo.event' } }, subscriber: { uri: sink.url } } });
    const st = (kind: string, name: string) => api.get(EV, kind, 'default', name).status;
    await until(() => st('Broker', 'default')?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && st('Trigger', 'all')?.subscriberUri !== undefined, 5000, 'eventing status');
    expect(st('Broker', 'default').address.url).toBe('http://wharf-broker-ingress.wharf-system.svc.cluster.local/default/default');
    expect(st('Trigger', 'all').subscriberUri).toBe(sink.url);
    expect(st('Trigger', 'all').conditions.find((c: any) => c.type === 'Ready').status).toBe('True');

    // Send to the broker at the address its status advertises (wharf-broker-ingress.<wharf ns>), on the internal plane.
    const addr = new URL(st('Broker', 'default').address.url);
    const r = await request(`http://127.0.0.1:${wharf.internal}${addr.pathname}`, {
      method: 'POST',
      headers: { host: addr.host, 'ce-specversion': '1.0', 'ce-id': 'k8s-1', 'ce-source': '/test', 'ce-type': 'demo.event', 'content-type': 'text/plain' },
      body: 'from the cluster',
    });
    await r.body.dump();
    expect(r.statusCode).toBe(202);
    const got = await sink.waitFor(1);
    expect(got[0].body.toString()).toBe('from the cluster');
    expect(got[0].headers['ce-id']).toBe('k8s-1');
  });

  it('advertises the broker ingress namespace config-wharf sets, the one the model serves', async () => {
    api.create({ apiVersion: EV, kind: 'Broker', metadata: { name: 'edgy', namespace: 'default', annotations: { 'eventing.knative.dev/broker.class': 'wharf' } }, spec: {} });
    api.create(configMap('knative-serving', 'config-wharf', { 'broker-ingress-namespace': 'edge' }));
    const url = () => api.get(EV, 'Broker', 'default', 'edgy')?.status?.address?.url;
    await until(() => url() === 'http://wharf-broker-ingress.edge.svc.cluster.local/default/edgy', 5000, 'broker address in the configured namespace');
    const addr = new URL(url());
    const r = await request(`http://127.0.0.1:${wharf.internal}${addr.pathname}`, {
      method: 'POST',
      headers: { host: addr.host, 'ce-specversion': '1.0', 'ce-id': 'k8s-2', 'ce-source': '/test', 'ce-type': 'other.event', 'content-type': 'text/plain' },
      body: 'x',
    });
    await r.body.dump();
    expect(r.statusCode).toBe(202);
  });
});
