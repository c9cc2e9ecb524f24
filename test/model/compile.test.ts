import { describe, it, expect } from 'vitest';
import { compile, type BuiltinHost } from '../../src/model/compile.js';
import { emptyDesired, type Desired, type RevisionInfo, type ServiceBackend } from '../../src/model/desired.js';
import type { HTTPIngressPath, Ingress, IngressRule } from '../../src/model/kingress.js';
import { reconcileServing } from '../../src/model/serving.js';
import { parseConfig } from '../../src/model/config.js';
import type { KObject } from '../../src/model/objects.js';

const split = (name: string, percent?: number, extra: Record<string, unknown> = {}) => ({ serviceNamespace: 'default', serviceName: name, servicePort: 80, ...(percent !== undefined ? { percent } : {}), ...extra });
const rule = (hosts: string[] | undefined, paths: HTTPIngressPath[], visibility?: 'ExternalIP' | 'ClusterLocal'): IngressRule => ({ ...(hosts ? { hosts } : {}), ...(visibility ? { visibility } : {}), http: { paths } });
const ingress = (name: string, rules: IngressRule[], created?: string, extra: Partial<Ingress['spec']> = {}): Ingress => ({
  apiVersion: 'networking.internal.knative.dev/v1alpha1',
  kind: 'Ingress',
  metadata: { name, namespace: 'default', ...(created ? { creationTimestamp: created } : {}) },
  spec: { rules, ...extra },
});
const rev = (name: string, extra: Partial<RevisionInfo> = {}): RevisionInfo => ({
  namespace: 'default', name, containerConcurrency: 0, timeoutSeconds: 300, annotations: {}, protocol: 'http1', readiness: { kind: 'tcp' }, upstreams: ['http://127.0.0.1:9000'], ...extra,
});
const revSvc = (name: string): ServiceBackend => ({ namespace: 'default', name, ports: [{ name: 'http', port: 80 }], revision: `default/${name}` });
const desired = (d: Partial<Desired>): Desired => ({ ...emptyDesired(), ...d });

const hostsOf = (snap: ReturnType<typeof compile>['snapshot'], plane: 'external' | 'internal') => [...snap.planes[plane].hosts.keys()].sort();

