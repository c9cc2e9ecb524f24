import { describe, expect, it } from 'vitest';
import { translate, type ClusterObjects } from '../../../src/sources/kubernetes/translate.js';
import type { KObject } from '../../../src/model/objects.js';
import { endpointSlice, kingress, service, simpleSpec } from '../../support/k8s-fixtures.js';

const empty = (): ClusterObjects => ({ ingresses: [], services: [], endpointSlices: [], secrets: [], configMaps: [], revisions: [], brokers: [], triggers: [] });
const opts = { brokerClass: 'wharf', ownNamespace: 'wharf-system' };
const k = (o: unknown): KObject => o as KObject;

describe('translate (cluster objects → Desired)', () => {
  it('merges slices, drops FQDN slices and unready addresses, keeps IPv6', () => {
    const o = empty();
    o.ingresses.push(k(kingress('ns', 'i', simpleSpec('ns', 'a.example.com', 'svc'))));
    o.services.push(k(service('ns', 'svc', [{ name: 'http', port: 80, targetPort: 8080 }])));
    o.endpointSlices.push(
      k(endpointSlice('ns', 'svc', 's1', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }], [{ name: 'http', port: 8080 }])),
      k({ ...endpointSlice('ns', 'svc', 's2', [{ ip: 'fd00::1' }, { ip: '10.0.0.1' }], [{ name: 'http', port: 8080 }]), addressType: 'IPv6' }),
      k({ ...endpointSlice('ns', 'svc', 's3', [{ ip: 'example.org' }], [{ name: 'http', port: 8080 }]), addressType: 'FQDN' }),
      k(endpointSlice('other', 'svc', 's4', [{ ip: '10.9.9.9' }], [{ name: 'http', port: 8080 }])),
    );
    const d = translate(o, opts).desired;
    expect(d.services).toHaveLength(1);
    expect(d.services[0].addresses).toEqual(['10.0.0.1', 'fd00::1']);
  });

  it('leaves a named targetPort unresolved when no slice names it, and ignores ingresses being deleted', () => {
    const o = empty();
    o.ingresses.push(k(kingress('ns', 'i', simpleSpec('ns', 'a.example.com', 'svc'))));
    o.ingresses.push(k({ ...kingress('ns', 'gone', simpleSpec('ns', 'g.example.com', 'svc')), metadata: { name: 'gone', namespace: 'ns', deletionTimestamp: '2026-01-01T00:00:00Z' } }));
    o.services.push(k(service('ns', 'svc', [{ name: 'http', port: 80, targetPort: 'web' }, { port: 81 }])));
    const t = translate(o, opts);
    expect(t.desired.services[0].ports).toEqual([
      { name: 'http', port: 80, targetPort: undefined, appProtocol: undefined },
      { name: undefined, port: 81, targetPort: 81, appProtocol: undefined },
    ]);
    expect(t.desired.ingresses.map((i) => i.metadata.name)).toEqual(['i']);
    expect([...t.ingresses.keys()]).toEqual(['ns/i']);
  });

  it('reports an unreadable TLS secret as a warning and passes wharf-namespace certificates on', () => {
    const o = empty();
    o.ingresses.push(k({ ...kingress('ns', 'i', simpleSpec('ns', 'a.example.com', 'svc')), spec: { ...simpleSpec('ns', 'a.example.com', 'svc'), tls: [{ hosts: ['a.example.com'], secretName: 'broken', secretNamespace: 'ns' }] } }));
    o.secrets.push(k({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'broken', namespace: 'ns' }, data: { 'tls.crt': 'eA==' } }));
    o.secrets.push(k({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'default-cert', namespace: 'wharf-system' }, data: { 'tls.crt': 'eA==', 'tls.key': 'eQ==' } }));
    const d = translate(o, opts).desired;
    expect(d.problems).toEqual([expect.objectContaining({ severity: 'warning', object: 'Secret ns/broken' })]);
    expect(d.secrets.map((s) => s.metadata.name)).toEqual(['default-cert']);
    expect(d.secrets[0].data).toEqual({ 'tls.crt': 'x', 'tls.key': 'y' });
  });

  it('defaults config-wharf broker-ingress-namespace and cluster-domain from the pod, and lets config-wharf win', () => {
    const o = empty();
    expect(translate(o, { ...opts, clusterDomain: 'corp.local' }).desired.configMaps['config-wharf']).toEqual({ 'broker-ingress-namespace': 'wharf-system', 'cluster-domain': 'corp.local' });
    expect(translate(o, opts).desired.configMaps['config-wharf']).toEqual({ 'broker-ingress-namespace': 'wharf-system' });
    o.configMaps.push(k({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-wharf', namespace: 'knative-serving' }, data: { 'broker-ingress-namespace': 'edge', 'cluster-domain': 'other.local' } }));
    expect(translate(o, { ...opts, clusterDomain: 'corp.local' }).desired.configMaps['config-wharf']).toEqual({ 'broker-ingress-namespace': 'edge', 'cluster-domain': 'other.local' });
  });

  it('reads config-wharf broker-class and the defaulted keys trimmed, as the eventing model does', () => {
    const o = empty();
    o.configMaps.push(k({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-wharf', namespace: 'knative-serving' }, data: { 'broker-class': ' mine\n', 'broker-ingress-namespace': ' ' } }));
    o.brokers.push(k({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'b', namespace: 'ns', annotations: { 'eventing.knative.dev/broker.class': 'mine' } } }));
    const d = translate(o, opts).desired;
    expect(d.eventing.map((b) => b.metadata.name)).toEqual(['b']);
    expect(d.configMaps['config-wharf']['broker-ingress-namespace']).toBe('wharf-system');
  });
});
