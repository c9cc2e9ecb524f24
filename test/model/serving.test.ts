import { describe, it, expect } from 'vitest';
import { reconcileServing, type ReconcileResult } from '../../src/model/serving.js';
import { parseConfig } from '../../src/model/config.js';
import type { KObject } from '../../src/model/objects.js';
import type { Ingress } from '../../src/model/kingress.js';

const T0 = Date.UTC(2026, 0, 1);
const cfg = (extra: Record<string, Record<string, string>> = {}) => parseConfig({ 'config-domain': { 'example.com': '' }, ...extra }).config;

function svc(name: string, opts: { env?: string; traffic?: unknown; labels?: Record<string, string>; annotations?: Record<string, string>; tmplName?: string; tmplAnn?: Record<string, string>; ns?: string; spec?: Record<string, unknown> } = {}): KObject {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name, namespace: opts.ns ?? 'default', ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: {
      template: {
        metadata: { ...(opts.tmplName ? { name: opts.tmplName } : {}), ...(opts.tmplAnn ? { annotations: opts.tmplAnn } : {}) },
        spec: { containers: [{ command: ['node', 'server.js'], env: [{ name: 'MSG', value: opts.env ?? 'v1' }] }], ...(opts.spec ?? {}) },
      },
      ...(opts.traffic !== undefined ? { traffic: opts.traffic } : {}),
    },
  };
}

function run(objects: KObject[], history?: unknown, now = T0, config = cfg()): ReconcileResult {
  return reconcileServing({ objects, config, history, now, baseDir: '/srv/app' });
}

const ing = (r: ReconcileResult, name: string): Ingress => {
  const i = r.ingresses.find((x) => x.metadata.name === name);
  if (!i) throw new Error(`no ingress ${name}`);
  return i;
};
const errors = (r: ReconcileResult) => r.problems.filter((p) => p.severity === 'error').map((p) => `${p.object} ${p.field}: ${p.message}`);
/** rule → [visibility, hosts, [paths as "header=>rev:pct,..."]] */
const shape = (i: Ingress) =>
  i.spec.rules!.map((r) => [
    r.visibility,
    r.hosts,
    r.http!.paths.map(
      (p) =>
        (p.headers ? Object.entries(p.headers).map(([k, v]) => `${k}=${v.exact}`).join(',') + '=>' : '') +
        p.splits.map((s) => `${s.serviceName}:${s.percent}`).join(',') +
        (p.appendHeaders ? ' +' + Object.entries(p.appendHeaders).map(([k, v]) => `${k}:${v}`).join(',') : ''),
    ),
  ]);

