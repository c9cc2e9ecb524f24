import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/sources/manifests/classify.js';
import { parseManifests } from '../../../src/sources/manifests/load.js';
import { formatProblem } from '../../../src/model/objects.js';

const PEM_CRT = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n';
const b64 = (s: string) => Buffer.from(s).toString('base64');

const run = (text: string) => {
  const p = parseManifests(text, 'c.yaml');
  expect(p.problems.filter((x) => x.severity === 'error')).toEqual([]);
  return classify(p.objects);
};

describe('classify', () => {
  it('collects Knative ConfigMaps by name whatever their namespace, and warns about others', () => {
    const c = run(`apiVersion: v1
kind: ConfigMap
metadata: {name: config-domain, namespace: knative-serving}
data:
  example.com: ""
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config-network}
data:
  autocreate-cluster-domain-claims: true
  rollout-duration: 60
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-settings}
data: {a: b}
`);
    expect(c.configMaps).toEqual({
      'config-domain': { 'example.com': '' },
      'config-network': { 'autocreate-cluster-domain-claims': 'true', 'rollout-duration': '60' },
    });
    expect(c.problems.map(formatProblem)).toEqual([
      'warning: c.yaml#1:7 ConfigMap default/config-network data.autocreate-cluster-domain-claims: must be a string; read as "true" (quote it)',
      'warning: c.yaml#1:7 ConfigMap default/config-network data.rollout-duration: must be a string; read as "60" (quote it)',
      'warning: c.yaml#2:14 ConfigMap default/app-settings metadata.name: not a ConfigMap wharf reads; ignored',
    ]);
  });

  it('decodes kubernetes.io/tls Secrets from base64 data and takes stringData as is (stringData wins)', () => {
    const c = run(`apiVersion: v1
kind: Secret
metadata: {name: tls-a, namespace: web}
type: kubernetes.io/tls
data:
  tls.crt: ${b64(PEM_CRT)}
  tls.key: |
    ${b64(PEM_KEY).slice(0, 20)}
    ${b64(PEM_KEY).slice(20)}
---
apiVersion: v1
kind: Secret
metadata: {name: tls-b}
type: kubernetes.io/tls
data:
  tls.crt: ${b64('not pem')}
stringData:
  tls.crt: |
${PEM_CRT.trimEnd().split('\n').map((l) => '    ' + l).join('\n')}
  tls.key: |
${PEM_KEY.trimEnd().split('\n').map((l) => '    ' + l).join('\n')}
`);
    expect(c.problems).toEqual([]);
    expect(c.secrets).toHaveLength(2);
    expect(c.secrets[0]).toMatchObject({ kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'tls-a', namespace: 'web' }, data: { 'tls.crt': PEM_CRT, 'tls.key': PEM_KEY } });
    expect(c.secrets[1]!.data).toEqual({ 'tls.crt': PEM_CRT, 'tls.key': PEM_KEY });
    expect(c.secrets[1]).not.toHaveProperty('stringData');
  });

  it('rejects bad TLS Secrets naming the field, and ignores other Secret types with a warning', () => {
    const c = run(`apiVersion: v1
kind: Secret
metadata: {name: bad64}
type: kubernetes.io/tls
data:
  tls.crt: "%%%not base64"
  tls.key: ${b64(PEM_KEY)}
---
apiVersion: v1
kind: Secret
metadata: {name: nokey}
type: kubernetes.io/tls
data:
  tls.crt: ${b64(PEM_CRT)}
---
apiVersion: v1
kind: Secret
metadata: {name: notpem}
type: kubernetes.io/tls
stringData: {tls.crt: hello, tls.key: world}
---
apiVersion: v1
kind: Secret
metadata: {name: opaque}
stringData: {password: x}
`);
    expect(c.secrets).toEqual([]);
    expect(c.problems.map(formatProblem)).toEqual([
      'error: c.yaml#0:1 Secret default/bad64 data.tls.crt: must be base64 (use stringData for PEM text)',
      'error: c.yaml#1:9 Secret default/nokey data.tls.key: required for a kubernetes.io/tls Secret',
      expect.stringMatching(/^error: c.yaml#2:16 Secret default\/notpem data.tls.crt: is not PEM/),
      expect.stringMatching(/^error: c.yaml#2:16 Secret default\/notpem data.tls.key: is not PEM/),
      'warning: c.yaml#3:22 Secret default/opaque type: Opaque Secrets are not read (only kubernetes.io/tls); ignored',
    ]);
  });

  it('passes eventing objects through untouched and hands serving objects on with their origin', () => {
    const c = run(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
spec: {delivery: {retry: 3}}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: ping}
spec: {schedule: "* * * * *"}
---
apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata: {name: a.example.org}
spec: {ref: {name: hello, kind: Service, apiVersion: serving.knative.dev/v1}}
`);
    expect(c.eventing.map((o) => [o.kind, o.metadata.namespace, o.spec])).toEqual([
      ['Broker', 'default', { delivery: { retry: 3 } }],
      ['PingSource', 'default', { schedule: '* * * * *' }],
    ]);
    expect(c.serving.map((l) => [l.object.kind, l.object.metadata.name, l.origin.doc])).toEqual([['DomainMapping', 'a.example.org', 2]]);
  });
});
