// The shipped demo folder (what `npm start` serves) must load with no errors and show every feature the README
// promises: a local-process Service, a tagged traffic split, a cluster-local Service and a DomainMapping.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/model/objects.js';
import { validateFolder } from '../../../src/sources/manifests/validate.js';
import { freePort } from '../../../src/backends/process-runner.js';

const conf = fileURLToPath(new URL('../../../conf', import.meta.url)).replace(/\/$/, '');

describe('conf/ (the demo)', () => {
  const { desired, ok } = validateFolder({ dir: conf });
  const rules = desired.ingresses.flatMap((i) => (i.spec.rules ?? []).map((r) => ({ ingress: i.metadata.name, ...r })));
  const external = (host: string) => rules.find((r) => r.visibility === 'ExternalIP' && r.hosts?.includes(host));
  const local = (host: string) => rules.find((r) => r.visibility === 'ClusterLocal' && r.hosts?.includes(host));

  it('loads with no error problems, using the example.com domain', () => {
    expect(desired.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
    expect(ok).toBe(true);
    expect(desired.configMaps['config-domain']).toEqual({ 'example.com': '' });
    expect(desired.configMaps['config-features']?.['tag-header-based-routing']).toBe('Enabled');
  });

  it('serves hello.default.example.com from a local node process', () => {
    expect(external('hello.default.example.com')?.http?.paths[0]?.splits.map((s) => s.serviceName)).toEqual(['hello-00001']);
    const hello = desired.revisions.find((r) => r.name === 'hello-00001')!;
    expect(hello.process).toEqual({ command: ['node', 'apps/hello.js'], args: [], env: { TARGET: 'World' }, cwd: conf });
    expect(hello.readiness).toEqual({ kind: 'http', path: '/healthz' });
  });

  it('splits blue-green 80/20 with a candidate tag host and a tag header route', () => {
    const paths = external('blue-green.default.example.com')!.http!.paths;
    const main = paths.find((p) => !p.headers)!;
    expect(main.splits.map((s) => [s.serviceName, s.percent])).toEqual([['blue-green-blue', 80], ['blue-green-green', 20]]);
    expect(paths.find((p) => p.headers)?.headers).toEqual({ 'Knative-Serving-Tag': { exact: 'candidate' } });
    expect(external('candidate-blue-green.default.example.com')!.http!.paths[0]!.splits.map((s) => s.serviceName)).toEqual(['blue-green-green']);
  });

  it('keeps the internal Service off the external plane', () => {
    expect(rules.filter((r) => r.ingress === 'internal').map((r) => r.visibility)).toEqual(['ClusterLocal']);
    expect(local('internal.default.svc.cluster.local')).toBeDefined();
  });

  it('maps hello.wharf.local to the hello Service, with its ClusterDomainClaim', () => {
    const dm = external('hello.wharf.local')!;
    expect(dm.http!.paths[0]!.rewriteHost).toBe('hello.default.svc.cluster.local');
    expect(desired.statuses.find((s) => s.object === 'DomainMapping default/hello.wharf.local')).toMatchObject({ ready: true });
  });

  it('runs the routing demo as four local processes, one per revision', () => {
    // Other capabilities add their own demo files to conf/; these four are the routing core's.
    const core = desired.revisions.filter((r) => ['hello', 'blue-green', 'internal'].includes(r.service ?? ''));
    expect(core.map((r) => r.name).sort()).toEqual(['blue-green-blue', 'blue-green-green', 'hello-00001', 'internal-00001']);
    expect(core.every((r) => r.process && !r.upstreams)).toBe(true);
  });

  it('apps/hello.js answers its probe and requests, names the revision, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['apps/hello.js'], { cwd: conf, env: { ...process.env, PORT: String(port), TARGET: 'Test', K_REVISION: 'env-rev' }, stdio: 'ignore' });
    const exited = once(child, 'exit');
    try {
      let health: Response | undefined;
      for (let i = 0; i < 100 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 50));
      }
      expect(health?.status).toBe(200);
      const viaHeader = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'Knative-Serving-Revision': 'hdr-rev' } });
      expect(await viaHeader.text()).toBe('Hello Test! (revision hdr-rev)\n');
      expect(await (await fetch(`http://127.0.0.1:${port}/x`)).text()).toBe('Hello Test! (revision env-rev)\n');
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