describe('compile: defaults and validation', () => {
  it('empty visibility → ExternalIP (both planes); single split without percent → 100', () => {
    const { snapshot, problems } = compile(desired({ ingresses: [ingress('a', [rule(['a.example.com'], [{ splits: [split('a-1')] }])])], services: [revSvc('a-1')], revisions: [rev('a-1')] }), { version: 7 });
    expect(problems).toEqual([]);
    expect(snapshot.version).toBe(7);
    const vh = snapshot.planes.external.hosts.get('a.example.com')!;
    expect(vh.visibility).toBe('ExternalIP');
    expect(vh.routes[0]!.splits).toEqual([{ backend: 'rev:default/a-1', percent: 100, appendHeaders: [] }]);
    expect(vh.routes[0]!.cumulative).toEqual([100]);
    expect(snapshot.planes.internal.hosts.get('a.example.com')).toEqual(vh);
    expect(snapshot.eventing).toBeUndefined();
  });

  const invalid: [string, Ingress, string][] = [
    ['no rules', ingress('x', []), 'spec.rules'],
    ['no paths', ingress('x', [{ hosts: ['x.com'], http: { paths: [] } }]), 'spec.rules[0].http.paths'],
    ['no splits', ingress('x', [rule(['x.com'], [{ splits: [] }])]), 'spec.rules[0].http.paths[0].splits'],
    ['percents do not sum', ingress('x', [rule(['x.com'], [{ splits: [split('a', 50), split('b', 40)] }])]), 'spec.rules[0].http.paths[0].splits'],
    ['percent out of range', ingress('x', [rule(['x.com'], [{ splits: [split('a', 150), split('b', -50)] }])]), 'spec.rules[0].http.paths[0].splits[0].percent'],
    ['other namespace', ingress('x', [rule(['x.com'], [{ splits: [split('a', 100, { serviceNamespace: 'other' })] }])]), 'spec.rules[0].http.paths[0].splits[0].serviceNamespace'],
    ['no service name', ingress('x', [rule(['x.com'], [{ splits: [split('', 100)] }])]), 'spec.rules[0].http.paths[0].splits[0].serviceName'],
    ['no port', ingress('x', [rule(['x.com'], [{ splits: [split('a', 100, { servicePort: '' })] }])]), 'spec.rules[0].http.paths[0].splits[0].servicePort'],
    ['bad visibility', ingress('x', [{ hosts: ['x.com'], visibility: 'Public' as never, http: { paths: [{ splits: [split('a')] }] } }]), 'spec.rules[0].visibility'],
    ['bad path', ingress('x', [rule(['x.com'], [{ path: 'nope', splits: [split('a')] }])]), 'spec.rules[0].http.paths[0].path'],
    ['bad host', ingress('x', [rule(['x.com:80'], [{ splits: [split('a')] }])]), 'spec.rules[0].hosts[0]'],
    ['tls without secret', ingress('x', [rule(['x.com'], [{ splits: [split('a')] }])], undefined, { tls: [{ hosts: ['x.com'] }] }), 'spec.tls[0].secretName'],
    ['bad httpOption', ingress('x', [rule(['x.com'], [{ splits: [split('a')] }])], undefined, { httpOption: 'Sometimes' as never }), 'spec.httpOption'],
  ];
  it.each(invalid)('rejects %s, others still compile', (_n, bad, field) => {
    const good = ingress('good', [rule(['good.com'], [{ splits: [split('a-1')] }])]);
    const { snapshot, problems } = compile(desired({ ingresses: [bad, good], services: [revSvc('a-1')], revisions: [rev('a-1')] }), { version: 1 });
    const errs = problems.filter((p) => p.severity === 'error');
    expect(errs.length).toBeGreaterThan(0);
    expect(errs.map((p) => p.field)).toContain(field);
    expect(errs.every((p) => p.object === 'Ingress default/x')).toBe(true);
    expect(hostsOf(snapshot, 'internal')).toEqual(['good.com']);
    expect(snapshot.statuses).toContainEqual(expect.objectContaining({ object: 'Ingress default/x', ready: false, reason: 'Invalid' }));
  });
});

