// `wharf serve --kubernetes` as a pod runs it: a child process with KUBECONFIG (here) or the service account,
// POD_NAME/POD_NAMESPACE from the Downward API, against the fake API server. It must serve a KIngress, write its
// status Ready after probing itself through the wharf/wharf-internal EndpointSlices, and hand the Lease back on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { deadPort } from '../../support/http.js';
import { endpointSlice, kingress, simpleSpec, until } from '../../support/k8s-fixtures.js';
import { EchoBackend, exposeBackend, get, waitReady } from '../../support/k8s-wharf.js';

const ROOT = resolve(import.meta.dirname, '../../..');
let api: FakeApiServer;
let child: ChildProcess | null = null;
let backend: EchoBackend;
let output = '';
let dir = '';

beforeAll(async () => {
  api = await startFakeApiServer();
  backend = await new EchoBackend('hello').start();
});
afterAll(async () => {
  child?.kill('SIGKILL');
  backend?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await api?.close();
});

describe('wharf serve --kubernetes (child process)', () => {
  it('serves a KIngress, reports it Ready, and releases the Lease on SIGTERM', async () => {
    const [http, internal, admin] = [await deadPort(), await deadPort(), await deadPort()];
    dir = mkdtempSync(join(tmpdir(), 'wharf-k8s-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${api.url}\n    insecure-skip-tls-verify: true\nusers:\n- name: fake\n  user: {}\ncontexts:\n- name: fake\n  context: {cluster: fake, user: fake}\ncurrent-context: fake\n`,
    );
    // The endpoints controller's view of wharf's own Services: this process is the only gateway pod.
    api.create(endpointSlice('wharf-system', 'wharf', 'wharf-x', [{ ip: '127.0.0.1' }], [{ name: 'http2', port: http }]));
    api.create(endpointSlice('wharf-system', 'wharf-internal', 'wharf-internal-x', [{ ip: '127.0.0.1' }], [{ name: 'http2', port: internal }]));
    exposeBackend(api, 'default', 'hello', backend);
    api.create(kingress('default', 'hello', simpleSpec('default', 'hello.default.example.com', 'hello')));

    child = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(ROOT, 'src/cli.ts'), 'serve', '--kubernetes', '--http-port', String(http), '--internal-http-port', String(internal), '--admin-port', String(admin), '--data-dir', join(dir, 'data')],
      { cwd: ROOT, env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: 'wharf-0', POD_NAMESPACE: 'wharf-system', WHARF_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));

    const o = await waitReady(api, 'default', 'hello', 20_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n--- wharf output ---\n${output}`);
    });
    expect(o.metadata.finalizers).toEqual(['ingresses.networking.internal.knative.dev']);
    expect(o.status.publicLoadBalancer.ingress[0].domainInternal).toBe('wharf.wharf-system.svc.cluster.local');
    const r = await get(http, 'hello.default.example.com');
    expect(r.status).toBe(200);
    expect(r.json.backend).toBe('hello');
    expect(api.get('coordination.k8s.io/v1', 'Lease', 'wharf-system', 'wharf-leader').spec.holderIdentity).toBe('wharf-0');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = null;
    await until(() => api.get('coordination.k8s.io/v1', 'Lease', 'wharf-system', 'wharf-leader').spec.holderIdentity === '', 2000, 'lease released');
  }, 40_000);
});
