// Keeps ACME certificates for external hosts: loads them from the data dir, orders missing ones (eagerly on reload,
// or during the first handshake), renews at one third of the lifetime left (with jitter), backs off on failure and
// never drops a certificate that is still valid. Handshake-time orders are allowed only for routed external hosts,
// under a global and a per-parent-domain limit and a negative cache: wharf's answer to Caddy's "ask".
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Snapshot } from '../../model/snapshot.js';
import { isFullyQualifiedDomainName } from '../../model/hosts.js';
import { child } from '../../observability/logger.js';
import { parseTlsSettings, type AcmeSettings } from '../config.js';
import { checkPair } from '../pem.js';
import { registerCertStates, onDemandDecisions, type CertStateEntry } from '../metrics.js';
import { normalizeServername, type CertStore, type OnDemandHook } from '../store.js';
import { AcmeIssuer } from './acme-issuer.js';
import { ChallengeResponder } from './challenges.js';
import type { Issuer } from './issuer.js';
import { WindowLimiter, parentDomain } from './limits.js';
import { CertStorage } from './storage.js';

export interface IssuerContext {
  storage: CertStorage;
  responder: ChallengeResponder;
  /** Contents of `acme-ca-root`, read when the issuer is built. */
  caRoot: string | null;
  pollMinMs?: number;
}

export interface CertManagerOptions {
  store: CertStore;
  dataDir: string;
  responder?: ChallengeResponder;
  /** Builds the issuer for the current settings (default: acme-client). Called again when the settings change. */
  issuerFactory?: (settings: AcmeSettings, ctx: IssuerContext) => Issuer;
  now?: () => number;
  random?: () => number;
  /** First retry delay after a failed order, doubled per failure up to `backoffMaxMs`. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** How long a TLS handshake waits for a handshake-time order before falling back to the default certificate. */
  onDemandWaitMs?: number;
  /** Run due orders and renewals from timers (default). Tests turn it off and call `runDue()`. */
  timers?: boolean;
  pollMinMs?: number;
  log?: Logger;
}

interface HostState {
  host: string;
  /** Routed on the external plane with no TLS secret of its own, in the current snapshot. */
  eligible: boolean;
  cert: { notBefore: number; notAfter: number; renewAt: number } | null;
  inflight: Promise<void> | null;
  failures: number;
  nextAttempt: number;
  lastError: string | null;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Hosts that may get a public certificate: external, routed, no TLS secret, a real DNS name outside the cluster domain. */
export function autoTlsHosts(snapshot: Snapshot): string[] {
  const cd = snapshot.config.clusterDomain || 'cluster.local';
  const out: string[] = [];
  for (const [host, vh] of snapshot.planes.external.hosts) {
    if (vh.visibility !== 'ExternalIP' || vh.tlsSecret) continue;
    if (!isFullyQualifiedDomainName(host) || IPV4.test(host)) continue;
    if (host.endsWith(`.${cd}`) || host.endsWith('.svc')) continue;
    out.push(host);
  }
  return out;
}

export class CertManager implements OnDemandHook {
  readonly responder: ChallengeResponder;
  readonly storage: CertStorage;
  settings: AcmeSettings;

  private readonly store: CertStore;
  private readonly hosts = new Map<string, HostState>();
  private readonly negative = new Map<string, number>();
  private readonly global = new WindowLimiter(10, 60_000);
  private readonly perDomain = new WindowLimiter(20, 3_600_000);
  private issuer: Issuer | null = null;
  private issuerKey = '';
  private stored = new Map<string, { cert: string; key: string }>();
  private loaded: Promise<void> | null = null;
  private lastSnapshot: Snapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly unregister: () => void;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: CertManagerOptions) {
    this.store = opts.store;
    this.responder = opts.responder ?? new ChallengeResponder();
    this.storage = new CertStorage(opts.dataDir);
    this.settings = parseTlsSettings(undefined).settings.acme;
    this.log = opts.log ?? child('acme');
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.store.alpnChallenges = this.responder;
    this.unregister = registerCertStates({ certStates: () => this.states(this.now()) });
  }

