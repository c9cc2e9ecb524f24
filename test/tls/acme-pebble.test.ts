// ACME against a real ACME server (Debian's Pebble): issuance over HTTP-01 and TLS-ALPN-01 answered by our own
// listeners, HTTPS verified against Pebble's root, renewal, handshake-time issuance and refusal of unrouted names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { CertStore } from '../../src/tls/store.js';
import { CertManager } from '../../src/tls/acme/manager.js';
import { AcmeIssuer } from '../../src/tls/acme/acme-issuer.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { tlsSnapshot } from '../support/tls-snapshot.js';

const silent = pino({ level: 'silent' });
const EAGER = 'hello.default.example.test';
const LAZY = 'lazy.default.example.test';
const ALPN = 'alpn.default.example.test';
const UNROUTED = 'unrouted.example.test';

let pebble: Pebble;
let root: string;
let dataDir: string;
let httpServer: http.Server;
let httpsServer: http2.Http2SecureServer;
let store: CertStore;
let manager: CertManager;
let issuers: AcmeIssuer[] = [];
let clockOffset = 0;

const orders = (): number => issuers.reduce((n, i) => n + i.orders, 0);

function listen(s: http.Server | http2.Http2SecureServer): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

function wharfConfig(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'auto-tls': 'true',
    'acme-directory-url': pebble.directoryUrl,
    'acme-ca-root': pebble.apiCaFile,
    'acme-email': 'ops@example.test',
    ...extra,
  };
}

function httpsGet(host: string): Promise<{ body: string; serial: string }> {
  const port = (httpsServer.address() as AddressInfo).port;
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, servername: host, headers: { host }, ca: root, path: '/', agent: false }, (res) => {
      const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ body, serial }));
    });
    req.on('error', reject);
    req.end();
  });
}

function h2Get(host: string): Promise<string> {
  const port = (httpsServer.address() as AddressInfo).port;
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername: host, ca: root });
    session.on('error', reject);
    const req = session.request({ ':path': '/', ':authority': host });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      session.close();
      resolve(body);
    });
    req.on('error', reject);
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'wharf-acme-'));
  store = new CertStore({ log: silent });
  manager = new CertManager({
    store,
    dataDir,
    timers: false,
    pollMinMs: 100,
    now: () => Date.now() + clockOffset,
    log: silent,
    issuerFactory: (s, ctx) => {
      const i = new AcmeIssuer({ directoryUrl: s.directoryUrl, email: s.email, caRoot: ctx.caRoot, challenges: s.challenges, storage: ctx.storage, responder: ctx.responder, pollMinMs: 100, log: silent });
      issuers.push(i);
      return i;
    },
  });
  // The HTTP listener answers HTTP-01 before anything else, as wharf's own listener does.
  httpServer = http.createServer((req, res) => {
    if (manager.responder.handle(req, res)) return;
    res.writeHead(404).end();
  });
  // One TLS port for h2, HTTP/1.1 and TLS-ALPN-01, as the data plane mounts it.
  httpsServer = http2.createSecureServer(store.http2ServerOptions('external'), (req, res) => res.end(`hello ${req.headers.host ?? req.headers[':authority']}`));
  store.attach(httpsServer);
  const [httpPort, tlsPort] = await Promise.all([listen(httpServer), listen(httpsServer)]);
  pebble = await startPebble({ httpPort, tlsPort, certificateValidityPeriod: 3600 });
  root = await pebble.root();
}, 30_000);

