// Runs a revision's container command as local processes (standalone mode). Each instance gets its own PORT,
// is an endpoint of the revision's throttler once its readiness check passes, is restarted with exponential
// backoff when it dies, and on scale-down is drained (no new requests, in-flight finish) before SIGTERM, with
// SIGKILL after a grace period.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { BackendSpec } from '../model/snapshot.js';
import type { ProcessSpec, ReadinessCheck } from '../model/desired.js';
import { BackendEndpoint, type EndpointOwner } from './endpoint.js';
import { ProbeLoop } from './probe.js';

/** util-linux setpriv (Linux), to tie each revision process's life to wharf's (PR_SET_PDEATHSIG). */
const SETPRIV = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : null;

/** What a process pool needs from the revision's throttler. */
export interface EndpointSink {
  addEndpoint(ep: BackendEndpoint): void;
  setReady(ep: BackendEndpoint, ready: boolean): void;
  removeEndpoint(ep: BackendEndpoint): void;
}

export interface ProcessRunnerOptions {
  logger: Logger;
  /** SIGTERM → SIGKILL grace. */
  killGraceMs?: number;
  /** Longest wait for in-flight requests before SIGTERM on scale-down/removal. */
  drainTimeoutMs?: number;
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** The forwarder's dispatcher for an origin: HTTP readiness probes go through it (the first request reuses the probe's connection). */
  dispatcher?: (origin: string, protocol: 'http1' | 'h2c') => Dispatcher | null;
}

