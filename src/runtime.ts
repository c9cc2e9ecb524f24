// The runtime wires one direction of data: source → compile → backends.sync → swap the current snapshot → data
// plane. It owns the lifecycle: ready after the first config is live, reloads that keep the last good snapshot when
// they have errors, and drain on SIGTERM (readyz 503, stop accepting, let in-flight finish, exit).
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { Desired } from './model/desired.js';
import type { Snapshot } from './model/snapshot.js';
import { formatProblem, type Problem } from './model/objects.js';
import type { Source } from './sources/source.js';
import type { Backends } from './backends/types.js';
import type { LocalHandler } from './proxy/handler.js';
import { DataPlane } from './proxy/dataplane.js';
import { closeGracefully, createPlaneServer, listen, type ListenOptions } from './proxy/listener.js';
import { TlsPlaneServer, hasCertificateSource } from './proxy/tls-listeners.js';
import type { TlsRuntime } from './tls/tls-runtime.js';
import { configReloads, proxyMetrics } from './proxy/metrics.js';
import { AdminServer, type DebugProvider } from './admin/server.js';
import { routesJSON } from './admin/routes-view.js';
import { child } from './observability/logger.js';
import { BackendsImpl } from './backends/index.js';
import { Pool } from 'undici';
import { revisionsDebug } from './scaling/revisions-debug.js';

const log = child('runtime');

export interface CompileResult {
  snapshot: Snapshot;
  problems: Problem[];
}
export type CompileFn = (desired: Desired, opts: { version: number; builtins?: ReadonlySet<string> }) => CompileResult;

export interface RuntimeOptions {
  source: Source & { reload?(): unknown };
  backends: Backends;
  compile: CompileFn;
  /** Plain-HTTP listeners; null = not opened. Port 0 picks a free port (tests). */
  external?: ListenOptions | null;
  internal?: ListenOptions | null;
  admin?: ListenOptions | null;
  /**
   * TLS listeners (h2 + HTTP/1.1 by ALPN). They open once the config has a certificate source (a TLS Secret,
   * config-wharf default-certificate or auto-tls), at start or on the reload that adds the first one, so a
   * plain-HTTP setup never binds the TLS ports. Once open they stay open.
   */
  https?: ListenOptions | null;
  internalHttps?: ListenOptions | null;
  /** Certificates (SNI store, ACME manager, HTTP-01 responder); it follows every snapshot swap. */
  tls?: TlsRuntime | null;
  /** Override config-wharf's drain settings (tests). */
  drainDelayMs?: number;
  drainTimeoutMs?: number;
}

