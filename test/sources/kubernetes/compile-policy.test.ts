// One bad object must not freeze a cluster's config: per-object compile errors become warnings (the object is not
// served and its status says why) while every other change goes live; ConfigMap errors still refuse the reload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downgradeObjectErrors } from '../../../src/sources/kubernetes/compile-policy.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { KINGRESS_API, configMap, kingress, simpleSpec, until } from '../../support/k8s-fixtures.js';
import { EchoBackend, exposeBackend, get, startClusterWharf, waitReady, type ClusterWharf } from '../../support/k8s-wharf.js';

describe('downgradeObjectErrors', () => {
  it('keeps cluster-wide errors, downgrades per-object ones with a reason', () => {
    const out = downgradeObjectErrors([
      { severity: 'error', object: 'ConfigMap config-network', field: 'data.x', message: 'bad' },
      { severity: 'error', object: 'Ingress ns/a', field: 'spec.rules', message: 'bad' },
      { severity: 'error', object: 'Trigger ns/t', message: 'bad', reason: 'X' },
      { severity: 'warning', object: 'Ingress ns/b', message: 'meh' },
    ]);
    expect(out.map((p) => `${p.severity} ${p.object} ${p.reason ?? ''}`)).toEqual(['error ConfigMap config-network ', 'warning Ingress ns/a Invalid', 'warning Trigger ns/t X', 'warning Ingress ns/b ']);
  });
});

describe('cluster mode with bad objects', () => {
  let api: FakeApiServer;
  let wharf: ClusterWharf;
  let b: EchoBackend;
  beforeAll(async () => {
    api = await startFakeApiServer();
    wharf = await startClusterWharf(api, { eventing: true });
    b = await new EchoBackend('ok').start();
    exposeBackend(api, 'default', 'ok', b);
  });
  afterAll(async () => {
    await wharf?.stop();
    b?.close();
    await api?.close();
  });

  it('an unresolvable Trigger and an invalid KIngress do not block other ingresses', async () => {
    const EV = 'eventing.knative.dev/v1';
    api.create({ apiVersion: EV, kind: 'Broker', metadata: { name: 'default', namespace: 'default', annotations: { 'eventing.knative.dev/broker.class': 'wharf' } }, spec: {} });
    api.create({ apiVersion: EV, kind: 'Trigger', metadata: { name: 'bad', namespace: 'default' }, spec: { broker: 'default', subscriber: { ref: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' } } } });
    // percents summing to 90: the CRD schema accepts it, Knative's validation does not
    api.create(kingress('default', 'invalid', { rules: [{ hosts: ['invalid.example.com'], http: { paths: [{ splits: [{ serviceNamespace: 'default', serviceName: 'ok', servicePort: 80, percent: 50 }, { serviceNamespace: 'default', serviceName: 'ok', servicePort: 80, percent: 40 }] }] } }] }));
    api.create(kingress('default', 'good', simpleSpec('default', 'good.example.com', 'ok')));
    await waitReady(api, 'default', 'good');
    expect((await get(wharf.external, 'good.example.com')).status).toBe(200);
    expect((await get(wharf.external, 'invalid.example.com')).status).toBe(404);
    await until(() => api.get(KINGRESS_API, 'Ingress', 'default', 'invalid').status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'False'), 5000, 'invalid status');
    const inv = api.get(KINGRESS_API, 'Ingress', 'default', 'invalid');
    expect(inv.status.conditions.find((c: any) => c.type === 'NetworkConfigured')).toMatchObject({ status: 'False', reason: 'Invalid' });
    await until(() => api.get(EV, 'Trigger', 'default', 'bad').status?.conditions !== undefined, 5000, 'trigger status');
    expect(api.get(EV, 'Trigger', 'default', 'bad').status.conditions.find((c: any) => c.type === 'Ready').status).toBe('False');
    expect(api.get(EV, 'Broker', 'default', 'default').status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
  });

  it('a bad ConfigMap value still keeps the previous config (as Knative does)', async () => {
    api.create(configMap('knative-serving', 'config-network', { 'rollout-duration': 'not-a-duration' }));
    await new Promise((r) => setTimeout(r, 300));
    api.create(kingress('default', 'after', simpleSpec('default', 'after.example.com', 'ok')));
    await new Promise((r) => setTimeout(r, 500));
    expect((await get(wharf.external, 'after.example.com')).status).toBe(404);
    api.update(configMap('knative-serving', 'config-network', {}));
    await waitReady(api, 'default', 'after');
    expect((await get(wharf.external, 'after.example.com')).status).toBe(200);
  });
});