describe('revisions: names and generations', () => {
  it('first template → <name>-00001, process from the container', () => {
    const r = run([svc('hello')]);
    expect(errors(r)).toEqual([]);
    expect(r.revisions.map((x) => x.name)).toEqual(['hello-00001']);
    expect(r.revisions[0]).toMatchObject({
      namespace: 'default', service: 'hello', configuration: 'hello', containerConcurrency: 0, timeoutSeconds: 300, protocol: 'http1',
      readiness: { kind: 'tcp' }, process: { command: ['node', 'server.js'], args: [], env: { MSG: 'v1' }, cwd: '/srv/app' },
    });
    expect(r.services).toEqual([{ namespace: 'default', name: 'hello-00001', ports: [{ name: 'http', port: 80 }], revision: 'default/hello-00001' }]);
    expect(r.history.configurations['default/hello']!.revisions.map((x) => [x.name, x.generation])).toEqual([['hello-00001', 1]]);
  });

  it('same template (any key order) keeps the name; a change bumps the generation; history survives a "restart" via JSON', () => {
    const r1 = run([svc('hello')]);
    const again = run([svc('hello')], JSON.parse(JSON.stringify(r1.history)), T0 + 1000);
    expect(again.revisions.map((x) => x.name)).toEqual(['hello-00001']);
    const r2 = run([svc('hello', { env: 'v2' })], JSON.parse(JSON.stringify(again.history)), T0 + 2000);
    expect(r2.revisions.map((x) => x.name)).toEqual(['hello-00002']);
    expect(shape(ing(r2, 'hello'))[0]![2]).toEqual(['hello-00002:100']);
    const r3 = run([svc('hello')], r2.history, T0 + 3000); // back to the first template: a new generation, like Knative
    expect(r3.revisions.map((x) => x.name)).toEqual(['hello-00003']);
  });

  it('pinned old revision keeps its old template (blue/green)', () => {
    const r1 = run([svc('hello', { env: 'blue' })]);
    const r2 = run(
      [svc('hello', { env: 'green', traffic: [{ revisionName: 'hello-00001', percent: 100 }, { latestRevision: true, percent: 0, tag: 'green' }] })],
      r1.history,
      T0 + 1000,
    );
    expect(errors(r2)).toEqual([]);
    const byName = Object.fromEntries(r2.revisions.map((x) => [x.name, x.process!.env.MSG]));
    expect(byName).toEqual({ 'hello-00001': 'blue', 'hello-00002': 'green' });
    expect(shape(ing(r2, 'hello'))).toEqual([
      ['ClusterLocal', ['hello.default', 'hello.default.svc', 'hello.default.svc.cluster.local'], ['hello-00001:100']],
      ['ExternalIP', ['hello.default.example.com'], ['hello-00001:100']],
      ['ClusterLocal', ['green-hello.default', 'green-hello.default.svc', 'green-hello.default.svc.cluster.local'], ['hello-00002:100']],
      ['ExternalIP', ['green-hello.default.example.com'], ['hello-00002:100']],
    ]);
  });

  it('a pinned history revision that cannot run under the current config is a warning, not an error', () => {
    const r1 = run([svc('hello', { spec: { containerConcurrency: 50 } })]);
    const config = cfg({ 'config-defaults': { 'container-concurrency-max-limit': '10' } });
    const r2 = run([svc('hello', { env: 'v2', traffic: [{ revisionName: 'hello-00001', percent: 100 }] })], r1.history, T0 + 1, config);
    expect(errors(r2)).toEqual([]);
    expect(r2.problems).toContainEqual(expect.objectContaining({ severity: 'warning', object: 'Revision default/hello-00001', field: 'spec.containerConcurrency' }));
    expect(r2.revisions.map((x) => x.name)).toEqual(['hello-00002']);
  });

  it('BYO revision names', () => {
    const r = run([svc('hello', { tmplName: 'hello-blue' })]);
    expect(r.revisions.map((x) => x.name)).toEqual(['hello-blue']);
    const bad = run([svc('hello', { tmplName: 'other-blue' })]);
    expect(errors(bad)).toEqual(['Service default/hello spec.template.metadata.name: must have prefix "hello-"']);
    const changed = run([svc('hello', { tmplName: 'hello-blue', env: 'v2' })], r.history, T0 + 1);
    expect(errors(changed)[0]).toContain('already exists with a different template');
  });

  it('old unrouted revisions are not run but stay in history', () => {
    const r1 = run([svc('hello')]);
    const r2 = run([svc('hello', { env: 'v2' })], r1.history, T0 + 1);
    expect(r2.revisions.map((x) => x.name)).toEqual(['hello-00002']);
    expect(r2.history.configurations['default/hello']!.revisions.map((x) => x.name)).toEqual(['hello-00001', 'hello-00002']);
  });

  it('revision settings: cc, timeout, h2c, readiness, upstreams, annotations', () => {
    const s = svc('h', { spec: { containerConcurrency: 5, timeoutSeconds: 10 }, tmplAnn: { 'wharf.dev/upstream': 'http://127.0.0.1:9001, http://localhost:9002', 'autoscaling.knative.dev/target': '7' } });
    const c0 = (s.spec.template.spec.containers as Record<string, unknown>[])[0]!;
    c0.ports = [{ name: 'h2c', containerPort: 8080 }];
    c0.readinessProbe = { httpGet: { path: '/ready', port: 8080 } };
    const r = run([s]);
    expect(errors(r)).toEqual([]);
    expect(r.revisions[0]).toMatchObject({
      containerConcurrency: 5, timeoutSeconds: 10, protocol: 'h2c', readiness: { kind: 'http', path: '/ready' },
      upstreams: ['http://127.0.0.1:9001', 'http://localhost:9002'], annotations: { 'autoscaling.knative.dev/target': '7' },
    });
    expect(r.revisions[0]!.process).toBeUndefined();
    expect(ing(r, 'h').spec.rules![0]!.http!.paths[0]!.splits[0]!.servicePort).toBe(81);
    expect(r.services[0]!.ports).toEqual([{ name: 'http2', port: 81, appProtocol: 'kubernetes.io/h2c' }]);
  });

  it('config-defaults apply', () => {
    const r = run([svc('h')], undefined, T0, cfg({ 'config-defaults': { 'container-concurrency': '3', 'revision-timeout-seconds': '42' } }));
    expect(r.revisions[0]).toMatchObject({ containerConcurrency: 3, timeoutSeconds: 42 });
  });

  const badTemplates: [string, (s: KObject) => void, string][] = [
    ['no command', (s) => delete (s.spec.template.spec.containers[0] as Record<string, unknown>).command, 'spec.template.spec.containers[0].command'],
    ['bad upstream', (s) => (s.spec.template.metadata.annotations = { 'wharf.dev/upstream': 'ftp://x' }), 'spec.template.metadata.annotations'],
    ['upstream with path', (s) => (s.spec.template.metadata.annotations = { 'wharf.dev/upstream': 'http://x/y' }), 'spec.template.metadata.annotations'],
    ['cc out of range', (s) => (s.spec.template.spec.containerConcurrency = 5000), 'spec.template.spec.containerConcurrency'],
    ['timeout out of range', (s) => (s.spec.template.spec.timeoutSeconds = 601), 'spec.template.spec.timeoutSeconds'],
    ['no containers', (s) => (s.spec.template.spec.containers = []), 'spec.template.spec.containers'],
    ['env without name', (s) => (s.spec.template.spec.containers[0].env = [{ value: 'x' }]), 'spec.template.spec.containers[0].env[0].name'],
    ['no template', (s) => delete s.spec.template, 'spec.template'],
  ];
  it.each(badTemplates)('bad template: %s', (_n, mutate, field) => {
    const s = svc('hello');
    mutate(s);
    const r = run([s]);
    expect(r.problems.filter((p) => p.severity === 'error').map((p) => [p.object, p.field])).toEqual([['Service default/hello', field]]);
  });
});