/** Sources and the compiler may both report a problem (e.g. the compiler passes Desired.problems on): show it once. */
export function dedupeProblems(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export type SwapListener = (next: Snapshot, previous: Snapshot | null) => void;

export class Runtime {
  readonly dataPlane: DataPlane;
  readonly admin: AdminServer;
  readonly handlers = new Map<string, LocalHandler>();
  /** The plane servers, by plane; TLS listeners are added next to them. */
  readonly servers: { external: http.Server | null; internal: http.Server | null } = { external: null, internal: null };
  private current: Snapshot | null = null;
  private version = 0;
  private draining = false;
  private stopped = false;
  private readonly swapListeners: SwapListener[] = [];
  private readonly addrs: { external?: AddressInfo; internal?: AddressInfo; admin?: AddressInfo; https?: AddressInfo; internalHttps?: AddressInfo } = {};
  readonly tls: TlsRuntime | null;
  readonly tlsServers: TlsPlaneServer[] = [];
  private tlsOpening: Promise<void> | null = null;
  private listening = false;

  constructor(private readonly opts: RuntimeOptions) {
    this.dataPlane = new DataPlane({ snapshot: () => this.current, backends: opts.backends, handlers: this.handlers });
    // Probes of local processes share the forwarder's pools: the first request reuses the probe's connection.
    const pools = this.dataPlane.pools;
    opts.backends.useDispatchers?.((origin, protocol) => {
      const p = protocol === 'http1' ? pools.get(origin, protocol) : null;
      return p instanceof Pool ? p : null; // h2c sessions probe on their own connection
    });
    this.admin = new AdminServer({ ready: () => this.current !== null, draining: () => this.draining });
    this.admin.registerDebug('/debug/routes', () => routesJSON(this.current));
    this.tls = opts.tls ?? null;
    if (this.tls !== null) {
      const tls = this.tls;
      // ACME HTTP-01 answers come first, on any host, before routing and before the HTTPS redirect.
      this.dataPlane.intercept = (req, res) => tls.responder.handle(req, res);
      this.onSwap((next) => {
        tls.update(next);
        if (this.listening && this.tlsOpening === null && hasCertificateSource(next)) {
          this.openTls().catch((err) => log.error({ err }, 'could not open the TLS listeners'));
        }
      });
      this.admin.registerDebug('/debug/certificates', () => tls.describe());
    }
    // Per revision: desired/actual scale, panic mode, queue (when the backends are the real activator layer).
    const b = opts.backends;
    if (b instanceof BackendsImpl) this.admin.registerDebug('/debug/revisions', () => revisionsDebug([b]));
  }

  /** The live snapshot (null before the first config). Read it once per request. */
  snapshot(): Snapshot | null {
    return this.current;
  }

  get ready(): boolean {
    return this.current !== null && !this.draining;
  }

  registerHandler(name: string, handler: LocalHandler): void {
    this.handlers.set(name, handler);
  }

  registerDebug(path: string, provider: DebugProvider): void {
    this.admin.registerDebug(path, provider);
  }

  /** Called after every swap (eventing, TLS and others follow the snapshot this way). */
  onSwap(listener: SwapListener): void {
    this.swapListeners.push(listener);
  }

  /** Listening addresses (useful with port 0). */
  addresses(): { external?: AddressInfo; internal?: AddressInfo; admin?: AddressInfo; https?: AddressInfo; internalHttps?: AddressInfo } {
    return this.addrs;
  }

  async start(): Promise<void> {
    if (this.opts.admin) this.addrs.admin = await this.admin.listen(this.opts.admin.port, this.opts.admin.host ?? '127.0.0.1');
    await this.opts.source.start((d) => this.apply(d));
    if (this.opts.external) {
      this.servers.external = createPlaneServer(this.dataPlane, { plane: 'external', scheme: 'http' });
      this.addrs.external = await listen(this.servers.external, this.opts.external);
    }
    if (this.opts.internal) {
      this.servers.internal = createPlaneServer(this.dataPlane, { plane: 'internal', scheme: 'http' });
      this.addrs.internal = await listen(this.servers.internal, this.opts.internal);
    }
    this.listening = true;
    if (this.current !== null && hasCertificateSource(this.current)) await this.openTls();
    log.info(
      {
        external: this.addrs.external?.port,
        internal: this.addrs.internal?.port,
        https: this.addrs.https?.port,
        internalHttps: this.addrs.internalHttps?.port,
        admin: this.addrs.admin ? `${this.addrs.admin.address}:${this.addrs.admin.port}` : undefined,
        ready: this.current !== null,
      },
      'wharf listening',
    );
  }

  /** Open the TLS planes once (idempotent). */
  private openTls(): Promise<void> {
    this.tlsOpening ??= (async () => {
      const tls = this.tls;
      if (tls === null || this.stopped || !(this.opts.https || this.opts.internalHttps)) return;
      // Persisted ACME certificates are loaded before the first handshake can ask for them.
      await tls.start();
      for (const [plane, at, key] of [['external', this.opts.https, 'https'], ['internal', this.opts.internalHttps, 'internalHttps']] as const) {
        if (!at || this.stopped) continue;
        const srv = new TlsPlaneServer(this.dataPlane, tls, { plane, scheme: 'https' });
        this.tlsServers.push(srv);
        this.addrs[key] = await listen(srv.server, at);
        log.info({ plane, port: this.addrs[key]!.port }, 'TLS listener open');
      }
    })();
    return this.tlsOpening;
  }

  /** A source's new input: compile it and swap, or keep the last good snapshot if it has errors. */
  apply(desired: Desired): boolean {
    if (this.stopped) return false;
    let result: CompileResult;
    try {
      result = this.opts.compile(desired, { version: this.version + 1, builtins: new Set(this.handlers.keys()) });
    } catch (err) {
      log.error({ err }, 'config compile failed; keeping the previous config');
      configReloads.inc({ result: 'error' });
      return false;
    }
    const problems = dedupeProblems([...desired.problems, ...result.problems]);
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      this.rejected(errors);
      return false;
    }
    for (const p of problems) log.warn({ problem: p }, formatProblem(p));
    for (const st of result.snapshot.statuses) {
      if (!st.ready) log.warn({ object: st.object, reason: st.reason }, `${st.object} is not served: ${st.reason ?? ''} ${st.message ?? ''}`.trim());
    }
    const next = result.snapshot;
    const previous = this.current;
    this.version = next.version;
    // Backends first, so every target the new snapshot names exists before a request can pick it.
    this.opts.backends.configure?.(next.config);
    this.opts.backends.sync(next.backends);
    proxyMetrics.bind(next);
    this.current = next;
    configReloads.inc({ result: 'success' });
    log.info(
      { version: next.version, external: next.planes.external.hosts.size, internal: next.planes.internal.hosts.size, backends: next.backends.size },
      previous === null ? 'config live' : 'config reloaded',
    );
    for (const l of this.swapListeners) {
      try {
        l(next, previous);
      } catch (err) {
        log.error({ err }, 'snapshot listener failed');
      }
    }
    return true;
  }

  /** A reload that will not be applied: log every problem and count it. The previous snapshot keeps serving. */
  rejected(problems: readonly Problem[]): void {
    configReloads.inc({ result: 'error' });
    for (const p of problems) log.error({ problem: p }, formatProblem(p));
    log.error({ errors: problems.filter((p) => p.severity === 'error').length }, this.current ? 'config rejected; the previous config keeps serving' : 'config rejected; nothing is served yet');
  }

  /** SIGHUP: re-read the source now. */
  reload(): void {
    this.opts.source.reload?.();
  }

  /**
   * Graceful shutdown: /readyz turns 503 at once, listeners keep accepting for drainDelay (so load balancers notice),
   * then stop accepting; in-flight requests get up to drainTimeout; then everything stops.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.dataPlane.draining = true;
    const cfg = this.current?.config.wharf;
    const delay = this.opts.drainDelayMs ?? cfg?.drainDelayMs ?? 0;
    const timeout = this.opts.drainTimeoutMs ?? cfg?.drainTimeoutMs ?? 30_000;
    log.info({ delayMs: delay, timeoutMs: timeout }, 'draining');
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    await Promise.all([
      ...[this.servers.external, this.servers.internal].map((s) => (s ? closeGracefully(s, timeout) : undefined)),
      ...this.tlsServers.map((s) => s.close(timeout)),
    ]);
    await this.stop();
  }

  /** Stop everything now (in-flight requests are cut). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.draining = true;
    this.dataPlane.draining = true;
    await this.opts.source.stop().catch((err) => log.error({ err }, 'source stop failed'));
    for (const s of [this.servers.external, this.servers.internal]) {
      if (s?.listening) {
        s.close();
        s.closeAllConnections();
      }
    }
    for (const s of this.tlsServers) s.destroy();
    this.tls?.stop();
    await this.dataPlane.close();
    await this.opts.backends.close().catch((err) => log.error({ err }, 'backends close failed'));
    await this.admin.close();
    log.info('stopped');
  }
}
