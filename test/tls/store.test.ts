import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { CertStore } from '../../src/tls/store.js';
import { makeCa, type TestCa } from '../support/tls-certs.js';
import { tlsSnapshot } from '../support/tls-snapshot.js';

interface Pair { cert: string; key: string }

let ca: TestCa;
let a: Pair, b: Pair, wild: Pair, dflt: Pair, expired: Pair, other: Pair;

beforeAll(async () => {
  ca = await makeCa();
  [a, b, wild, dflt, other] = await Promise.all([
    ca.issue({ names: ['a.example.com'] }),
    ca.issue({ names: ['b.example.com'] }),
    ca.issue({ names: ['*.wild.example.com'] }),
    ca.issue({ names: ['default.example.com'], ips: ['127.0.0.1'] }),
    ca.issue({ names: ['a.example.com'] }),
  ]);
  expired = await ca.issue({ names: ['old.example.com'], notBefore: new Date(Date.now() - 10 * 86400e3), notAfter: new Date(Date.now() - 86400e3) });
});

const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;

interface Hello { fingerprint: string | null; alpn: string | false | null; cipher: string; protocol: string | null }

function hello(port: number, servername: string | undefined, extra: tls.ConnectionOptions = {}): Promise<Hello> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca: ca.cert, rejectUnauthorized: false, ...extra }, () => {
      const peer = s.getPeerCertificate();
      const res = { fingerprint: peer?.fingerprint256 ?? null, alpn: s.alpnProtocol, cipher: s.getCipher().name, protocol: s.getProtocol() };
      s.end();
      resolve(res);
    });
    s.on('error', reject);
  });
}

