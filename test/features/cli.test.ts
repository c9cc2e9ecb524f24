// The `wharf` command as a user runs it: flags and env, validate/routes exit codes and output, and serve's drain on
// SIGTERM (a child process: in-flight request completes, /readyz turns 503, exit code 0).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { startBackend, get, deadPort, type Backend } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';
import { parseCli } from '../../src/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = ['--import', 'tsx', resolve(ROOT, 'src/cli.ts')];

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const service = (name: string, upstream: string) => upstreamService({ name, upstream });

describe('flags', () => {
  it('defaults, WHARF_* env, and flags over env', () => {
    const d = parseCli(['serve'], {});
    expect(d).toMatchObject({ command: 'serve', config: 'conf', httpPort: 8080, internalHttpPort: 8081, httpsPort: 8443, internalHttpsPort: 8444, adminPort: 9000, adminAddress: '127.0.0.1', dataDir: './data', logLevel: 'info', kubernetes: false });
    const e = parseCli(['serve'], { WHARF_HTTP_PORT: '9090', WHARF_ADMIN_ADDRESS: '0.0.0.0', WHARF_KUBERNETES: 'true', WHARF_LOG_LEVEL: 'debug' });
    expect(e).toMatchObject({ httpPort: 9090, adminAddress: '0.0.0.0', kubernetes: true, logLevel: 'debug' });
    expect(parseCli(['serve', '--http-port', '7070'], { WHARF_HTTP_PORT: '9090' }).httpPort).toBe(7070);
    expect(() => parseCli(['serve', '--http-port', 'eighty'], {})).toThrow(/--http-port: "eighty" is not a port number/);
    expect(() => parseCli(['serve', '--nope'], {})).toThrow(/nope/);
  });
});

describe('validate and routes', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    writeManifest(dir, 'config.yaml', configMaps());
    writeManifest(dir, 'hello.yaml', service('hello', 'http://127.0.0.1:9'));
  });

  it('validate exits 0 on a good folder and 1 with every problem named by file', () => {
    const ok = run(['validate', '--config', dir, '--data-dir', tempDir('wharf-data-')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/0 errors/);
    const bad = tempDir();
    writeManifest(bad, 'config.yaml', configMaps());
    writeManifest(bad, 'broken.yaml', 'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: broken\n  namespace: default\nspec:\n  traffic:\n    - percent: 150\n');
    writeManifest(bad, 'notyaml.yaml', 'a: [unclosed\n');
    const r = run(['validate', '--config', bad, '--data-dir', tempDir('wharf-data-')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/error: .*broken\.yaml#0.*Service default\/broken/);
    expect(r.out).toMatch(/error: .*notyaml\.yaml/);
    expect(r.out).toMatch(/[2-9]\d* errors|\b[2-9] errors/);
  });

  it('routes prints the host table', () => {
    const r = run(['routes', '--config', dir, '--data-dir', tempDir('wharf-data-')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^HOST\s+PLANE\s+PATH\s+HEADERS\s+SPLITS/);
    expect(r.out).toMatch(/hello\.default\.example\.com\s+external\+internal\s+\/\s+-\s+100% → hello-00001/);
    expect(r.out).toMatch(/hello\.default\.svc\.cluster\.local\s+internal/);
  });

  it('an unknown command prints usage and exits 2', () => {
    const r = run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command "frobnicate"[\s\S]*usage: wharf/);
  });
});

describe('serve and drain on SIGTERM', () => {
  let slow: Backend;
  let child: ChildProcess | null = null;
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await slow?.close();
  });

  it('finishes the in-flight request, answers 503 on /readyz while draining, exits 0', async () => {
    slow = await startBackend((_req, res) => setTimeout(() => res.end('done'), 1200));
    const dir = tempDir();
    writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'drain-delay': '600ms', 'drain-timeout': '10s' } }));
    writeManifest(dir, 'hello.yaml', service('hello', slow.origin));
    const [http, internal, admin] = [await deadPort(), await deadPort(), await deadPort()];
    child = spawn(
      process.execPath,
      [...CLI, 'serve', '--config', dir, '--data-dir', tempDir('wharf-data-'), '--http-port', String(http), '--internal-http-port', String(internal), '--admin-port', String(admin)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    // Ready once the first config is live.
    const t0 = Date.now();
    for (;;) {
      const ok = await get(admin, 'localhost', '/readyz').then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() - t0 > 20_000) throw new Error(`wharf did not become ready:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const inflight = get(http, 'hello.default.example.com');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    expect((await get(admin, 'localhost', '/readyz')).status).toBe(503);
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.body).toBe('done');
    expect(await exited).toBe(0);
    expect(log).toMatch(/draining/);
  });
});