describe('compile: planes, hosts, routes', () => {
  const both = ingress('r', [
    rule(['r.ns', 'r.ns.svc', 'r.ns.svc.cluster.local'], [{ splits: [split('r-1')] }], 'ClusterLocal'),
    rule(['R.Example.COM.'], [{ splits: [split('r-1')] }], 'ExternalIP'),
  ]);
  const priv = ingress('p', [rule(['p.ns.svc.cluster.local'], [{ splits: [split('r-1')] }], 'ClusterLocal')]);
  const d = desired({ ingresses: [both, priv], services: [revSvc('r-1')], revisions: [rev('r-1')] });

  it('external plane has only ExternalIP hosts, normalised; internal has all', () => {
    const { snapshot } = compile(d, { version: 1 });
    expect(hostsOf(snapshot, 'external')).toEqual(['r.example.com']);
    expect(hostsOf(snapshot, 'internal')).toEqual(['p.ns.svc.cluster.local', 'r.example.com', 'r.ns', 'r.ns.svc', 'r.ns.svc.cluster.local']);
    expect(snapshot.planes.external.hosts.has('p.ns.svc.cluster.local')).toBe(false);
    expect(snapshot.planes.external.wildcard).toBeNull();
    expect(snapshot.planes.internal.hosts.get('r.ns')!.visibility).toBe('ClusterLocal');
  });

  it('rule without hosts is the wildcard of its planes', () => {
    const w = ingress('w', [rule(undefined, [{ splits: [split('r-1')] }], 'ClusterLocal')]);
    const { snapshot } = compile(desired({ ingresses: [w], services: [revSvc('r-1')], revisions: [rev('r-1')] }), { version: 1 });
    expect(snapshot.planes.internal.wildcard?.routes[0]!.splits[0]!.backend).toBe('rev:default/r-1');
    expect(snapshot.planes.external.wildcard).toBeNull();
  });

  it('routes: longest prefix first (stable), lower-case headers, append headers, rewriteHost, 0% splits dropped, cumulative', () => {
    const i = ingress('x', [
      rule(['x.com'], [
        { splits: [split('a-1')] },
        { path: '/api', headers: { 'X-Tag': { exact: 'beta' } }, splits: [split('a-1')] },
        { path: '/api/v2', appendHeaders: { 'X-Path': 'v2' }, rewriteHost: 'a.default.svc.cluster.local', splits: [split('a-1', 70, { appendHeaders: { 'Knative-Serving-Revision': 'a-1' } }), split('b-1', 30), split('c-1', 0)] },
        { path: '/api', splits: [split('b-1')] },
      ]),
    ]);
    const { snapshot } = compile(desired({ ingresses: [i], services: [revSvc('a-1'), revSvc('b-1'), revSvc('c-1')], revisions: [rev('a-1'), rev('b-1'), rev('c-1')] }), { version: 1 });
    const routes = snapshot.planes.external.hosts.get('x.com')!.routes;
    expect(routes.map((r) => [r.prefix, r.headers, r.splits.map((s) => s.backend)])).toEqual([
      ['/api/v2', [], ['rev:default/a-1', 'rev:default/b-1']],
      ['/api', [['x-tag', 'beta']], ['rev:default/a-1']],
      ['/api', [], ['rev:default/b-1']],
      ['', [], ['rev:default/a-1']],
    ]);
    expect(routes[0]).toMatchObject({ appendHeaders: [['x-path', 'v2']], rewriteHost: 'a.default.svc.cluster.local', cumulative: [70, 100], ingress: 'default/x', handler: null });
    expect(routes[0]!.splits[0]!.appendHeaders).toEqual([['knative-serving-revision', 'a-1']]);
    // every revision has a backend, routed or not
    expect([...snapshot.backends.keys()].sort()).toEqual(['rev:default/a-1', 'rev:default/b-1', 'rev:default/c-1']);
  });

  it('TLS maps the entry hosts on their planes; secrets from kubernetes.io/tls', () => {
    const i = ingress('t', [rule(['t.com'], [{ splits: [split('r-1')] }])], undefined, { tls: [{ hosts: ['t.com'], secretName: 'cert', secretNamespace: 'default' }] });
    const secret: KObject = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'cert', namespace: 'default' }, data: { 'tls.crt': 'CERT', 'tls.key': 'KEY' } };
    const { snapshot } = compile(desired({ ingresses: [i], services: [revSvc('r-1')], revisions: [rev('r-1')], secrets: [secret] }), { version: 1 });
    expect(snapshot.planes.external.hosts.get('t.com')!.tlsSecret).toBe('default/cert');
    expect(snapshot.planes.internal.hosts.get('t.com')!.tlsSecret).toBe('default/cert');
    expect(snapshot.secrets.get('default/cert')).toEqual({ cert: 'CERT', key: 'KEY' });
  });

  it('builtin hosts get a handler route', () => {
    const b: BuiltinHost[] = [{ host: 'broker-ingress.knative-eventing.svc.cluster.local', visibility: 'ClusterLocal', handler: 'broker-ingress' }];
    const { snapshot } = compile(d, { version: 1, builtins: b });
    const vh = snapshot.planes.internal.hosts.get('broker-ingress.knative-eventing.svc.cluster.local')!;
    expect(vh.routes).toEqual([{ prefix: '', headers: [], appendHeaders: [], rewriteHost: null, handler: 'broker-ingress', splits: [], cumulative: [], ingress: 'builtin/broker-ingress' }]);
    expect(snapshot.planes.external.hosts.has('broker-ingress.knative-eventing.svc.cluster.local')).toBe(false);
    // handler names as the runtime passes them are accepted
    expect(compile(d, { version: 1, builtins: new Set(['x']) }).problems).toEqual([]);
  });
});

