// `wharf serve` as a user runs it (child process) with a TLS Secret: the HTTPS port opens and serves the route
// with that certificate; `wharf validate` reports a Secret whose key does not match its certificate.
import { afterAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { startBackend, deadPort, get, type Backend } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';
import { runCli, spawnCli, waitReady, killCli, type CliProcess } from '../support/cli.js';
import { tlsSecret } from '../support/edge-wharf.js';
import { makeCa } from '../support/tls-certs.js';

const HOST = 'hello.default.example.com';

let wharf: CliProcess | null = null;
let app: Backend | null = null;

afterAll(async () => {
  killCli(wharf);
  await app?.close();
});

describe('wharf serve with TLS', () => {
  it('opens --https-port and serves the route with the Secret’s certificate', async () => {
    app = await startBackend('app');
    const ca = await makeCa();
    const dir = tempDir();
    writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false', 'default-certificate': 'default/hello-tls' } }));
    writeManifest(dir, 'tls.yaml', tlsSecret('hello-tls', 'default', await ca.issue({ names: ['*.default.example.com'] })));
    writeManifest(dir, 'hello.yaml', upstreamService({ name: 'hello', upstream: app.origin }));
    const [http, internal, admin, httpsPort, internalHttps] = [await deadPort(), await deadPort(), await deadPort(), await deadPort(), await deadPort()];
    wharf = spawnCli(['serve', '--config', dir, '--data-dir', tempDir('wharf-data-'), '--http-port', String(http), '--internal-http-port', String(internal),
      '--admin-port', String(admin), '--https-port', String(httpsPort), '--internal-https-port', String(internalHttps)]);
    await waitReady(wharf, admin);
    const body = await new Promise<string>((res, rej) => {
      const req = https.request({ host: '127.0.0.1', port: httpsPort, servername: HOST, headers: { host: HOST }, ca: ca.cert, agent: false }, (r) => {
        let b = '';
        r.on('data', (c) => (b += c));
        r.on('end', () => res(b));
      });
      req.on('error', rej);
      req.end();
    });
    expect(JSON.parse(body)).toMatchObject({ backend: 'app' });
    expect(JSON.parse(body).headers['x-forwarded-proto']).toBe('https');
    const certs = await get(admin, 'localhost', '/debug/certificates');
    expect(certs.status).toBe(200);
    expect(certs.body).toContain('*.default.example.com');
  }, 40_000);

  it('validate reports a Secret whose key does not belong to its certificate', async () => {
    const ca = await makeCa();
    const a = await ca.issue({ names: ['a.example.org'] });
    const b = await ca.issue({ names: ['b.example.org'] });
    const dir = tempDir();
    writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'default-certificate': 'default/mixed' } }));
    writeManifest(dir, 'tls.yaml', tlsSecret('mixed', 'default', { cert: a.cert, key: b.key }));
    const r = runCli(['validate', '--config', dir, '--data-dir', tempDir('wharf-data-')]);
    expect(r.out).toMatch(/Secret default\/mixed/);
    expect(r.code).toBe(1);
  }, 40_000);
});