describe('traffic validation (field paths)', () => {
  const cases: [string, unknown, string[]][] = [
    ['sum != 100', [{ latestRevision: true, percent: 50 }], ['spec.traffic: Traffic targets sum to 50, want 100']],
    ['percent out of range', [{ latestRevision: true, percent: 100 }, { revisionName: 'hello-00001', percent: 150 }], ['spec.traffic[1].percent', 'spec.traffic: Traffic targets sum to 250, want 100']],
    ['duplicate tags', [{ latestRevision: true, percent: 100, tag: 'a' }, { revisionName: 'hello-00001', percent: 0, tag: 'a' }], ['spec.traffic[1].tag: Multiple definitions for "a"']],
    ['latestRevision with revisionName', [{ latestRevision: true, revisionName: 'hello-00001', percent: 100 }], ['spec.traffic[0].latestRevision']],
    ['configurationName in a Service', [{ configurationName: 'x', percent: 100 }], ['spec.traffic[0].configurationName']],
    ['missing revision', [{ revisionName: 'hello-00009', percent: 100 }], ['spec.traffic[0].revisionName: Revision "hello-00009" referenced in traffic not found']],
    ['bad tag', [{ latestRevision: true, percent: 100, tag: 'Not_OK' }], ['spec.traffic[0].tag']],
    ['not a list', { percent: 100 }, ['spec.traffic: must be a list']],
  ];
  it.each(cases)('%s', (_n, traffic, want) => {
    const r = run([svc('hello', { traffic })]);
    const errs = errors(r).map((e) => e.replace('Service default/hello ', ''));
    expect(errs.length).toBe(want.length);
    want.forEach((w, i) => expect(errs[i]).toContain(w));
    expect(r.ingresses).toEqual([]);
    expect(r.statuses.find((s) => s.object === 'Service default/hello')).toMatchObject({ ready: false });
  });

  it('standalone Route: configurationName targets, both names → error, neither → error', () => {
    const conf: KObject = { apiVersion: 'serving.knative.dev/v1', kind: 'Configuration', metadata: { name: 'cfg', namespace: 'default' }, spec: { template: svc('x').spec.template } };
    const route = (traffic: unknown): KObject => ({ apiVersion: 'serving.knative.dev/v1', kind: 'Route', metadata: { name: 'rt', namespace: 'default' }, spec: { traffic } });
    const ok = run([conf, route([{ configurationName: 'cfg', percent: 100 }])]);
    expect(errors(ok)).toEqual([]);
    expect(shape(ing(ok, 'rt'))[1]).toEqual(['ExternalIP', ['rt.default.example.com'], ['cfg-00001:100']]);
    expect(errors(run([conf, route([{ configurationName: 'cfg', revisionName: 'cfg-00001', percent: 100 }])]))[0]).toContain('spec.traffic[0].revisionName: expected exactly one, got both');
    expect(errors(run([conf, route([{ percent: 100 }])]))[0]).toContain('spec.traffic[0].revisionName: expected exactly one, got neither');
    expect(errors(run([conf, route([{ configurationName: 'nope', percent: 100 }])]))[0]).toContain('spec.traffic[0].configurationName: Configuration "nope" referenced in traffic not found');
  });
});