describe('compile: conflicts', () => {
  const mk = (name: string, created: string | undefined, host: string) => ingress(name, [rule([host], [{ splits: [split('r-1')] }])], created);
  const base = { services: [revSvc('r-1')], revisions: [rev('r-1')] };
  const cases: [string, Ingress[], string, string][] = [
    ['older wins regardless of order', [mk('new', '2025-02-01T00:00:00Z', 'h.com'), mk('old', '2025-01-01T00:00:00Z', 'h.com')], 'default/old', 'Ingress default/new'],
    ['same age: name order', [mk('b', '2025-01-01T00:00:00Z', 'h.com'), mk('a', '2025-01-01T00:00:00Z', 'h.com')], 'default/a', 'Ingress default/b'],
    ['no timestamp counts as newest', [mk('a', undefined, 'h.com'), mk('z', '2025-01-01T00:00:00Z', 'h.com')], 'default/z', 'Ingress default/a'],
    ['spelling does not matter', [mk('a', '2025-01-01T00:00:00Z', 'h.com'), mk('b', '2025-02-01T00:00:00Z', 'H.COM.')], 'default/a', 'Ingress default/b'],
  ];
  it.each(cases)('%s', (_n, ings, winner, loser) => {
    const { snapshot, problems } = compile(desired({ ...base, ingresses: ings }), { version: 1 });
    expect(snapshot.planes.external.hosts.get('h.com')!.routes[0]!.ingress).toBe(winner);
    expect(problems).toContainEqual(expect.objectContaining({ severity: 'warning', object: loser, reason: 'DomainConflict' }));
    expect(snapshot.statuses).toContainEqual(expect.objectContaining({ object: loser, ready: false, reason: 'DomainConflict' }));
  });

  it('the losing Ingress is rejected whole (its other hosts are not served)', () => {
    const loser = ingress('b', [rule(['h.com'], [{ splits: [split('r-1')] }]), rule(['other.com'], [{ splits: [split('r-1')] }])], '2025-02-01T00:00:00Z');
    const { snapshot } = compile(desired({ ...base, ingresses: [mk('a', '2025-01-01T00:00:00Z', 'h.com'), loser] }), { version: 1 });
    expect(hostsOf(snapshot, 'external')).toEqual(['h.com']);
  });
});

