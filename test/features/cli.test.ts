// The `wharf` command as a user runs it: flags and env, validate/routes exit codes and output, and serve's drain on
// SIGTERM (a child process: in-flight request completes, /readyz turns 503, exit code 0).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, get, deadPort, type Backend } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';
import { runCli as run, spawnCli, waitReady, killCli, type CliProcess } from '../support/cli.js';
import { parseCli } from '../../src/cli.js';

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
  let wharf: CliProcess | null = null;
  afterAll(async () => {
    killCli(wharf);
    await slow?.close();
  });

  it('finishes the in-flight request, answers 503 on /readyz while draining, exits 0', async () => {
    slow = await startBackend((_req, res) => setTimeout(() => res.end('done'), 1200));
    const dir = tempDir();
    writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'drain-delay': '600ms', 'drain-timeout': '10s' } }));
    writeManifest(dir, 'hello.yaml', service('hello', slow.origin));
    const [http, internal, admin] = [await deadPort(), await deadPort(), await deadPort()];
    wharf = spawnCli(['serve', '--config', dir, '--data-dir', tempDir('wharf-data-'), '--http-port', String(http), '--internal-http-port', String(internal), '--admin-port', String(admin)]);
    await waitReady(wharf, admin);
    const inflight = get(http, 'hello.default.example.com');
    await new Promise((r) => setTimeout(r, 200));
    wharf.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    expect((await get(admin, 'localhost', '/readyz')).status).toBe(503);
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.body).toBe('done');
    expect(await wharf.exited).toBe(0);
    expect(wharf.log()).toMatch(/draining/);
  });
});
