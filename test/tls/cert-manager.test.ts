// CertManager logic with an in-process fake issuer and a fake clock: eligibility, renewal window, backoff,
// never dropping a valid certificate, and the handshake-time gate (routes, rate limits, negative cache).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CertStore } from '../../src/tls/store.js';
import { CertManager, autoTlsHosts } from '../../src/tls/acme/manager.js';
import type { Issuer } from '../../src/tls/acme/issuer.js';
import { registry } from '../../src/observability/metrics.js';
import { makeCa, type TestCa } from '../support/tls-certs.js';
import { tlsSnapshot, type TlsSnapshotSpec } from '../support/tls-snapshot.js';

const silent = pino({ level: 'silent' });
const DAY = 86_400_000;
const T0 = Date.UTC(2030, 0, 1);
let ca: TestCa;

beforeAll(async () => {
  ca = await makeCa();
});

class FakeIssuer implements Issuer {
  calls: string[] = [];
  fail = false;
  gate: Promise<void> | null = null;
  constructor(private readonly clock: { now: number }) {}
  async issue(domains: string[]) {
    this.calls.push(domains[0]!);
    if (this.gate) await this.gate;
    if (this.fail) throw new Error('CA says no');
    const notBefore = new Date(this.clock.now);
    const notAfter = new Date(this.clock.now + 90 * DAY);
    const { cert, key } = await ca.issue({ names: domains, notBefore, notAfter });
    return { cert, key, notBefore, notAfter };
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(spec: TlsSnapshotSpec, opts: { random?: number } = {}) {
  const clock = { now: T0 };
  const issuer = new FakeIssuer(clock);
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-cm-'));
  const store = new CertStore({ log: silent, now: () => clock.now });
  const manager = new CertManager({
    store,
    dataDir,
    timers: false,
    log: silent,
    now: () => clock.now,
    random: () => opts.random ?? 0,
    backoffBaseMs: 60_000,
    issuerFactory: () => issuer,
  });
  cleanups.push(() => manager.stop(), () => store.close(), () => rm(dataDir, { recursive: true, force: true }));
  const apply = (s: TlsSnapshotSpec) => {
    const snap = tlsSnapshot(s);
    store.update(snap);
    manager.update(snap);
  };
  await manager.start();
  apply(spec);
  return { clock, issuer, store, manager, apply };
}

const on = (extra: Record<string, string> = {}) => ({ 'auto-tls': 'true', 'acme-directory-url': 'https://ca.invalid/dir', ...extra });

async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name) as { values: { labels: Record<string, string>; value: number }[] } | undefined;
  return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
}

describe('autoTlsHosts', () => {
  it('takes external routed hosts without a TLS secret, never cluster-local names or IPs', () => {
    const snap = tlsSnapshot({
      external: { 'a.example.com': null, 'b.example.com': 'ns/b', 'svc.ns.svc.cluster.local': null, '10.0.0.1': null, localhost: null },
      internal: { 'c.example.com': null, 'hello.default.svc': null },
    });
    expect(autoTlsHosts(snap)).toEqual(['a.example.com']);
  });
});