afterAll(async () => {
  manager?.stop();
  store?.close();
  httpServer?.close();
  httpsServer?.close();
  await pebble?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('ACME with Pebble', () => {
  it('gets a certificate for a routed host over HTTP-01 and serves HTTPS with it, verified against Pebble’s root', async () => {
    const snap = tlsSnapshot({ external: { [EAGER]: null }, wharf: wharfConfig() });
    store.update(snap);
    await manager.start();
    manager.update(snap);
    await manager.runDue();
    const state = manager.describe().find((h) => h.host === EAGER);
    expect(state?.lastError ?? null, pebble.output()).toBeNull();
    expect(store.issuedFor(EAGER)).toBeDefined();
    const res = await httpsGet(EAGER);
    expect(res.body).toBe(`hello ${EAGER}`);
    expect(await h2Get(EAGER)).toBe(`hello ${EAGER}`);
    // Account and certificate persist in the data dir.
    const account = JSON.parse(await readFile(join(dataDir, 'tls', 'account.json'), 'utf8'));
    expect(account.accountUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect(existsSync(join(dataDir, 'tls', 'certs', `${EAGER}.crt`))).toBe(true);
    const leaf = new X509Certificate(await readFile(join(dataDir, 'tls', 'certs', `${EAGER}.crt`), 'utf8'));
    expect(leaf.subjectAltName).toContain(`DNS:${EAGER}`);
  }, 30_000);

  it('renews once a third of the lifetime is left, and serves the new certificate without a restart', async () => {
    const before = await httpsGet(EAGER);
    const n = orders();
    await manager.runDue(); // not due yet: no order
    expect(orders()).toBe(n);
    clockOffset = 45 * 60_000; // 45 of 60 minutes gone: inside the renewal window
    await manager.runDue();
    clockOffset = 0;
    expect(orders()).toBe(n + 1);
    const after = await httpsGet(EAGER);
    expect(after.body).toBe(`hello ${EAGER}`);
    expect(after.serial).not.toBe(before.serial);
    const onDisk = new X509Certificate(await readFile(join(dataDir, 'tls', 'certs', `${EAGER}.crt`), 'utf8'));
    expect(onDisk.serialNumber).toBe(after.serial);
  }, 30_000);

  it('issues during the handshake for a routed host, and refuses an unrouted name without an ACME order', async () => {
    const snap = tlsSnapshot({ version: 2, external: { [EAGER]: null, [LAZY]: null }, wharf: wharfConfig({ 'acme-issuance': 'on-demand' }) });
    store.update(snap);
    manager.update(snap);
    await manager.runDue(); // on-demand mode: nothing ordered ahead of a handshake
    const n = orders();
    expect(store.issuedFor(LAZY)).toBeUndefined();
    const res = await httpsGet(LAZY);
    expect(res.body).toBe(`hello ${LAZY}`);
    expect(orders()).toBe(n + 1);
    // No default certificate: an unrouted name fails the handshake, and no order is placed.
    await expect(httpsGet(UNROUTED)).rejects.toThrow();
    expect(orders()).toBe(n + 1);
    expect(store.issuedFor(UNROUTED)).toBeUndefined();
  }, 30_000);

  it('limits handshake-time orders per parent domain: the next name fails its handshake with no order', async () => {
    const [r1, r2] = ['one.rl.example.test', 'two.rl.example.test'];
    const snap = tlsSnapshot({ version: 4, external: { [EAGER]: null, [LAZY]: null, [r1]: null, [r2]: null }, wharf: wharfConfig({ 'acme-issuance': 'on-demand', 'acme-on-demand-per-domain-per-hour': '1' }) });
    store.update(snap);
    manager.update(snap);
    const n = orders();
    expect((await httpsGet(r1)).body).toBe(`hello ${r1}`);
    expect(orders()).toBe(n + 1);
    await expect(httpsGet(r2)).rejects.toThrow();
    expect(orders()).toBe(n + 1);
  }, 30_000);

  it('answers TLS-ALPN-01 on the TLS listener', async () => {
    const snap = tlsSnapshot({ version: 3, external: { [EAGER]: null, [LAZY]: null, [ALPN]: null }, wharf: wharfConfig({ 'acme-challenge-types': 'tls-alpn-01' }) });
    store.update(snap);
    manager.update(snap);
    await manager.runDue();
    const state = manager.describe().find((h) => h.host === ALPN);
    expect(state?.lastError ?? null, pebble.output()).toBeNull();
    expect((await httpsGet(ALPN)).body).toBe(`hello ${ALPN}`);
    expect(manager.responder.pending).toBe(0);
  }, 30_000);

  it('loads persisted certificates after a restart without ordering again', async () => {
    const store2 = new CertStore({ log: silent });
    let made = 0;
    const m2 = new CertManager({
      store: store2,
      dataDir,
      timers: false,
      log: silent,
      issuerFactory: () => ({
        issue: () => {
          made++;
          return Promise.reject(new Error('no orders expected'));
        },
      }),
    });
    const snap = tlsSnapshot({ external: { [EAGER]: null }, wharf: wharfConfig() });
    store2.update(snap);
    await m2.start();
    m2.update(snap);
    await m2.runDue();
    expect(made).toBe(0);
    expect(store2.issuedFor(EAGER)?.cert).toBe(store.issuedFor(EAGER)?.cert);
    m2.stop();
    store2.close();
  });
});
