// TLS at the edge, through the real runtime and listeners: SNI picks among three DomainMapping certificates, a
// changed Secret is served after reload without a restart, h2 and HTTP/1.1 by ALPN, the HTTP→HTTPS redirect
// (301 on the external plane only, never for ACME challenge paths) and HTTP-01 answers ahead of routing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import https from 'node:https';
import http2 from 'node:http2';
import { X509Certificate } from 'node:crypto';
import { startBackend, get, type Backend } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService, domainMapping } from '../support/manifests.js';
import { startEdgeWharf, tlsSecret, type EdgeWharf } from '../support/edge-wharf.js';
import { makeCa, type TestCa } from '../support/tls-certs.js';

let app: Backend;
let w: EdgeWharf;
let ca: TestCa;
let dir: string;
const DOMAINS = ['one.example.org', 'two.example.org', 'three.example.org'];
const serials = new Map<string, string>();

const service = (name: string, upstream: string, annotations: Record<string, string> = {}) =>
  upstreamService({ name, upstream, annotations: { 'wharf.dev/test': 'yes', ...annotations } });
const mapping = (domain: string, secretName: string) => domainMapping({ domain, service: 'app', secretName });

async function secretFor(domain: string): Promise<string> {
  const pair = await ca.issue({ names: [domain] });
  serials.set(domain, new X509Certificate(pair.cert).serialNumber);
  return tlsSecret(`${domain.split('.')[0]}-tls`, 'default', pair);
}

/** The serial number of the certificate the HTTPS listener presents for `servername`. */
function servedSerial(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca: ca.cert, ALPNProtocols: ['http/1.1'] }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber ?? '';
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

function httpsGet(port: number, host: string, path = '/', anyName = false): Promise<{ status: number; body: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const opts: https.RequestOptions & tls.ConnectionOptions = { host: '127.0.0.1', port, path, servername: host, headers: { host }, ca: ca.cert, agent: false, ALPNProtocols: ['http/1.1'] };
    if (anyName) opts.checkServerIdentity = () => undefined;
    const req = https.request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), alpn: (res.socket as tls.TLSSocket).alpnProtocol ?? false }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  app = await startBackend('app');
  ca = await makeCa();
  dir = tempDir();
  writeManifest(
    dir,
    'config.yaml',
    configMaps({
      'config-network': { 'autocreate-cluster-domain-claims': 'true' },
      'config-wharf': { 'access-log': 'false', 'default-certificate': 'default/wild-tls' },
    }),
  );
  writeManifest(dir, 'wild.yaml', tlsSecret('wild-tls', 'default', await ca.issue({ names: ['*.default.example.com'] })));
  for (const d of DOMAINS) writeManifest(dir, `secret-${d}.yaml`, await secretFor(d));
  writeManifest(
    dir,
    'apps.yaml',
    [
      service('app', app.origin),
      service('secure', app.origin, { 'networking.knative.dev/http-protocol': 'Redirected' }),
      ...DOMAINS.map((d) => mapping(d, `${d.split('.')[0]}-tls`)),
    ].join('---\n'),
  );
  w = await startEdgeWharf(dir);
});

afterAll(async () => {
  await w?.stop();
  await app?.close();
});

describe('TLS listeners', () => {
  it('chooses the certificate by SNI among three DomainMapping secrets', async () => {
    for (const d of DOMAINS) expect(await servedSerial(w.https, d)).toBe(serials.get(d));
    expect(new Set(DOMAINS.map((d) => serials.get(d))).size).toBe(3);
    // A name without its own certificate gets the default one.
    const def = await servedSerial(w.https, 'app.default.example.com');
    expect(DOMAINS.map((d) => serials.get(d))).not.toContain(def);
  });

  it('serves HTTPS requests over HTTP/1.1 and h2 (ALPN) to the routed backend', async () => {
    const r = await httpsGet(w.https, 'two.example.org', '/hello');
    expect(r.status).toBe(200);
    expect(r.alpn).toBe('http/1.1');
    expect(JSON.parse(r.body).headers['x-forwarded-proto']).toBe('https');
    const session = http2.connect(`https://127.0.0.1:${w.https}`, { servername: 'three.example.org', ca: ca.cert });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const st = session.request({ ':path': '/h2', ':authority': 'three.example.org' });
        const chunks: Buffer[] = [];
        st.on('data', (c: Buffer) => chunks.push(c));
        st.on('end', () => resolve(Buffer.concat(chunks).toString()));
        st.on('error', reject);
        st.end();
      });
      expect(session.alpnProtocol).toBe('h2');
      expect(JSON.parse(body)).toMatchObject({ backend: 'app', url: '/h2' });
    } finally {
      session.close();
    }
  });

  it('serves the internal plane over TLS too', async () => {
    // No certificate names a cluster-local host here: the default one is served (chain still verified).
    const r = await httpsGet(w.internalHttps, 'app.default.svc.cluster.local', '/', true);
    expect(r.status).toBe(200);
  });

  it('picks up a changed Secret on reload, without a restart', async () => {
    const before = serials.get('one.example.org');
    writeManifest(dir, 'secret-one.example.org.yaml', await secretFor('one.example.org'));
    const after = serials.get('one.example.org')!;
    expect(after).not.toBe(before);
    let served = '';
    for (let i = 0; i < 60 && served !== after; i++) {
      await new Promise((r) => setTimeout(r, 50));
      served = await servedSerial(w.https, 'one.example.org');
    }
    expect(served).toBe(after);
    // The other certificates were untouched.
    expect(await servedSerial(w.https, 'two.example.org')).toBe(serials.get('two.example.org'));
  });
});

describe('HTTP → HTTPS redirect (networking.knative.dev/http-protocol: Redirected)', () => {
  const host = 'secure.default.example.com';

  it('301 to https on the external plane', async () => {
    const r = await get(w.external, host, '/a/b?c=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe(`https://${host}/a/b?c=1`);
  });

  it('no redirect on the internal plane', async () => {
    const r = await get(w.internal, host, '/a');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).backend).toBe('app');
  });

  it('no redirect for ACME challenge paths; a pending HTTP-01 token is answered by wharf itself', async () => {
    const r = await get(w.external, host, '/.well-known/acme-challenge/unknown-token');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).backend).toBe('app');
    w.tls.responder.addHttp('tok123', 'tok123.keyauth');
    try {
      const c = await get(w.external, host, '/.well-known/acme-challenge/tok123');
      expect(c.status).toBe(200);
      expect(c.body).toBe('tok123.keyauth');
      // Any host, routed or not: the CA validates names before wharf has routes for them.
      expect((await get(w.external, 'unrouted.example.net', '/.well-known/acme-challenge/tok123')).body).toBe('tok123.keyauth');
    } finally {
      w.tls.responder.removeHttp('tok123');
    }
  });

  it('the same host over HTTPS is served, not redirected', async () => {
    const r = await httpsGet(w.https, host, '/x');
    expect(r.status).toBe(200);
  });

  it('hosts without the annotation are not redirected', async () => {
    expect((await get(w.external, 'app.default.example.com')).status).toBe(200);
  });
});