describe('standalone Revision and Route objects', () => {
  const revision: KObject = {
    apiVersion: 'serving.knative.dev/v1', kind: 'Revision', metadata: { name: 'pinned-rev', namespace: 'default', annotations: { 'wharf.dev/upstream': 'http://10.0.0.9:8080' } },
    spec: { containers: [{ image: 'x' }], containerConcurrency: 2 },
  };
  const route = (name: string): KObject => ({ apiVersion: 'serving.knative.dev/v1', kind: 'Route', metadata: { name, namespace: 'default' }, spec: { traffic: [{ revisionName: 'pinned-rev', percent: 100 }] } });
  it('a Route can pin a Revision object', () => {
    const r = run([revision, route('rt')]);
    expect(errors(r)).toEqual([]);
    expect(r.revisions).toEqual([expect.objectContaining({ name: 'pinned-rev', upstreams: ['http://10.0.0.9:8080'], containerConcurrency: 2 })]);
    expect(shape(ing(r, 'rt'))[1]).toEqual(['ExternalIP', ['rt.default.example.com'], ['pinned-rev:100']]);
  });
  it('a Route named like a Service is an error', () => {
    const r = run([svc('hello'), revision, route('hello')]);
    expect(errors(r)).toEqual(['Route default/hello metadata.name: conflicts with the Route of Service default/hello']);
  });
  it('a bad Revision object reports fields without a prefix', () => {
    const bad = { ...revision, metadata: { name: 'r2', namespace: 'default' }, spec: { containers: [{ image: 'x' }] } };
    expect(run([bad]).problems.map((p) => [p.object, p.field])).toEqual([['Revision default/r2', 'spec.containers[0].command']]);
  });
});