async function serve(store: CertStore): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer(store.serverOptions('external'), (sock) => sock.end());
  store.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('CertStore over real TLS sockets', () => {
  const store = new CertStore({ log: pino({ level: 'silent' }) });
  let server: tls.Server;
  let port: number;
  const base = (): { external: Record<string, string>; secrets: Record<string, Pair>; wharf: Record<string, string> } => ({
    external: { 'a.example.com': 'ns/a', 'b.example.com': 'ns/b', 'x.wild.example.com': 'ns/wild', 'c.example.com': 'ns/bad', 'old.example.com': 'ns/old' },
    secrets: { 'ns/a': a, 'ns/b': b, 'ns/wild': wild, 'ns/default': dflt, 'ns/bad': { cert: b.cert, key: a.key }, 'ns/old': expired },
    wharf: { 'default-certificate': 'ns/default' },
  });

  beforeAll(async () => {
    store.update(tlsSnapshot(base()));
    ({ server, port } = await serve(store));
  });
  afterAll(() => {
    server.close();
    store.close();
  });

  it('selects among three certificates by SNI: exact host, second host, wildcard', async () => {
    expect((await hello(port, 'a.example.com')).fingerprint).toBe(fp(a.cert));
    expect((await hello(port, 'B.Example.COM.')).fingerprint).toBe(fp(b.cert));
    // y.wild is not a routed host: the wildcard certificate still covers it.
    expect((await hello(port, 'y.wild.example.com')).fingerprint).toBe(fp(wild.cert));
    expect((await hello(port, 'x.wild.example.com')).fingerprint).toBe(fp(wild.cert));
  });

  it('serves a certificate chain that verifies against the issuing CA', async () => {
    const h = await hello(port, 'a.example.com', { rejectUnauthorized: true });
    expect(h.fingerprint).toBe(fp(a.cert));
  });

  it('falls back to the default certificate for unknown names and for clients without SNI', async () => {
    expect((await hello(port, 'unknown.example.org')).fingerprint).toBe(fp(dflt.cert));
    expect((await hello(port, undefined)).fingerprint).toBe(fp(dflt.cert));
  });

  it('reports a bad pair and keeps serving every other certificate', async () => {
    const p = store.problems.find((x) => x.object === 'Secret ns/bad');
    expect(p?.severity).toBe('error');
    expect(p?.message).toMatch(/does not match/);
    expect((await hello(port, 'c.example.com')).fingerprint).toBe(fp(dflt.cert));
    expect((await hello(port, 'a.example.com')).fingerprint).toBe(fp(a.cert));
  });

  it('flags an expired certificate', () => {
    const p = store.problems.find((x) => x.object === 'Secret ns/old');
    expect(p?.severity).toBe('warning');
    expect(p?.message).toMatch(/expired/);
  });

  it('negotiates h2 or http/1.1 by ALPN and refuses TLS below 1.2', async () => {
    expect((await hello(port, 'a.example.com', { ALPNProtocols: ['h2', 'http/1.1'] })).alpn).toBe('h2');
    expect((await hello(port, 'a.example.com', { ALPNProtocols: ['http/1.1'] })).alpn).toBe('http/1.1');
    await expect(hello(port, 'a.example.com', { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
  });

  it('hot-swaps certificates, default and ciphers on update without restarting the listener', async () => {
    const ctxBefore = store.secureContextFor('b.example.com', 'external');
    const spec = base();
    spec.secrets['ns/a'] = other;
    spec.wharf = { 'default-certificate': 'ns/b', 'tls-cipher-suites': 'ECDHE-ECDSA-AES128-GCM-SHA256' };
    store.update(tlsSnapshot({ ...spec, version: 2 }));
    expect((await hello(port, 'a.example.com')).fingerprint).toBe(fp(other.cert));
    expect((await hello(port, undefined)).fingerprint).toBe(fp(b.cert));
    const h12 = await hello(port, 'b.example.com', { maxVersion: 'TLSv1.2' });
    expect(h12.cipher).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
    // The cipher change rebuilt contexts; an unchanged pair under unchanged options reuses its context.
    expect(store.secureContextFor('b.example.com', 'external')).not.toBe(ctxBefore);
    const ctx = store.secureContextFor('b.example.com', 'external');
    store.update(tlsSnapshot({ ...spec, version: 3 }));
    expect(store.secureContextFor('b.example.com', 'external')).toBe(ctx);
    expect(server.listening).toBe(true);
    store.update(tlsSnapshot(base()));
  });

  it('keeps planes apart: a host secret on the internal plane is not served on the external one', () => {
    const s = new CertStore({ log: pino({ level: 'silent' }) });
    s.update(tlsSnapshot({ internal: { 'svc.ns.svc.cluster.local': 'ns/a' }, secrets: { 'ns/a': a } }));
    expect(s.specificFor('svc.ns.svc.cluster.local', 'internal')?.id).toBe('ns/a');
    expect(s.lookup('svc.ns.svc.cluster.local', 'external')).toBeUndefined();
    s.close();
  });
});

describe('CertStore without a default certificate', () => {
  it('fails the handshake for a name it has no certificate for', async () => {
    const store = new CertStore({ log: pino({ level: 'silent' }) });
    store.update(tlsSnapshot({ external: { 'a.example.com': 'ns/a' }, secrets: { 'ns/a': a } }));
    const { server, port } = await serve(store);
    try {
      expect((await hello(port, 'a.example.com')).fingerprint).toBe(fp(a.cert));
      await expect(hello(port, 'nope.example.com')).rejects.toThrow();
      expect(store.problems).toEqual([]);
    } finally {
      server.close();
      store.close();
    }
  });

  it('uses the catch-all rule\'s secret for unknown names on its plane only', async () => {
    const store = new CertStore({ log: pino({ level: 'silent' }) });
    store.update(tlsSnapshot({ external: { 'a.example.com': 'ns/a' }, catchAllSecret: 'ns/b', secrets: { 'ns/a': a, 'ns/b': b } }));
    expect(store.lookup('anything.example.org', 'external')?.id).toBe('ns/b');
    expect(store.lookup('anything.example.org', 'internal')).toBeUndefined();
    const { server, port } = await serve(store);
    try {
      expect((await hello(port, 'anything.example.org')).fingerprint).toBe(fp(b.cert));
      expect((await hello(port, 'a.example.com')).fingerprint).toBe(fp(a.cert));
    } finally {
      server.close();
      store.close();
    }
  });

  it('reports a missing secret and a bad config value with their names', () => {
    const store = new CertStore({ log: pino({ level: 'silent' }) });
    const problems = store.update(tlsSnapshot({ external: { 'a.example.com': 'ns/missing' }, wharf: { 'tls-min-version': '1.0' } }));
    expect(problems.map((p) => p.object)).toEqual(['ConfigMap config-wharf', 'Secret ns/missing']);
    expect(problems[0]!.field).toBe('data.tls-min-version');
    expect(store.settings.minVersion).toBe('TLSv1.2');
    store.close();
  });
});
