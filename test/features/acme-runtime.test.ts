// ACME through the whole runtime against a real ACME server (Debian's Pebble): auto-tls in config-wharf, a routed
// external host whose Service asks for the HTTP→HTTPS redirect, HTTP-01 answered by wharf's own external listener
// (ahead of routing and of the redirect), then HTTPS on wharf's TLS port with the issued certificate, verified
// against Pebble's root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import type tls from 'node:tls';
import { startBackend, get, type Backend } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';
import { startEdgeWharf, type EdgeWharf } from '../support/edge-wharf.js';
import { startPebble, freePort, type Pebble } from '../support/pebble.js';

const HOST = 'hello.default.example.test';
const ALPN_HOST = 'alpn.default.example.test';
let app: Backend;
let pebble: Pebble;
let w: EdgeWharf;
let dir: string;
let wharfConfig: Record<string, string>;

beforeAll(async () => {
  app = await startBackend('app');
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  pebble = await startPebble({ httpPort, tlsPort: httpsPort, certificateValidityPeriod: 3600 });
  dir = tempDir();
  wharfConfig = {
    'access-log': 'false',
    'auto-tls': 'true',
    'acme-directory-url': pebble.directoryUrl,
    'acme-ca-root': pebble.apiCaFile,
    'acme-email': 'ops@example.test',
  };
  writeManifest(dir, 'config.yaml', configMaps({ 'config-domain': { 'example.test': '' }, 'config-wharf': wharfConfig }));
  writeManifest(dir, 'hello.yaml', upstreamService({ name: 'hello', upstream: app.origin, annotations: { 'networking.knative.dev/http-protocol': 'Redirected' } }));
  w = await startEdgeWharf(dir, { ports: { external: httpPort, https: httpsPort }, manager: { pollMinMs: 100 } });
}, 30_000);

afterAll(async () => {
  await w?.stop();
  await pebble?.stop();
  await app?.close();
});

function httpsGet(root: string, host = HOST): Promise<{ status: number; body: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: w.https, servername: host, headers: { host }, ca: root, path: '/', agent: false }, (res) => {
      const issuer = (res.socket as tls.TLSSocket).getPeerX509Certificate()?.issuer ?? '';
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, issuer }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('auto-tls through the runtime', () => {
  it('issues a certificate for the routed host over HTTP-01 on wharf’s own listener and serves HTTPS with it', async () => {
    // Plain HTTP on that host is redirected...
    expect((await get(w.external, HOST, '/')).status).toBe(301);
    const root = await pebble.root();
    let last: unknown = null;
    for (let i = 0; i < 150; i++) {
      try {
        const r = await httpsGet(root);
        expect(r.status).toBe(200);
        expect(JSON.parse(r.body).backend).toBe('app');
        expect(r.issuer).toMatch(/Pebble/i);
        return;
      } catch (err) {
        last = err;
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    throw new Error(`no verified HTTPS after 30 s: ${String(last)}\n${JSON.stringify(w.tls.describe())}\n${pebble.output().slice(-2000)}`);
  }, 45_000);

  it('answers TLS-ALPN-01 on its own HTTPS listener (acme-tls/1 chosen by ALPN next to h2 and http/1.1)', async () => {
    writeManifest(dir, 'config.yaml', configMaps({ 'config-domain': { 'example.test': '' }, 'config-wharf': { ...wharfConfig, 'acme-challenge-types': 'tls-alpn-01' } }));
    writeManifest(dir, 'alpn.yaml', upstreamService({ name: 'alpn', upstream: app.origin }));
    const root = await pebble.root();
    let last: unknown = null;
    for (let i = 0; i < 150; i++) {
      try {
        const r = await httpsGet(root, ALPN_HOST);
        expect(r.status).toBe(200);
        expect(r.issuer).toMatch(/Pebble/i);
        const state = (w.tls.describe() as { acme: { host: string; challenge?: string }[] }).acme;
        expect(JSON.stringify(state)).toContain(ALPN_HOST);
        return;
      } catch (err) {
        last = err;
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    throw new Error(`no verified HTTPS for ${ALPN_HOST} after 30 s: ${String(last)}\n${JSON.stringify(w.tls.describe())}\n${pebble.output().slice(-2000)}`);
  }, 45_000);
});
