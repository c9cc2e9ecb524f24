import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCli } from '../../src/cli.js';
import { API_USAGE, DEFAULT_NAMESPACE, INTERNAL_SERVICE, KNATIVE_SERVING_NAMESPACE, PORTS, PUBLIC_SERVICE, SERVICE_PORTS } from '../../src/sources/kubernetes/constants.js';

const DIR = new URL('../../docker/kubernetes/', import.meta.url).pathname;
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: any;
}

const docs: (Doc & { file: string })[] = [];
for (const f of files) {
  for (const d of parseAllDocuments(readFileSync(join(DIR, f), 'utf8'))) {
    if (d.errors.length) throw new Error(`${f}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS();
    if (v !== null) docs.push({ ...v, file: f });
  }
}
const find = (kind: string, name: string, ns?: string) => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name && (ns === undefined || x.metadata.namespace === ns));
  if (!d) throw new Error(`no ${kind} ${ns ?? ''}/${name} in docker/kubernetes`);
  return d;
};
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
const cli = parseCli(['serve', '--kubernetes'], {});

describe('docker/kubernetes manifests', () => {
  it('are well-formed Kubernetes objects', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const d of docs) {
      expect(d.apiVersion, `${d.file}: apiVersion`).toMatch(/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/);
      expect(d.kind, `${d.file}: kind`).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(d.metadata?.name, `${d.file}: metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      if (CLUSTER_SCOPED.has(d.kind)) expect(d.metadata.namespace, `${d.file}: ${d.kind} is cluster-scoped`).toBeUndefined();
      else expect([DEFAULT_NAMESPACE, KNATIVE_SERVING_NAMESPACE], `${d.file}: ${d.kind} ${d.metadata.name} namespace`).toContain(d.metadata.namespace);
    }
    const keys = docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    find('Namespace', DEFAULT_NAMESPACE);
  });

  it('expose the ports the code listens on, as Kourier does (80→8080, 443→8443; internal 80→8081, 443→8444)', () => {
    expect([cli.httpPort, cli.httpsPort, cli.internalHttpPort, cli.internalHttpsPort, cli.adminPort]).toEqual([PORTS.externalHttp, PORTS.externalHttps, PORTS.internalHttp, PORTS.internalHttps, PORTS.admin]);
    const pub = find('Service', PUBLIC_SERVICE, DEFAULT_NAMESPACE);
    expect(pub.spec.type).toBe('LoadBalancer');
    expect(pub.spec.ports.map((p: any) => [p.port, p.targetPort])).toEqual(SERVICE_PORTS.public.map((p) => [p.port, p.targetPort]));
    expect(pub.spec.ports.map((p: any) => [p.port, p.targetPort])).toEqual([[80, cli.httpPort], [443, cli.httpsPort]]);
    const internal = find('Service', INTERNAL_SERVICE, DEFAULT_NAMESPACE);
    expect(internal.spec.type).toBe('ClusterIP');
    expect(internal.spec.ports.map((p: any) => [p.port, p.targetPort])).toEqual([[80, cli.internalHttpPort], [443, cli.internalHttpsPort]]);
    const sts = find('StatefulSet', 'wharf', DEFAULT_NAMESPACE);
    const pod = sts.spec.template;
    const c = pod.spec.containers[0];
    const containerPorts = new Map<string, number>(c.ports.map((p: any) => [p.name, p.containerPort]));
    for (const svc of docs.filter((d) => d.kind === 'Service')) {
      // every Service selects the gateway pods and targets a port the container declares
      expect(Object.entries(svc.spec.selector).every(([k, v]) => pod.metadata.labels[k] === v), `${svc.metadata.name} selector`).toBe(true);
      for (const p of svc.spec.ports) expect([...containerPorts.values()], `${svc.metadata.name}:${p.port}`).toContain(p.targetPort);
    }
    expect(containerPorts.get('admin')).toBe(cli.adminPort);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(containerPorts.get(c.readinessProbe.httpGet.port)).toBe(cli.adminPort);
    expect(c.args).toEqual(expect.arrayContaining(['serve', '--kubernetes', '--admin-address', '0.0.0.0']));
    // Re-parse the container's own args: they must be valid for the CLI.
    expect(parseCli(c.args, {}).kubernetes).toBe(true);
  });

  it('run a StatefulSet with a volume per replica, a preStop drain and a PDB', () => {
    const sts = find('StatefulSet', 'wharf', DEFAULT_NAMESPACE);
    const c = sts.spec.template.spec.containers[0];
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    expect(c.args.join(' ')).toContain('--data-dir /data');
    expect(c.lifecycle.preStop).toBeTruthy();
    expect(sts.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(15);
    expect(sts.spec.template.spec.serviceAccountName).toBe('wharf');
    expect(Object.entries(sts.spec.selector.matchLabels).every(([k, v]) => sts.spec.template.metadata.labels[k] === v)).toBe(true);
    find('Service', sts.spec.serviceName, DEFAULT_NAMESPACE);
    const pdb = find('PodDisruptionBudget', 'wharf', DEFAULT_NAMESPACE);
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
  });

  it('grant every API call the code makes, and no other writes', () => {
    const sa = { kind: 'ServiceAccount', name: 'wharf', namespace: DEFAULT_NAMESPACE };
    find('ServiceAccount', sa.name, sa.namespace);
    const bound = (b: Doc) => (b.subjects ?? []).some((s: any) => s.kind === sa.kind && s.name === sa.name && s.namespace === sa.namespace);
    // rules that apply to the SA, by scope: '*' = cluster-wide, else the namespace
    const grants: { scope: string; rule: any }[] = [];
    for (const b of docs.filter((d) => (d.kind === 'ClusterRoleBinding' || d.kind === 'RoleBinding') && bound(d))) {
      const role = find(b.roleRef.kind, b.roleRef.name, b.roleRef.kind === 'Role' ? b.metadata.namespace : undefined);
      const scope = b.kind === 'ClusterRoleBinding' ? '*' : b.metadata.namespace!;
      for (const rule of role.rules) grants.push({ scope, rule });
    }
    const allows = (scope: string, group: string, resource: string, verb: string) =>
      grants.some((g) => (g.scope === '*' || g.scope === scope) && g.rule.apiGroups.includes(group) && g.rule.resources.includes(resource) && g.rule.verbs.includes(verb));
    for (const u of API_USAGE) {
      const ns = u.scope === 'cluster' ? '*' : u.scope === 'wharf-namespace' ? DEFAULT_NAMESPACE : KNATIVE_SERVING_NAMESPACE;
      for (const v of u.verbs) expect(allows(ns, u.group, u.resource, v), `RBAC lacks ${v} ${u.group || 'core'}/${u.resource} (${u.scope})`).toBe(true);
    }
    // Least privilege: no wildcards, and writes only where the issue allows them.
    const writable = new Set(['ingresses', 'ingresses/status', 'ingresses/finalizers', 'brokers/status', 'triggers/status', 'brokers/finalizers', 'triggers/finalizers', 'leases']);
    for (const { scope, rule } of grants) {
      expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain('*');
      if (rule.verbs.some((v: string) => ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(v))) {
        for (const r of rule.resources) expect(writable, `write access to ${r}`).toContain(r);
      }
      if (rule.resources.includes('leases')) expect(scope).toBe(DEFAULT_NAMESPACE);
      if (rule.resources.includes('configmaps')) expect(scope).toBe(KNATIVE_SERVING_NAMESPACE);
    }
    // ingresses themselves are writable only through patch (the finalizer), never update/create/delete
    const ing = grants.filter((g) => g.rule.resources.includes('ingresses')).flatMap((g) => g.rule.verbs);
    expect(ing.filter((v: string) => ['create', 'update', 'delete'].includes(v))).toEqual([]);
  });
});