  /** Load certificates persisted in the data dir. Call once before (or right after) the first `update`. */
  start(): Promise<void> {
    this.loaded ??= this.storage.loadCerts().then(
      (certs) => {
        for (const c of certs) this.stored.set(c.host, { cert: c.cert, key: c.key });
        this.log.info({ count: certs.length, dir: this.storage.certsDir }, 'loaded stored certificates');
        if (this.lastSnapshot) this.update(this.lastSnapshot);
      },
      (err) => this.log.error({ err }, 'could not read stored certificates; they will be ordered again'),
    );
    return this.loaded;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.store.onDemand === this) this.store.onDemand = null;
    this.unregister();
  }

  /** Apply a new snapshot: which hosts want certificates, and the ACME settings. Call after `store.update`. */
  update(snapshot: Snapshot): void {
    this.lastSnapshot = snapshot;
    // Loading re-applies the last snapshot when it finishes, so stored certificates are never ordered again.
    if (!this.loaded) void this.start();
    const { settings } = parseTlsSettings(snapshot.config.raw['config-wharf']);
    const s = settings.acme;
    const key = JSON.stringify([s.directoryUrl, s.email, s.caRootFile, s.challenges]);
    if (key !== this.issuerKey) {
      this.issuer = null;
      this.issuerKey = key;
    }
    this.settings = s;
    this.global.configure(s.onDemandPerMinute, 60_000);
    this.perDomain.configure(s.onDemandPerDomainPerHour, 3_600_000);

    const wanted = new Set(s.enabled ? autoTlsHosts(snapshot) : []);
    for (const st of this.hosts.values()) st.eligible = wanted.has(st.host);
    for (const host of wanted) if (!this.hosts.has(host)) this.hosts.set(host, this.newState(host));
    for (const st of this.hosts.values()) {
      if (st.eligible) this.adoptStored(st);
      if (st.eligible && st.cert) this.publish(st);
      else if (!st.eligible) {
        this.store.removeIssued(st.host);
        if (!st.inflight && !st.cert) this.hosts.delete(st.host);
      }
    }
    this.store.onDemand = s.enabled ? this : null;
    this.schedule();
  }

  /** OnDemandHook: a routed external name without a certificate, during a handshake. */
  obtain(servername: string): Promise<void> | null {
    if (!this.settings.enabled || this.stopped) return null;
    const name = normalizeServername(servername);
    const st = this.hosts.get(name);
    if (!st?.eligible) {
      onDemandDecisions.inc({ decision: 'not_routed' });
      return null;
    }
    if (st.inflight) return this.capped(st.inflight);
    const now = this.now();
    if ((this.negative.get(name) ?? 0) > now || st.nextAttempt > now) {
      onDemandDecisions.inc({ decision: 'negative_cached' });
      return null;
    }
    const parent = parentDomain(name);
    if (!this.global.allows('*', now) || !this.perDomain.allows(parent, now)) {
      onDemandDecisions.inc({ decision: 'rate_limited' });
      this.log.warn({ host: name }, 'handshake-time certificate order rate limited');
      return null;
    }
    this.global.take('*', now);
    this.perDomain.take(parent, now);
    const p = this.issueHost(st).then(
      () => {
        onDemandDecisions.inc({ decision: 'issued' });
      },
      () => {
        this.negative.set(name, this.now() + this.settings.negativeCacheMs);
        onDemandDecisions.inc({ decision: 'failed' });
      },
    );
    return this.capped(p);
  }

  /** Order a new certificate for a routed host now, whatever its renewal time (admin action, tests). */
  renew(host: string): Promise<void> {
    const st = this.hosts.get(normalizeServername(host));
    if (!st?.eligible) return Promise.reject(new Error(`${host} is not an auto-TLS host in the current configuration`));
    return st.inflight ?? this.issueHost(st);
  }

  /** Run every order and renewal that is due now, one at a time. */
  runDue(): Promise<void> {
    this.running ??= (async () => {
      try {
        if (this.loaded) await this.loaded;
        const tried = new Set<string>();
        for (;;) {
          const now = this.now();
          const due = [...this.hosts.values()].find((st) => !st.inflight && !tried.has(st.host) && this.dueAt(st) <= now);
          if (!due || this.stopped) break;
          tried.add(due.host);
          await this.issueHost(due).catch(() => undefined);
        }
      } finally {
        this.running = null;
        this.schedule();
      }
    })();
    return this.running;
  }

  describe(): { host: string; eligible: boolean; notAfter: string | null; renewAt: string | null; failures: number; lastError: string | null }[] {
    return [...this.hosts.values()].map((st) => ({
      host: st.host,
      eligible: st.eligible,
      notAfter: st.cert ? new Date(st.cert.notAfter).toISOString() : null,
      renewAt: st.cert ? new Date(st.cert.renewAt).toISOString() : null,
      failures: st.failures,
      lastError: st.lastError,
    }));
  }

  private newState(host: string): HostState {
    const st: HostState = { host, eligible: true, cert: null, inflight: null, failures: 0, nextAttempt: 0, lastError: null };
    this.adoptStored(st);
    return st;
  }

  /** Take a certificate loaded from the data dir for a host that has none yet. */
  private adoptStored(st: HostState): void {
    const saved = this.stored.get(st.host);
    if (!saved || st.cert) return;
    const check = checkPair(saved.cert, saved.key, this.now());
    if (check.ok) st.cert = this.certTimes(check.info.notBefore.getTime(), check.info.notAfter.getTime());
    else {
      this.log.warn({ host: st.host, err: check.error }, 'stored certificate unusable; ordering a new one');
      this.stored.delete(st.host);
    }
  }

  private publish(st: HostState): void {
    const pair = this.stored.get(st.host);
    if (!pair) return;
    if (this.store.issuedFor(st.host)?.cert === pair.cert) return;
    const err = this.store.setIssued(st.host, pair.cert, pair.key);
    if (err) this.log.error({ host: st.host, err }, 'certificate rejected by the store');
  }

  private certTimes(notBefore: number, notAfter: number): HostState['cert'] {
    const life = Math.max(0, notAfter - notBefore);
    // Renew with a third of the lifetime left, moved earlier by up to a thirtieth of it (a day at most) so
    // certificates issued together do not all renew in the same minute.
    const renewAt = notAfter - life / 3 - this.random() * Math.min(life / 30, 86_400_000);
    return { notBefore, notAfter, renewAt };
  }

  private dueAt(st: HostState): number {
    if (!st.eligible) return Infinity;
    if (st.cert) return Math.max(st.cert.renewAt, st.nextAttempt);
    return this.settings.issuance === 'eager' ? st.nextAttempt : Infinity;
  }

  private issueHost(st: HostState): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        const issuer = this.getIssuer();
        const out = await issuer.issue([st.host]);
        const check = checkPair(out.cert, out.key, this.now());
        if (!check.ok) throw new Error(`the CA returned an unusable certificate: ${check.error}`);
        this.stored.set(st.host, { cert: out.cert, key: out.key });
        st.cert = this.certTimes(check.info.notBefore.getTime(), check.info.notAfter.getTime());
        st.failures = 0;
        st.nextAttempt = 0;
        st.lastError = null;
        this.negative.delete(st.host);
        if (st.eligible) this.publish(st);
        this.log.info({ host: st.host, notAfter: new Date(st.cert!.notAfter).toISOString() }, 'certificate issued');
        await this.storage.saveCert({ host: st.host, cert: out.cert, key: out.key }).catch((err) => {
          this.log.error({ host: st.host, err }, 'could not persist certificate; it is served but will be ordered again after a restart');
        });
      } catch (e) {
        st.failures++;
        st.lastError = (e as Error).message;
        const base = this.opts.backoffBaseMs ?? 60_000;
        const max = this.opts.backoffMaxMs ?? 6 * 3_600_000;
        const delay = Math.min(max, base * 2 ** (st.failures - 1)) * (0.75 + this.random() * 0.5);
        st.nextAttempt = this.now() + delay;
        // The current certificate (if any) stays published: a failed renewal never takes down a valid cert.
        this.log.error({ host: st.host, failures: st.failures, retryInSeconds: Math.round(delay / 1000), err: st.lastError }, 'certificate order failed');
        throw e;
      } finally {
        st.inflight = null;
      }
    };
    const p = run();
    st.inflight = p;
    return p;
  }

  private getIssuer(): Issuer {
    if (this.issuer) return this.issuer;
    const s = this.settings;
    let caRoot: string | null = null;
    if (s.caRootFile) {
      try {
        caRoot = readFileSync(s.caRootFile, 'utf8');
      } catch (e) {
        throw new Error(`config-wharf acme-ca-root: cannot read ${s.caRootFile}: ${(e as Error).message}`);
      }
    }
    const ctx: IssuerContext = { storage: this.storage, responder: this.responder, caRoot, ...(this.opts.pollMinMs ? { pollMinMs: this.opts.pollMinMs } : {}) };
    this.issuer = this.opts.issuerFactory
      ? this.opts.issuerFactory(s, ctx)
      : new AcmeIssuer({ directoryUrl: s.directoryUrl, email: s.email, caRoot, challenges: s.challenges, storage: this.storage, responder: this.responder, ...(ctx.pollMinMs ? { pollMinMs: ctx.pollMinMs } : {}) });
    return this.issuer;
  }

  private capped(p: Promise<void>): Promise<void> {
    const wait = this.opts.onDemandWaitMs ?? 30_000;
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait);
      t.unref();
      p.then(
        () => (clearTimeout(t), resolve()),
        () => (clearTimeout(t), resolve()),
      );
    });
  }

  private schedule(): void {
    if (this.opts.timers === false || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.settings.enabled) return;
    let next = Infinity;
    for (const st of this.hosts.values()) if (!st.inflight) next = Math.min(next, this.dueAt(st));
    if (next === Infinity) return;
    // Re-check at least hourly so a sleeping laptop or a clock jump cannot push a renewal past expiry.
    const delay = Math.min(Math.max(0, next - this.now()), 3_600_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runDue();
    }, delay);
    this.timer.unref();
  }

  private *states(now: number): Iterable<CertStateEntry> {
    for (const st of this.hosts.values()) {
      if (!st.eligible) continue;
      if (!st.cert) {
        yield { source: 'acme', state: st.failures > 0 ? 'failed' : 'pending', expiresIn: null };
        continue;
      }
      const state = st.cert.notAfter <= now ? 'expired' : st.cert.renewAt <= now ? 'renewing' : 'valid';
      yield { source: 'acme', state, expiresIn: (st.cert.notAfter - now) / 1000 };
    }
  }
}