/** Process groups still alive, killed synchronously if wharf itself exits. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(c: ChildProcess): void {
  liveChildren.add(c);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const ch of liveChildren) killGroup(ch, 'SIGKILL');
    });
  }
}

function killGroup(c: ChildProcess, signal: NodeJS.Signals): void {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  try {
    process.kill(-c.pid, signal); // the whole group: `sh -c`/npm wrappers take their children with them
  } catch {
    try {
      c.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

type InstanceState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export class ProcessInstance implements EndpointOwner {
  state: InstanceState = 'starting';
  endpoint: BackendEndpoint | null = null;
  port = 0;
  readyAt = 0;
  startedAt = 0;
  restarts = 0;
  private child: ChildProcess | null = null;
  private probe: ProbeLoop | null = null;
  private slowTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private drainWaiter: (() => void) | null = null;
  private exitWaiters: (() => void)[] = [];

  constructor(
    readonly id: number,
    private readonly pool: ProcessPool,
  ) {
    this.backoffMs = pool.opts.restartInitialMs ?? 100;
  }

  start(): void {
    this.state = 'starting';
    void this.spawnNow();
  }

  private async spawnNow(): Promise<void> {
    const pool = this.pool;
    const spec = pool.process;
    let port: number;
    try {
      port = await freePort();
    } catch (err) {
      pool.log.error({ err, instance: this.id }, 'no free port for revision process');
      this.scheduleRestart();
      return;
    }
    if (this.state !== 'starting') return;
    this.port = port;
    const [cmd, ...rest] = spec.command;
    if (!cmd) {
      pool.log.error('revision container has no command to run');
      this.state = 'stopped';
      return;
    }
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ...spec.env, PORT: String(port) };
    const info = pool.spec.revisionInfo;
    env.K_REVISION = info?.name ?? pool.spec.revision;
    if (info?.service ?? pool.spec.service) env.K_SERVICE = info?.service ?? pool.spec.service;
    if (info?.configuration) env.K_CONFIGURATION = info.configuration;
    this.startedAt = Date.now();
    let child: ChildProcess;
    try {
      // Under setpriv the kernel sends SIGTERM to the process when wharf dies, even by SIGKILL: no orphans that
      // keep holding ports after a crash. setpriv execs the command, so the pid is the app's own.
      const argv = [...rest, ...spec.args];
      child = SETPRIV
        ? spawn(SETPRIV, ['--pdeathsig', 'TERM', '--', cmd, ...argv], { cwd: spec.cwd || undefined, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
        : spawn(cmd, argv, { cwd: spec.cwd || undefined, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      pool.log.error({ err, command: spec.command }, 'cannot start revision process');
      this.scheduleRestart();
      return;
    }
    this.child = child;
    trackChild(child);
    const log = pool.log.child({ instance: this.id, pid: child.pid, port });
    pipeLines(child.stdout!, log, 'stdout', this);
    pipeLines(child.stderr!, log, 'stderr', this);
    let exited = false;
    const onGone = (code: number | null, signal: NodeJS.Signals | null, err?: Error) => {
      if (exited) return;
      exited = true;
      liveChildren.delete(child);
      this.onExit(code, signal, err);
    };
    child.once('error', (err) => onGone(null, null, err));
    child.once('exit', (code, signal) => onGone(code, signal));
    log.info({ command: spec.command, args: spec.args }, 'revision process started');

    const ep = new BackendEndpoint(`http://127.0.0.1:${port}`, pool.spec.protocol, this);
    this.endpoint = ep;
    pool.sink.addEndpoint(ep);
    this.startProbe();
    // Requests wait for this process: say so if it is slow to pass its readiness check.
    this.slowTimer = setTimeout(() => {
      this.slowTimer = null;
      if (this.state === 'starting' && this.child === child) {
        log.warn({ readiness: pool.spec.readiness }, 'revision process is not ready after 30 s (does it listen on $PORT and answer its readiness probe?)');
      }
    }, 30_000);
    this.slowTimer.unref();
  }

  /** How long the last start took until ready (ms), 0 while starting. */
  get startupMs(): number {
    return this.readyAt >= this.startedAt ? this.readyAt - this.startedAt : 0;
  }

  private startProbe(): void {
    this.probe?.stop();
    const check: ReadinessCheck = probeFor(this.pool.spec.readiness);
    // Probe a starting process every 10 ms for its first 5 s, then back off to 50 ms (connection refused costs
    // next to nothing), and at once whenever it writes a line: a buffered request is released within ~10 ms of
    // readiness, which is wharf's share of a cold start.
    const via = this.pool.opts.dispatcher;
    const ep = this.endpoint;
    this.probe = new ProbeLoop({ host: '127.0.0.1', port: this.port }, check, () => this.onReady(), 10, 50, 5000, via && ep ? () => via(ep.origin, ep.protocol) : null);
    this.probe.start();
  }

  private onReady(): void {
    if (this.state !== 'starting' && this.state !== 'running') return;
    const ep = this.endpoint;
    if (!ep) return;
    if (this.state === 'starting') {
      this.readyAt = Date.now();
      this.pool.log.info({ instance: this.id, port: this.port, startupMs: this.readyAt - this.startedAt }, 'revision process ready');
    }
    this.state = 'running';
    this.pool.sink.setReady(ep, true);
    this.pool.instanceReady(this);
  }

  /** A starting process that prints something ("listening on …") is often ready: probe it now. */
  outputLine(): void {
    if (this.state === 'starting') this.probe?.kick();
  }

  endpointFailed(ep: BackendEndpoint): void {
    if (ep !== this.endpoint || (this.state !== 'running' && this.state !== 'starting')) return;
    this.startProbe();
  }

  endpointDrained(ep: BackendEndpoint): void {
    if (ep === this.endpoint && this.drainWaiter) {
      const w = this.drainWaiter;
      this.drainWaiter = null;
      w();
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, err?: Error): void {
    this.probe?.stop();
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.slowTimer = null;
    this.child = null;
    const ep = this.endpoint;
    this.endpoint = null;
    if (ep) this.pool.sink.removeEndpoint(ep);
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const w of waiters) w();
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.state = 'stopped';
      this.pool.log.info({ instance: this.id, code, signal }, 'revision process stopped');
      return;
    }
    const uptime = Date.now() - this.startedAt;
    if (uptime > 10_000) this.backoffMs = this.pool.opts.restartInitialMs ?? 100;
    this.pool.log.warn({ instance: this.id, code, signal, err: err?.message, restartInMs: this.backoffMs }, 'revision process exited; restarting');
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    this.state = 'backoff';
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.pool.opts.restartMaxMs ?? 10_000, this.backoffMs * 2);
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.state === 'backoff') this.start();
    }, delay);
    this.restartTimer.unref();
  }

  /** Drain (bounded), then SIGTERM, then SIGKILL after the grace period. Resolves once the process is gone. */
  async stop(drain: boolean): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return this.waitExit();
    const wasStarting = this.state === 'starting';
    this.state = 'stopping';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.probe?.stop();
    const ep = this.endpoint;
    if (ep) {
      if (drain && ep.inFlight > 0 && !wasStarting) {
        const drained = new Promise<void>((resolve) => {
          this.drainWaiter = resolve;
        });
        this.pool.sink.removeEndpoint(ep);
        const t = setTimeout(() => this.endpointDrained(ep), this.pool.opts.drainTimeoutMs ?? 30_000);
        await drained;
        clearTimeout(t);
      } else {
        this.pool.sink.removeEndpoint(ep);
      }
    }
    const child = this.child;
    if (!child) {
      this.state = 'stopped';
      return;
    }
    const gone = this.waitExit();
    killGroup(child, 'SIGTERM');
    const k = setTimeout(() => killGroup(child, 'SIGKILL'), this.pool.opts.killGraceMs ?? 10_000);
    k.unref();
    await gone;
    clearTimeout(k);
  }

  private waitExit(): Promise<void> {
    if (!this.child) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}