describe('compile: backends', () => {
  const route = (s: Record<string, unknown>) => ingress('x', [rule(['x.com'], [{ splits: [split('svc', 100, s)] }])]);
  const backendOf = (d: Desired) => {
    const { snapshot, problems } = compile(d, { version: 1 });
    const key = snapshot.planes.external.hosts.get('x.com')!.routes[0]!.splits[0]!.backend;
    return { key, spec: snapshot.backends.get(key), problems };
  };

  it('revision Service → rev key with activator and revision settings', () => {
    const r = rev('svc', { containerConcurrency: 3, timeoutSeconds: 5, protocol: 'h2c', readiness: { kind: 'http', path: '/ready' }, upstreams: undefined, process: { command: ['node'], args: ['a.js'], env: {}, cwd: '/x' }, service: 'hello' });
    const { key, spec } = backendOf(desired({ ingresses: [route({})], services: [revSvc('svc')], revisions: [r] }));
    expect(key).toBe('rev:default/svc');
    expect(spec).toMatchObject({ activator: true, containerConcurrency: 3, timeoutMs: 5000, protocol: 'h2c', readiness: { kind: 'http', path: '/ready' }, source: { kind: 'process' }, service: 'hello', revision: 'svc', namespace: 'default' });
    expect(spec!.revisionInfo).toBe(r);
  });

  it('static upstreams and pods sources', () => {
    expect(backendOf(desired({ ingresses: [route({})], services: [revSvc('svc')], revisions: [rev('svc')] })).spec!.source).toEqual({ kind: 'static', urls: ['http://127.0.0.1:9000'] });
    const pods = rev('svc', { upstreams: undefined, pods: { ready: ['10.0.0.1'], notReady: ['10.0.0.2'], port: 8012 } });
    expect(backendOf(desired({ ingresses: [route({})], services: [revSvc('svc')], revisions: [pods] })).spec!.source).toEqual({ kind: 'addresses', addresses: ['10.0.0.1'], notReady: ['10.0.0.2'], port: 8012 });
  });

  it('revision headers on a split reach a known revision (cluster mode)', () => {
    const { key } = backendOf(desired({ ingresses: [route({ appendHeaders: { 'Knative-Serving-Revision': 'hello-1', 'Knative-Serving-Namespace': 'default' } })], revisions: [rev('hello-1')] }));
    expect(key).toBe('rev:default/hello-1');
  });

  it('plain Service: targetPort by port number and by name; h2c by port name or appProtocol', () => {
    const svc = (ports: ServiceBackend['ports']): ServiceBackend => ({ namespace: 'default', name: 'svc', ports, addresses: ['10.1.1.1', '10.1.1.2'] });
    const byNum = backendOf(desired({ ingresses: [route({ servicePort: 80 })], services: [svc([{ name: 'http', port: 80, targetPort: 8080 }])] }));
    expect(byNum.key).toBe('svc:default/svc:80');
    expect(byNum.spec).toMatchObject({ activator: false, protocol: 'http1', source: { kind: 'addresses', addresses: ['10.1.1.1', '10.1.1.2'], notReady: [], port: 8080 } });
    const byName = backendOf(desired({ ingresses: [route({ servicePort: 'http2' })], services: [svc([{ name: 'http', port: 80 }, { name: 'http2', port: 81, targetPort: 8013 }])] }));
    expect(byName.key).toBe('svc:default/svc:81');
    expect(byName.spec).toMatchObject({ protocol: 'h2c', source: { port: 8013 } });
    const app = backendOf(desired({ ingresses: [route({ servicePort: 80 })], services: [svc([{ name: 'grpc', port: 80, appProtocol: 'kubernetes.io/h2c' }])] }));
    expect(app.spec!.protocol).toBe('h2c');
    const noTarget = backendOf(desired({ ingresses: [route({ servicePort: 80 })], services: [svc([{ name: 'http', port: 80 }])] }));
    expect(noTarget.spec!.source).toMatchObject({ port: 80 });
  });

  it('ExternalName → dns', () => {
    const { key, spec } = backendOf(desired({ ingresses: [route({ servicePort: 443 })], services: [{ namespace: 'default', name: 'svc', ports: [{ port: 443 }], externalName: 'api.example.net' }] }));
    expect(key).toBe('svc:default/svc:443');
    expect(spec!.source).toEqual({ kind: 'dns', host: 'api.example.net', port: 443 });
  });

  it('unknown Service or port → key without a backend (503 at runtime) and a warning', () => {
    const unknown = backendOf(desired({ ingresses: [route({})] }));
    expect(unknown.key).toBe('svc:default/svc:80');
    expect(unknown.spec).toBeUndefined();
    expect(unknown.problems).toContainEqual(expect.objectContaining({ severity: 'warning', object: 'Ingress default/x' }));
    const badPort = backendOf(desired({ ingresses: [route({ servicePort: 99 })], services: [{ namespace: 'default', name: 'svc', ports: [{ port: 80 }], addresses: [] }] }));
    expect(badPort.spec).toBeUndefined();
  });
});

