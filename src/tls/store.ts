// The certificate store: picks a certificate by SNI name for each plane. It is rebuilt from every snapshot
// (Secrets referenced by virtual hosts, the config-wharf default certificate) and fed ACME certificates by the
// CertManager. Listeners keep running across reloads: the SNI callback always reads the current tables, and
// SecureContexts are cached per exact PEM pair so an unchanged certificate is not re-parsed on reload.
import tls, { type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Plane, Snapshot } from '../model/snapshot.js';
import type { Problem } from '../model/objects.js';
import { formatProblem } from '../model/objects.js';
import { child } from '../observability/logger.js';
import { parseTlsSettings, type TlsSettings } from './config.js';
import { checkPair, nameCovers } from './pem.js';
import { registerCertStates, type CertStateEntry, type CertSource } from './metrics.js';

export interface LoadedCert {
  /** Secret `ns/name`, or `acme:<host>`. */
  id: string;
  source: CertSource;
  names: readonly string[];
  notBefore: number;
  notAfter: number;
  context: SecureContext;
  digest: string;
  cert: string;
  key: string;
}

/** Handshake-time issuance. Returns null when the name is not eligible (unrouted, rate limited, cached failure). */
export interface OnDemandHook {
  obtain(servername: string): Promise<void> | null;
}

/** TLS-ALPN-01: a pending challenge's self-signed certificate for a name, if any. */
export interface AlpnChallengeSource {
  alpnContextFor(servername: string): SecureContext | undefined;
}

export const ACME_TLS_ALPN = 'acme-tls/1';

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

interface Tables {
  /** Per plane: host → certificate of the Secret its virtual host names. */
  byHost: Record<Plane, Map<string, LoadedCert>>;
  /** Per plane: the Secret of the catch-all rule (a KIngress rule without hosts), tried before the default. */
  catchAll: Record<Plane, LoadedCert | null>;
  /** Referenced Secrets indexed by the exact names they cover. */
  exact: Map<string, LoadedCert>;
  /** Referenced Secrets with `*.parent` names, by parent. */
  wildcard: Map<string, LoadedCert>;
  defaultCert: LoadedCert | null;
  secrets: Map<string, LoadedCert>;
  invalid: number;
}

const emptyTables = (): Tables => ({
  byHost: { external: new Map(), internal: new Map() },
  catchAll: { external: null, internal: null },
  exact: new Map(),
  wildcard: new Map(),
  defaultCert: null,
  secrets: new Map(),
  invalid: 0,
});