function probeFor(r: ReadinessCheck): ReadinessCheck {
  // The process listens on the PORT we gave it, whatever port the manifest's probe names.
  if (r.kind === 'http') return { kind: 'http', path: r.path || '/' };
  return { kind: 'tcp' };
}

function pipeLines(stream: NodeJS.ReadableStream, log: Logger, name: 'stdout' | 'stderr', inst: ProcessInstance): void {
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', (line) => {
    inst.outputLine();
    if (name === 'stderr') log.warn({ stream: name }, line);
    else log.info({ stream: name }, line);
  });
  rl.on('error', () => {});
}

/** The instances of one process-backed revision. `setScale` starts or drains instances to reach n. */
export class ProcessPool {
  readonly instances: ProcessInstance[] = [];
  readonly log: Logger;
  private nextId = 1;
  private desired = 0;
  private closed = false;
  /** Notified when an instance turns ready (the scaler uses it for "actual scale"). */
  onInstanceReady: ((i: ProcessInstance) => void) | null = null;

  constructor(
    public spec: BackendSpec,
    readonly sink: EndpointSink,
    readonly opts: ProcessRunnerOptions,
  ) {
    this.log = opts.logger.child({ namespace: spec.namespace, revision: spec.revision });
  }

  get process(): ProcessSpec {
    const src = this.spec.source;
    if (src.kind !== 'process') throw new Error(`backend ${this.spec.key} is not a process backend`);
    return src.process;
  }

  get desiredScale(): number {
    return this.desired;
  }

  /** Instances that are ready to serve. */
  get readyCount(): number {
    let n = 0;
    for (const i of this.instances) if (i.state === 'running') n++;
    return n;
  }

  /** Instances started and not being stopped (starting, running or restarting). */
  get activeCount(): number {
    return this.instances.length;
  }

  setScale(n: number): void {
    if (this.closed) return;
    this.desired = Math.max(0, n | 0);
    while (this.instances.length < this.desired) {
      const inst = new ProcessInstance(this.nextId++, this);
      this.instances.push(inst);
      inst.start();
    }
    while (this.instances.length > this.desired) {
      // Stop the newest not-yet-ready instance first, else the one with the fewest requests in flight.
      let victim = -1;
      for (let i = this.instances.length - 1; i >= 0; i--) {
        if (this.instances[i]!.state !== 'running') {
          victim = i;
          break;
        }
      }
      if (victim < 0) {
        let best = Infinity;
        for (let i = 0; i < this.instances.length; i++) {
          const load = this.instances[i]!.endpoint?.inFlight ?? 0;
          if (load < best) {
            best = load;
            victim = i;
          }
        }
      }
      const [inst] = this.instances.splice(victim, 1);
      void inst!.stop(true);
    }
  }

  instanceReady(i: ProcessInstance): void {
    this.onInstanceReady?.(i);
  }

  /** Restart every instance with a changed spec (revisions are immutable, so this is rare). */
  update(spec: BackendSpec): void {
    const before = JSON.stringify([this.spec.source, this.spec.readiness, this.spec.protocol]);
    this.spec = spec;
    if (before === JSON.stringify([spec.source, spec.readiness, spec.protocol])) return;
    const n = this.desired;
    this.setScale(0);
    this.setScale(n);
  }

  async stop(): Promise<void> {
    this.closed = true;
    const all = this.instances.splice(0);
    await Promise.all(all.map((i) => i.stop(true)));
  }
}