describe('compile: config and pass-through', () => {
  it('parses ConfigMaps, passes desired problems/statuses through', () => {
    const d = desired({
      configMaps: { 'config-network': { bogus: '1' }, 'config-wharf': { 'access-log': 'false' } },
      problems: [{ severity: 'warning', message: 'from source' }],
      statuses: [{ object: 'Service default/x', ready: true }],
    });
    const { snapshot, problems } = compile(d, { version: 1 });
    expect(snapshot.config.wharf.accessLog).toBe(false);
    expect(problems.map((p) => p.message)).toEqual(['from source', 'unknown key "bogus" is ignored']);
    expect(snapshot.statuses).toEqual([{ object: 'Service default/x', ready: true }]);
  });
});

describe('reconcile → compile end to end', () => {
  it('a Service with a tag and a cluster-local Service compile into the expected host tables', () => {
    const config = parseConfig({ 'config-domain': { 'example.com': '' } }).config;
    const svc = (name: string, labels?: Record<string, string>, traffic?: unknown): KObject => ({
      apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) },
      spec: { template: { spec: { containers: [{ command: ['run'] }] } }, ...(traffic ? { traffic } : {}) },
    });
    const r = reconcileServing({ objects: [svc('hello', undefined, [{ latestRevision: true, percent: 100 }, { latestRevision: true, tag: 'next' }]), svc('priv', { 'networking.knative.dev/visibility': 'cluster-local' })], config, history: undefined, now: 0, baseDir: '/app' });
    const d = desired({ configMaps: { 'config-domain': { 'example.com': '' } }, ingresses: r.ingresses, services: r.services, revisions: r.revisions });
    const { snapshot, problems } = compile(d, { version: 1 });
    expect(problems).toEqual([]);
    expect(hostsOf(snapshot, 'external')).toEqual(['hello.default.example.com', 'next-hello.default.example.com']);
    expect(hostsOf(snapshot, 'internal')).toEqual([
      'hello.default', 'hello.default.example.com', 'hello.default.svc', 'hello.default.svc.cluster.local',
      'next-hello.default', 'next-hello.default.example.com', 'next-hello.default.svc', 'next-hello.default.svc.cluster.local',
      'priv.default', 'priv.default.svc', 'priv.default.svc.cluster.local',
    ]);
    const s = snapshot.planes.external.hosts.get('hello.default.example.com')!.routes[0]!.splits[0]!;
    expect(s.backend).toBe('rev:default/hello-00001');
    expect(s.appendHeaders).toEqual([['knative-serving-revision', 'hello-00001'], ['knative-serving-namespace', 'default']]);
    expect(snapshot.backends.get('rev:default/priv-00001')!.source).toEqual({ kind: 'process', process: { command: ['run'], args: [], env: {}, cwd: '/app' } });
  });
});

describe('compile: conflicts name the serving object', () => {
  it('a DomainMapping on a Route host loses to the older Service and is reported as itself', () => {
    const config = parseConfig({ 'config-domain': { 'example.com': '' }, 'config-network': { 'autocreate-cluster-domain-claims': 'true' } }).config;
    const svc: KObject = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name: 'hello', namespace: 'default', creationTimestamp: '2025-01-01T00:00:00Z' }, spec: { template: { spec: { containers: [{ command: ['run'] }] } } } };
    const dm: KObject = { apiVersion: 'serving.knative.dev/v1beta1', kind: 'DomainMapping', metadata: { name: 'hello.default.example.com', namespace: 'default', creationTimestamp: '2025-02-01T00:00:00Z' }, spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' } } };
    const r = reconcileServing({ objects: [svc, dm], config, history: undefined, now: 0, baseDir: '/' });
    const { snapshot, problems } = compile(desired({ configMaps: {}, ingresses: r.ingresses, services: r.services, revisions: r.revisions }), { version: 1 });
    expect(snapshot.planes.external.hosts.get('hello.default.example.com')!.routes[0]!.ingress).toBe('default/hello');
    expect(problems).toContainEqual(expect.objectContaining({ object: 'DomainMapping default/hello.default.example.com', reason: 'DomainConflict' }));
    expect(problems.find((p) => p.reason === 'DomainConflict')!.message).toContain('already served by Service default/hello');
  });
});