describe('KIngress shape', () => {
  it('default service: cluster-local expanded hosts + external host, revision headers, annotations, labels', () => {
    const r = run([svc('hello')]);
    const i = ing(r, 'hello');
    expect(shape(i)).toEqual([
      ['ClusterLocal', ['hello.default', 'hello.default.svc', 'hello.default.svc.cluster.local'], ['hello-00001:100']],
      ['ExternalIP', ['hello.default.example.com'], ['hello-00001:100']],
    ]);
    const split = i.spec.rules![0]!.http!.paths[0]!.splits[0]!;
    expect(split).toEqual({ serviceNamespace: 'default', serviceName: 'hello-00001', servicePort: 80, percent: 100, appendHeaders: { 'Knative-Serving-Revision': 'hello-00001', 'Knative-Serving-Namespace': 'default' } });
    expect(i.metadata.annotations!['networking.knative.dev/ingress.class']).toBe('wharf.ingress.networking.knative.dev');
    expect(i.metadata.labels).toMatchObject({ 'serving.knative.dev/route': 'hello', 'serving.knative.dev/routeNamespace': 'default' });
    expect(i.spec.httpOption).toBe('Enabled');
    expect(typeof i.metadata.creationTimestamp).toBe('string');
    expect(r.statuses).toContainEqual({ object: 'Service default/hello', ready: true, url: 'http://hello.default.example.com' });
  });

  it('split with tag: percents, 0% dropped, tag hosts at 100%', () => {
    const r1 = run([svc('hello')]);
    const r = run([svc('hello', { env: 'v2', traffic: [{ revisionName: 'hello-00001', percent: 80, tag: 'stable' }, { latestRevision: true, percent: 20, tag: 'canary' }, { revisionName: 'hello-00001', percent: 0, tag: 'zero' }] })], r1.history, T0 + 1);
    expect(errors(r)).toEqual([]);
    const s = shape(ing(r, 'hello'));
    expect(s.map((x) => [x[0], (x[1] as string[]).at(-1), x[2]])).toEqual([
      ['ClusterLocal', 'hello.default.svc.cluster.local', ['hello-00001:80,hello-00002:20']],
      ['ExternalIP', 'hello.default.example.com', ['hello-00001:80,hello-00002:20']],
      ['ClusterLocal', 'canary-hello.default.svc.cluster.local', ['hello-00002:100']],
      ['ExternalIP', 'canary-hello.default.example.com', ['hello-00002:100']],
      ['ClusterLocal', 'stable-hello.default.svc.cluster.local', ['hello-00001:100']],
      ['ExternalIP', 'stable-hello.default.example.com', ['hello-00001:100']],
      ['ClusterLocal', 'zero-hello.default.svc.cluster.local', ['hello-00001:100']],
      ['ExternalIP', 'zero-hello.default.example.com', ['hello-00001:100']],
    ]);
  });

  it('an empty traffic list on a Service means 100% latest', () => {
    expect(shape(ing(run([svc('hello', { traffic: [] })]), 'hello'))[0]![2]).toEqual(['hello-00001:100']);
  });

  it('two targets on one revision are consolidated', () => {
    const r = run([svc('hello', { traffic: [{ latestRevision: true, percent: 50 }, { revisionName: 'hello-00001', percent: 50 }] })]);
    expect(errors(r)).toEqual([]);
    expect(shape(ing(r, 'hello'))[0]![2]).toEqual(['hello-00001:100']);
  });

  it('tag-header-based routing: tag paths first on the default rule, default-route and tag headers appended', () => {
    const r = run([svc('hello', { traffic: [{ latestRevision: true, percent: 100 }, { latestRevision: true, tag: 'beta' }] })], undefined, T0, cfg({ 'config-features': { 'tag-header-based-routing': 'Enabled' } }));
    expect(errors(r)).toEqual([]);
    expect(shape(ing(r, 'hello')).map((x) => [x[0], x[2]])).toEqual([
      ['ClusterLocal', ['Knative-Serving-Tag=beta=>hello-00001:100', 'hello-00001:100 +Knative-Serving-Default-Route:true']],
      ['ExternalIP', ['Knative-Serving-Tag=beta=>hello-00001:100', 'hello-00001:100 +Knative-Serving-Default-Route:true']],
      ['ClusterLocal', ['hello-00001:100 +Knative-Serving-Tag:beta']],
      ['ExternalIP', ['hello-00001:100 +Knative-Serving-Tag:beta']],
    ]);
  });

  it('cluster-local label → no external rule; config-domain without default → cluster-local', () => {
    const r = run([svc('priv', { labels: { 'networking.knative.dev/visibility': 'cluster-local' } })]);
    expect(shape(ing(r, 'priv')).map((x) => x[0])).toEqual(['ClusterLocal']);
    expect(r.statuses).toContainEqual({ object: 'Service default/priv', ready: true, url: 'http://priv.default.svc.cluster.local' });
    const r2 = run([svc('x')], undefined, T0, parseConfig({}).config);
    expect(shape(ing(r2, 'x')).map((x) => x[0])).toEqual(['ClusterLocal']);
  });

  it('domain selectors and custom templates use the service labels/annotations', () => {
    const config = cfg({ 'config-domain': { 'example.com': '', 'prod.example.org': 'selector:\n  env: prod' }, 'config-network': { 'domain-template': '{{.Name}}-{{.Namespace}}.{{.Domain}}' } });
    const r = run([svc('api', { labels: { env: 'prod' }, ns: 'shop' })], undefined, T0, config);
    expect(shape(ing(r, 'api'))[1]).toEqual(['ExternalIP', ['api-shop.prod.example.org'], ['api-00001:100']]);
  });

  it('http-protocol annotation and config', () => {
    expect(ing(run([svc('a', { annotations: { 'networking.knative.dev/http-protocol': 'Redirected' } })]), 'a').spec.httpOption).toBe('Redirected');
    expect(ing(run([svc('a')], undefined, T0, cfg({ 'config-network': { 'http-protocol': 'Disabled' } })), 'a').spec.httpOption).toBeUndefined();
    expect(errors(run([svc('a', { annotations: { 'networking.knative.dev/http-protocol': 'bogus' } })]))[0]).toContain('metadata.annotations');
  });

  it('creationTimestamp: from metadata, else first-seen time kept in history', () => {
    const s = svc('a');
    const r1 = run([s]);
    expect(ing(r1, 'a').metadata.creationTimestamp).toBe(new Date(T0).toISOString());
    const r2 = run([s], r1.history, T0 + 5000);
    expect(ing(r2, 'a').metadata.creationTimestamp).toBe(new Date(T0).toISOString());
    s.metadata.creationTimestamp = '2020-01-01T00:00:00Z';
    expect(ing(run([s]), 'a').metadata.creationTimestamp).toBe('2020-01-01T00:00:00Z');
  });

  it('origins are attached to problems ({object, origin} input)', () => {
    const bad = svc('hello', { traffic: [{ latestRevision: true, percent: 5 }] });
    const r = reconcileServing({ objects: [{ object: bad, origin: { file: 'a.yaml', doc: 2 } }], config: cfg(), history: undefined, now: T0, baseDir: '/' });
    expect(r.problems[0]!.origin).toEqual({ file: 'a.yaml', doc: 2 });
  });

  it('garbage history is ignored', () => {
    for (const h of [null, 42, 'x', { version: 2 }, { version: 1, configurations: { 'default/hello': { revisions: [{ name: 1 }] } }, rollouts: { x: { configurations: [{}] } } }]) {
      const r = run([svc('hello')], h);
      expect(r.revisions.map((x) => x.name)).toEqual(['hello-00001']);
    }
  });
});