describe('CertManager', () => {
  it('orders eagerly for eligible hosts and publishes them into the store', async () => {
    const { issuer, store, manager } = await setup({ external: { 'a.example.com': null, 'b.example.com': null, 'own.example.com': 'ns/x' }, internal: { 'in.example.com': null }, wharf: on() });
    await manager.runDue();
    expect(issuer.calls.sort()).toEqual(['a.example.com', 'b.example.com']);
    expect(store.specificFor('a.example.com', 'external')?.source).toBe('acme');
    // Public certificates are never served on the internal plane.
    expect(store.specificFor('a.example.com', 'internal')).toBeUndefined();
    expect(await metric('wharf_certificates', { source: 'acme', state: 'valid' })).toBe(2);
    const expiry = await metric('wharf_certificate_expiry_seconds', { source: 'acme' });
    expect(expiry).toBeGreaterThan(80 * 86400);
  });

  it('does nothing while auto-tls is off and withdraws ACME certificates when it is turned off', async () => {
    const { issuer, store, manager, apply } = await setup({ external: { 'a.example.com': null }, wharf: {} });
    await manager.runDue();
    expect(issuer.calls).toEqual([]);
    expect(store.onDemand).toBeNull();
    apply({ external: { 'a.example.com': null }, wharf: on() });
    await manager.runDue();
    expect(store.issuedFor('a.example.com')).toBeDefined();
    apply({ external: { 'a.example.com': null }, wharf: {} });
    expect(store.issuedFor('a.example.com')).toBeUndefined();
    expect(store.onDemand).toBeNull();
  });

  it('renews when a third of the lifetime is left, jitter moving it earlier', async () => {
    const { clock, issuer, manager } = await setup({ external: { 'a.example.com': null }, wharf: on() }, { random: 1 });
    await manager.runDue();
    expect(issuer.calls.length).toBe(1);
    // 90-day cert: renew at 60 days, minus up to a day of jitter (random() = 1 → a full day earlier).
    clock.now = T0 + 59 * DAY - 60_000;
    await manager.runDue();
    expect(issuer.calls.length).toBe(1);
    clock.now = T0 + 59 * DAY + 1000;
    await manager.runDue();
    expect(issuer.calls.length).toBe(2);
    expect(manager.describe()[0]!.notAfter).toBe(new Date(T0 + 59 * DAY + 1000 + 90 * DAY).toISOString());
  });

  it('keeps serving a valid certificate when renewal fails, and backs off before retrying', async () => {
    const { clock, issuer, store, manager } = await setup({ external: { 'a.example.com': null }, wharf: on() });
    await manager.runDue();
    const first = store.issuedFor('a.example.com')!;
    issuer.fail = true;
    clock.now = T0 + 61 * DAY;
    await manager.runDue();
    expect(issuer.calls.length).toBe(2);
    expect(store.issuedFor('a.example.com')).toBe(first);
    expect(manager.describe()[0]!.lastError).toMatch(/CA says no/);
    expect(await metric('wharf_certificates', { source: 'acme', state: 'renewing' })).toBe(1);
    await manager.runDue(); // inside the backoff: no new order
    expect(issuer.calls.length).toBe(2);
    clock.now += 2 * 60_000; // first backoff is 1 min (±25 %)
    await manager.runDue();
    expect(issuer.calls.length).toBe(3);
    clock.now += 60_000; // second backoff is 2 min: still waiting
    await manager.runDue();
    expect(issuer.calls.length).toBe(3);
    issuer.fail = false;
    clock.now += 2 * 60_000;
    await manager.runDue();
    expect(issuer.calls.length).toBe(4);
    expect(store.issuedFor('a.example.com')).not.toBe(first);
    expect(manager.describe()[0]!.failures).toBe(0);
  });

  it('handshake-time orders: only routed names, one shared order per name, then the certificate', async () => {
    const { issuer, store, manager } = await setup({ external: { 'a.example.com': null }, wharf: on({ 'acme-issuance': 'on-demand' }) });
    await manager.runDue();
    expect(issuer.calls).toEqual([]);
    expect(manager.obtain('unrouted.example.com')).toBeNull();
    let open!: () => void;
    issuer.gate = new Promise((r) => (open = r));
    const p1 = manager.obtain('A.example.com.');
    const p2 = manager.obtain('a.example.com');
    expect(p1).not.toBeNull();
    expect(p2).not.toBeNull();
    open();
    await Promise.all([p1, p2]);
    expect(issuer.calls).toEqual(['a.example.com']);
    expect(store.specificFor('a.example.com', 'external')?.source).toBe('acme');
  });

  it('handshake-time orders are rate limited globally and per parent domain', async () => {
    const hosts = Object.fromEntries(['a', 'b', 'c', 'd'].map((h) => [`${h}.one.example`, null]).concat([['x.two.example', null]]));
    const { clock, issuer, manager } = await setup({ external: hosts, wharf: on({ 'acme-issuance': 'on-demand', 'acme-on-demand-per-minute': '3', 'acme-on-demand-per-domain-per-hour': '2' }) });
    await manager.obtain('a.one.example');
    await manager.obtain('b.one.example');
    expect(manager.obtain('c.one.example')).toBeNull(); // 2 per hour under one.example
    await manager.obtain('x.two.example');
    expect(issuer.calls.length).toBe(3);
    clock.now += 2 * 60_000; // the per-minute window has passed, the per-domain hour has not
    expect(manager.obtain('d.one.example')).toBeNull();
    clock.now += 3_600_000;
    await manager.obtain('d.one.example');
    expect(issuer.calls).toEqual(['a.one.example', 'b.one.example', 'x.two.example', 'd.one.example']);
  });

  it('a failed handshake-time order is negatively cached', async () => {
    const { clock, issuer, manager } = await setup({ external: { 'a.example.com': null }, wharf: on({ 'acme-issuance': 'on-demand', 'acme-negative-cache': '10m' }) });
    issuer.fail = true;
    await manager.obtain('a.example.com');
    expect(issuer.calls.length).toBe(1);
    clock.now += 5 * 60_000;
    expect(manager.obtain('a.example.com')).toBeNull();
    clock.now += 6 * 60_000;
    issuer.fail = false;
    await manager.obtain('a.example.com');
    expect(issuer.calls.length).toBe(2);
    expect(await metric('wharf_acme_on_demand_total', { decision: 'negative_cached' })).toBeGreaterThanOrEqual(1);
  });
});

