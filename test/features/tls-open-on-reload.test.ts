// The TLS ports open only once the config has a certificate source, and the reload that adds the first TLS
// Secret opens them without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { startBackend, type Backend } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';
import { startEdgeWharf, tlsSecret, type EdgeWharf } from '../support/edge-wharf.js';
import { makeCa } from '../support/tls-certs.js';

let app: Backend;
let w: EdgeWharf;
let dir: string;

beforeAll(async () => {
  app = await startBackend('app');
  dir = tempDir();
  writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false' } }));
  writeManifest(dir, 'app.yaml', upstreamService({ name: 'app', upstream: app.origin }));
  w = await startEdgeWharf(dir);
});

afterAll(async () => {
  await w?.stop();
  await app?.close();
});

describe('TLS listeners follow the certificate sources', () => {
  it('stay closed without a certificate source, open on the reload that adds a default certificate', async () => {
    expect(w.runtime.addresses().https).toBeUndefined();
    expect(w.runtime.tlsServers).toHaveLength(0);
    const ca = await makeCa();
    const pair = await ca.issue({ names: ['*.default.example.com'] });
    writeManifest(dir, 'secret.yaml', tlsSecret('wild', 'default', pair));
    writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false', 'default-certificate': 'default/wild' } }));
    let port: number | undefined;
    for (let i = 0; i < 80 && port === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      port = w.runtime.addresses().https?.port;
    }
    expect(port).toBeGreaterThan(0);
    const serial = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'app.default.example.com', ca: ca.cert }, () => {
        resolve(s.getPeerX509Certificate()?.serialNumber ?? '');
        s.end();
      });
      s.on('error', reject);
    });
    expect(serial).toBe(new X509Certificate(pair.cert).serialNumber);
  });
});