export function normalizeServername(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

export class CertStore {
  settings: TlsSettings;
  problems: readonly Problem[] = [];
  /** Set by the CertManager when auto-TLS is on. Only consulted on the external plane. */
  onDemand: OnDemandHook | null = null;
  alpnChallenges: AlpnChallengeSource | null = null;

  private tables: Tables = emptyTables();
  private issued = new Map<string, LoadedCert>();
  /** digest|options → context, kept only for pairs still in use after each update. */
  private contexts = new Map<string, SecureContext>();
  private attached = new Set<{ server: tls.Server; applied: string | null }>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly unregister: () => void;

  constructor(opts: { now?: () => number; log?: Logger } = {}) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? child('tls');
    this.settings = parseTlsSettings(undefined).settings;
    this.unregister = registerCertStates({ certStates: () => this.secretStates(this.now()) });
  }

  close(): void {
    this.unregister();
    this.attached.clear();
  }

  /** Rebuild the tables from a new snapshot. Bad pairs become problems; every other certificate stays served. */
  update(snapshot: Snapshot): readonly Problem[] {
    const { settings, problems } = parseTlsSettings(snapshot.config.raw['config-wharf']);
    const optionsChanged = settings.minVersion !== this.settings.minVersion || settings.ciphers !== this.settings.ciphers;
    this.settings = settings;
    const now = this.now();
    const t = emptyTables();
    const used = new Map<string, SecureContext>();
    const bad = new Set<string>();

    const load = (secret: string, referrer: string): LoadedCert | null => {
      const have = t.secrets.get(secret);
      if (have) return have;
      if (bad.has(secret)) return null;
      const pair = snapshot.secrets.get(secret);
      const fail = (message: string): null => {
        bad.add(secret);
        problems.push({ severity: 'error', object: `Secret ${secret}`, message: `${message} (referenced by ${referrer}); TLS for it falls back to other certificates` });
        return null;
      };
      if (!pair) return fail('secret not found or has no tls.crt/tls.key');
      const loaded = this.buildLoaded(secret, 'secret', pair.cert, pair.key, now, used);
      if (typeof loaded === 'string') return fail(loaded);
      for (const w of loaded.warnings) problems.push({ severity: 'warning', object: `Secret ${secret}`, message: w });
      t.secrets.set(secret, loaded.cert);
      for (const name of loaded.cert.names) {
        if (name.startsWith('*.')) t.wildcard.set(name.slice(2), t.wildcard.get(name.slice(2)) ?? loaded.cert);
        else t.exact.set(name, t.exact.get(name) ?? loaded.cert);
      }
      return loaded.cert;
    };

    if (settings.defaultCertificate) t.defaultCert = load(settings.defaultCertificate, 'config-wharf default-certificate');
    for (const plane of ['external', 'internal'] as const) {
      for (const [host, vh] of snapshot.planes[plane].hosts) {
        if (!vh.tlsSecret) continue;
        const c = load(vh.tlsSecret, `host ${host}`);
        if (!c) continue;
        if (!c.names.some((n) => nameCovers(n, host))) {
          problems.push({ severity: 'warning', object: `Secret ${vh.tlsSecret}`, message: `certificate does not cover host ${host} (names: ${c.names.join(', ') || 'none'})` });
        }
        t.byHost[plane].set(host, c);
      }
      const any = snapshot.planes[plane].wildcard;
      if (any?.tlsSecret) t.catchAll[plane] = load(any.tlsSecret, `the catch-all rule of the ${plane} plane`);
    }
    t.invalid = bad.size;
    for (const c of this.issued.values()) {
      if (!optionsChanged) used.set(this.contextKey(c.digest), c.context);
      else {
        c.context = this.context(c.cert, c.key, c.digest, used);
      }
    }
    this.tables = t;
    this.contexts = used;
    this.problems = problems;
    for (const p of problems) this.log[p.severity === 'error' ? 'error' : 'warn']({ problem: p }, formatProblem(p));
    this.refreshAttached();
    return problems;
  }

  /** Add or replace an ACME certificate for a host. Returns an error message for a bad pair (the old one stays). */
  setIssued(host: string, cert: string, key: string): string | null {
    const loaded = this.buildLoaded(`acme:${host}`, 'acme', cert, key, this.now(), this.contexts);
    if (typeof loaded === 'string') return loaded;
    this.issued.set(normalizeServername(host), loaded.cert);
    return null;
  }

  removeIssued(host: string): void {
    this.issued.delete(normalizeServername(host));
  }

  issuedFor(host: string): LoadedCert | undefined {
    return this.issued.get(normalizeServername(host));
  }

  /** A certificate chosen for the name without falling back to the default one. */
  specificFor(servername: string, plane: Plane): LoadedCert | undefined {
    const name = normalizeServername(servername);
    const t = this.tables;
    const mine = t.byHost[plane].get(name);
    if (mine) return mine;
    // ACME certificates are public ones for external hosts; the internal plane never serves them.
    if (plane === 'external') {
      const acme = this.issued.get(name);
      if (acme) return acme;
    }
    const exact = t.exact.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? t.wildcard.get(name.slice(dot + 1)) : undefined;
  }

  lookup(servername: string, plane: Plane): LoadedCert | undefined {
    return this.specificFor(servername, plane) ?? this.tables.catchAll[plane] ?? this.tables.defaultCert ?? undefined;
  }

  secureContextFor(servername: string, plane: Plane): SecureContext | undefined {
    return this.lookup(servername, plane)?.context;
  }

  get defaultCertificate(): LoadedCert | null {
    return this.tables.defaultCert;
  }

  /** `SNICallback` for a listener of this plane. Unknown names get the default certificate or no certificate. */
  sniCallback(plane: Plane): SniCallback {
    return (servername, cb) => {
      const alpn = this.alpnChallenges?.alpnContextFor(normalizeServername(servername));
      if (alpn) return cb(null, alpn);
      const found = this.specificFor(servername, plane);
      if (found) return cb(null, found.context);
      const pending = plane === 'external' ? this.onDemand?.obtain(normalizeServername(servername)) : null;
      if (!pending) return this.fallback(plane, cb);
      pending.then(
        () => {
          const got = this.specificFor(servername, plane);
          if (got) cb(null, got.context);
          else this.fallback(plane, cb);
        },
        () => this.fallback(plane, cb),
      );
    };
  }

  private fallback(plane: Plane, cb: (err: Error | null, ctx?: SecureContext) => void): void {
    const d = this.tables.catchAll[plane] ?? this.tables.defaultCert;
    if (d) cb(null, d.context);
    // No certificate at all: abort the handshake rather than serve a server-wide placeholder.
    else cb(new Error('no certificate for this server name'));
  }

  /**
   * `ALPNCallback`: `acme-tls/1` only for a pending TLS-ALPN-01 challenge, else h2 then http/1.1 as offered.
   * (Node forbids `ALPNProtocols` together with it, so this replaces that option.)
   */
  readonly alpnCallback = ({ servername, protocols }: { servername: string; protocols: string[] }): string | undefined => {
    if (protocols.includes(ACME_TLS_ALPN) && servername && this.alpnChallenges?.alpnContextFor(normalizeServername(servername))) return ACME_TLS_ALPN;
    if (protocols.includes('h2')) return 'h2';
    if (protocols.includes('http/1.1')) return 'http/1.1';
    return undefined;
  };

  /**
   * Options for `tls.createServer`/`https.createServer`: SNI selection, ALPN (h2, http/1.1, acme-tls/1),
   * TLS >= 1.2 and the configured ciphers. Call `attach(server)` afterwards so reloads update the default cert.
   */
  serverOptions(plane: Plane): tls.TlsOptions {
    return { ...this.baseOptions(), SNICallback: this.sniCallback(plane), ALPNCallback: this.alpnCallback };
  }

  /**
   * Options for `http2.createSecureServer`: the same ALPN callback (Node then skips its own h2/http1.1 list) and
   * `allowHTTP1`, so one TLS port serves h2, HTTP/1.1 and TLS-ALPN-01 validations.
   */
  http2ServerOptions(plane: Plane): tls.TlsOptions & { allowHTTP1: true } {
    return { ...this.serverOptions(plane), allowHTTP1: true };
  }

  /** Keep a server's own context (used without SNI) on the current default certificate and TLS settings. */
  attach(server: tls.Server): () => void {
    const entry = { server, applied: null as string | null };
    this.attached.add(entry);
    this.applyTo(entry);
    return () => this.attached.delete(entry);
  }

  describe(): { id: string; source: CertSource; names: readonly string[]; notAfter: string }[] {
    const out = [...this.tables.secrets.values(), ...this.issued.values()];
    return out.map((c) => ({ id: c.id, source: c.source, names: c.names, notAfter: new Date(c.notAfter).toISOString() }));
  }

  private baseOptions(): tls.TlsOptions {
    const d = this.tables.defaultCert;
    return {
      minVersion: this.settings.minVersion,
      ...(this.settings.ciphers ? { ciphers: this.settings.ciphers } : {}),
      ...(d ? { cert: d.cert, key: d.key } : {}),
    };
  }

  private refreshAttached(): void {
    for (const e of this.attached) this.applyTo(e);
  }

  private applyTo(e: { server: tls.Server; applied: string | null }): void {
    const sig = `${this.tables.defaultCert?.digest ?? ''}|${this.settings.minVersion}|${this.settings.ciphers ?? ''}`;
    if (e.applied === sig) return;
    try {
      e.server.setSecureContext(this.baseOptions());
      e.applied = sig;
    } catch (err) {
      this.log.error({ err }, 'could not apply TLS settings to a listener; it keeps the previous ones');
    }
  }

  private buildLoaded(
    id: string,
    source: CertSource,
    cert: string,
    key: string,
    now: number,
    used: Map<string, SecureContext>,
  ): { cert: LoadedCert; warnings: string[] } | string {
    const check = checkPair(cert, key, now);
    if (!check.ok) return check.error;
    let context: SecureContext;
    try {
      context = this.context(cert, key, check.info.digest, used);
    } catch (e) {
      return `cannot build a TLS context: ${(e as Error).message}`;
    }
    const { names, notBefore, notAfter, digest } = check.info;
    return { cert: { id, source, names, notBefore: notBefore.getTime(), notAfter: notAfter.getTime(), context, digest, cert, key }, warnings: check.warnings };
  }

  private contextKey(digest: string): string {
    return `${digest}|${this.settings.minVersion}|${this.settings.ciphers ?? ''}`;
  }

  private context(cert: string, key: string, digest: string, used: Map<string, SecureContext>): SecureContext {
    const k = this.contextKey(digest);
    let ctx = used.get(k) ?? this.contexts.get(k);
    if (!ctx) {
      ctx = tls.createSecureContext({ cert, key, minVersion: this.settings.minVersion, ...(this.settings.ciphers ? { ciphers: this.settings.ciphers } : {}) });
    }
    used.set(k, ctx);
    return ctx;
  }

  private *secretStates(now: number): Iterable<CertStateEntry> {
    // Counted once per Secret, however many hosts and planes use it.
    for (const c of this.tables.secrets.values()) {
      const state = c.notAfter <= now ? 'expired' : c.notBefore > now ? 'not_yet_valid' : 'valid';
      yield { source: 'secret', state, expiresIn: (c.notAfter - now) / 1000 };
    }
    for (let i = 0; i < this.tables.invalid; i++) yield { source: 'secret', state: 'invalid', expiresIn: null };
  }
}