describe('CertManager restart', () => {
  it('reuses certificates from the data dir even when the first snapshot arrives before loading finished', async () => {
    const { issuer, manager, store } = await setup({ external: { 'a.example.com': null }, wharf: on() });
    await manager.runDue();
    expect(issuer.calls.length).toBe(1);
    const dataDir = manager.storage.dir.replace(/[\\/]tls$/, '');
    const store2 = new CertStore({ log: silent });
    let orders = 0;
    const m2 = new CertManager({ store: store2, dataDir, timers: false, log: silent, issuerFactory: () => ({ issue: () => (orders++, Promise.reject(new Error('unexpected'))) }) });
    cleanups.push(() => m2.stop(), () => store2.close());
    const snap = tlsSnapshot({ external: { 'a.example.com': null }, wharf: on() });
    store2.update(snap);
    m2.update(snap); // no start(): update begins loading itself
    await m2.runDue();
    expect(orders).toBe(0);
    expect(store2.issuedFor('a.example.com')?.cert).toBe(store.issuedFor('a.example.com')?.cert);
  });
});

describe('TlsRuntime', () => {
  it('feeds snapshots to the store and the manager, and serves issued certificates by SNI', async () => {
    const { TlsRuntime } = await import('../../src/tls/tls-runtime.js');
    const clock = { now: Date.now() };
    const issuer = new FakeIssuer(clock);
    const dataDir = await mkdtemp(join(tmpdir(), 'wharf-tr-'));
    const rt = new TlsRuntime({ dataDir, log: silent, manager: { timers: false, issuerFactory: () => issuer } });
    cleanups.push(() => rt.stop(), () => rm(dataDir, { recursive: true, force: true }));
    await rt.start();
    const problems = rt.update(tlsSnapshot({ external: { 'a.example.com': null, 'b.example.com': 'ns/missing' }, wharf: on() }));
    expect(problems.map((p) => p.object)).toEqual(['Secret ns/missing']);
    await rt.certs.runDue();
    expect(issuer.calls).toEqual(['a.example.com']);
    expect(rt.store.secureContextFor('a.example.com', 'external')).toBe(rt.store.issuedFor('a.example.com')!.context);
    expect(rt.serverOptions('external').allowHTTP1).toBe(true);
    expect(JSON.stringify(rt.describe())).toContain('acme:a.example.com');
  });
});
