// Readiness probes for endpoints: an HTTP GET (kubelet semantics: 200–399 passes), a TCP connect, or Knative's
// queue-proxy probe. A ProbeLoop repeats one quickly while an endpoint is not ready, so a buffered request is
// released within a few tens of milliseconds of the backend answering.
import http from 'node:http';
import net from 'node:net';
import type { Dispatcher } from 'undici';
import type { ReadinessCheck } from '../model/desired.js';

export const PROBE_TIMEOUT_MS = 1000;

export interface ProbeTarget {
  host: string;
  port: number;
}

/**
 * One probe. With `via` (the forwarder's keep-alive pool for this origin), an HTTP probe goes through it, so the
 * connection that answered the probe is the warm one the first real request reuses (as Knative's activator shares
 * one transport between probing and proxying).
 */
export function probeOnce(target: ProbeTarget, check: ReadinessCheck, timeoutMs = PROBE_TIMEOUT_MS, via?: Dispatcher | null): Promise<boolean> {
  if (check.kind === 'tcp') return probeTcp(target, timeoutMs);
  if (via) {
    return check.kind === 'queue'
      ? probeVia(via, '/healthz', timeoutMs, { 'k-network-probe': 'queue', 'user-agent': 'Knative-Activator-Probe' }, 'queue')
      : probeVia(via, check.path || '/', timeoutMs, { 'user-agent': 'kube-probe/wharf' }, null);
  }
  if (check.kind === 'queue') {
    return probeHttp(target, '/healthz', timeoutMs, { 'k-network-probe': 'queue', 'user-agent': 'Knative-Activator-Probe' }, 'queue');
  }
  return probeHttp(target, check.path || '/', timeoutMs, { 'user-agent': 'kube-probe/wharf' }, null);
}

async function probeVia(via: Dispatcher, path: string, timeoutMs: number, headers: Record<string, string>, wantBody: string | null): Promise<boolean> {
  try {
    const res = await via.request({
      path: path.startsWith('/') ? path : `/${path}`,
      method: 'GET',
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const status = res.statusCode;
    let ok: boolean;
    if (wantBody === null) {
      await res.body.dump();
      ok = status >= 200 && status < 400;
    } else {
      ok = status === 200 && (await res.body.text()).trim() === wantBody;
    }
    // The body has ended, but the pool frees the connection a tick later; report after that, so the request this
    // readiness releases finds the socket idle instead of opening a second one.
    await new Promise((r) => setImmediate(r));
    return ok;
  } catch {
    return false;
  }
}

function probeTcp(target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: target.host, port: target.port });
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function probeHttp(
  target: ProbeTarget,
  path: string,
  timeoutMs: number,
  headers: Record<string, string>,
  wantBody: string | null,
): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve(ok);
    };
    const req = http.request(
      { host: target.host, port: target.port, path: path.startsWith('/') ? path : `/${path}`, method: 'GET', headers, agent: false, timeout: timeoutMs },
      (res) => {
        const status = res.statusCode ?? 0;
        const passes = wantBody === null ? status >= 200 && status < 400 : status === 200;
        if (!passes) {
          res.resume();
          finish(false);
          return;
        }
        if (wantBody === null) {
          res.resume();
          finish(true);
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 64) body += c;
        });
        res.on('end', () => finish(body.trim() === wantBody));
        res.on('error', () => finish(false));
      },
    );
    req.on('timeout', () => finish(false));
    req.on('error', () => finish(false));
    req.end();
  });
}

/**
 * Probes until the check passes, then calls onReady once. Starts at `initialMs` between attempts and backs off
 * slowly to `maxMs`, like Knative's aggressive queue-proxy probing.
 */
export class ProbeLoop {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private inFlight = false;
  private interval: number;
  private startedAt = 0;

  /**
   * Probes every `initialMs` for the first `fastForMs`, then backs off by 10 % per attempt up to `maxMs`.
   */
  constructor(
    private readonly target: ProbeTarget,
    private readonly check: ReadinessCheck,
    private readonly onReady: () => void,
    private readonly initialMs = 25,
    private readonly maxMs = 250,
    private readonly fastForMs = 0,
    /** Probe through this dispatcher (HTTP checks), see probeOnce. */
    private readonly via: (() => Dispatcher | null) | null = null,
  ) {
    this.interval = initialMs;
  }

  start(): void {
    this.stopped = false;
    this.interval = this.initialMs;
    this.startedAt = Date.now();
    void this.attempt();
  }

  /** Probe now instead of at the next interval (e.g. the process just wrote a log line: it may be listening). */
  kick(): void {
    if (this.stopped || this.inFlight) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.attempt();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    const ok = await probeOnce(this.target, this.check, Math.max(300, this.interval * 4), this.via?.());
    this.inFlight = false;
    if (this.stopped) return;
    if (ok) {
      this.stopped = true;
      this.onReady();
      return;
    }
    if (this.timer) return; // a kick already scheduled the next one
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.attempt();
    }, this.interval);
    this.timer.unref();
    if (Date.now() - this.startedAt >= this.fastForMs) this.interval = Math.min(this.maxMs, Math.ceil(this.interval * 1.1));
  }
}