describe('DomainMapping and ClusterDomainClaim', () => {
  const dm = (name: string, ns = 'default', ref: Record<string, unknown> = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' }): KObject => ({
    apiVersion: 'serving.knative.dev/v1beta1', kind: 'DomainMapping', metadata: { name, namespace: ns }, spec: { ref },
  });
  const claim = (name: string, ns: string): KObject => ({ apiVersion: 'networking.internal.knative.dev/v1alpha1', kind: 'ClusterDomainClaim', metadata: { name }, spec: { namespace: ns } });
  const auto = cfg({ 'config-network': { 'autocreate-cluster-domain-claims': 'true' } });

  it('autocreate on: served, rewritten to the ref host, K-Original-Host on the revision splits', () => {
    const r = run([svc('hello'), dm('www.example.org')], undefined, T0, auto);
    expect(errors(r)).toEqual([]);
    const i = ing(r, 'www.example.org');
    expect(i.metadata.namespace).toBe('default');
    expect(i.spec.rules).toEqual([
      {
        hosts: ['www.example.org'],
        visibility: 'ExternalIP',
        http: {
          paths: [
            {
              rewriteHost: 'hello.default.svc.cluster.local',
              splits: [{ serviceNamespace: 'default', serviceName: 'hello-00001', servicePort: 80, percent: 100, appendHeaders: { 'Knative-Serving-Revision': 'hello-00001', 'Knative-Serving-Namespace': 'default', 'K-Original-Host': 'www.example.org' } }],
            },
          ],
        },
      },
    ]);
    expect(r.statuses).toContainEqual({ object: 'DomainMapping default/www.example.org', ready: true, url: 'http://www.example.org' });
  });

  it('autocreate off (default): no claim → not served, DomainClaimNotOwned', () => {
    const r = run([svc('hello'), dm('www.example.org')]);
    expect(r.ingresses.map((x) => x.metadata.name)).toEqual(['hello']);
    expect(r.statuses).toContainEqual(expect.objectContaining({ object: 'DomainMapping default/www.example.org', ready: false, reason: 'DomainClaimNotOwned' }));
    expect(r.problems).toContainEqual(expect.objectContaining({ severity: 'warning', reason: 'DomainClaimNotOwned' }));
    expect(errors(r)).toEqual([]);
  });

  it('claim for this namespace → served; claim for another namespace → refused', () => {
    const ok = run([svc('hello'), dm('www.example.org'), claim('www.example.org', 'default')]);
    expect(ok.ingresses.map((x) => x.metadata.name).sort()).toEqual(['hello', 'www.example.org']);
    const other = run([svc('hello'), dm('www.example.org'), claim('www.example.org', 'team-b')], undefined, T0, auto);
    expect(other.ingresses.map((x) => x.metadata.name)).toEqual(['hello']);
    const st = other.statuses.find((s) => s.object === 'DomainMapping default/www.example.org')!;
    expect(st).toMatchObject({ ready: false, reason: 'DomainClaimNotOwned' });
    expect(st.message).toContain('team-b');
  });

  it('autocreate: the older mapping of a domain owns it, a newer one in another namespace is refused', () => {
    const a = dm('www.example.org', 'default');
    const b = dm('www.example.org', 'other', { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' });
    a.metadata.creationTimestamp = '2025-01-02T00:00:00Z';
    b.metadata.creationTimestamp = '2025-01-01T00:00:00Z';
    const r = run([svc('hello'), svc('hello', { ns: 'other' }), a, b], undefined, T0, auto);
    expect(r.ingresses.filter((x) => x.metadata.name === 'www.example.org').map((x) => x.metadata.namespace)).toEqual(['other']);
    expect(r.statuses).toContainEqual(expect.objectContaining({ object: 'DomainMapping default/www.example.org', reason: 'DomainClaimNotOwned' }));
  });

  it('bad mappings', () => {
    expect(errors(run([svc('hello'), dm('nodots')], undefined, T0, auto))[0]).toContain('metadata.name');
    expect(errors(run([svc('hello'), dm('a.example.org', 'default', { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'nope' })], undefined, T0, auto))[0]).toContain('spec.ref');
    expect(errors(run([svc('hello'), dm('a.example.org', 'default', { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello', namespace: 'x' })], undefined, T0, auto))[0]).toContain('spec.ref.namespace');
  });

  it('TLS secret and route ref', () => {
    const m = dm('secure.example.org', 'default', { apiVersion: 'serving.knative.dev/v1', kind: 'Route', name: 'hello' });
    m.spec.tls = { secretName: 'cert' };
    const r = run([svc('hello'), m], undefined, T0, auto);
    expect(ing(r, 'secure.example.org').spec.tls).toEqual([{ hosts: ['secure.example.org'], secretName: 'cert', secretNamespace: 'default' }]);
  });
});
