// Knative's ingress readiness prober (knative/networking pkg/status): an ingress version (key + hash) is ready once
// EVERY gateway pod answered GET /healthz for EVERY host of the ingress with the expected K-Network-Hash. Each
// (pod, host) is retried with backoff; a newer hash for the same ingress cancels the older round.
import http from 'node:http';
import { child } from '../../observability/logger.js';
import type { IngressVersion } from './translate.js';

const log = child('k8s-prober');

export interface ProbeTarget {
  /** Pod IP (or 127.0.0.1 in tests). */
  ip: string;
  /** Where the pod serves ExternalIP rules over plain HTTP. */
  externalPort: number;
  /** Where the pod serves every rule (ClusterLocal included). */
  internalPort: number;
}

export interface ProberOptions {
  /** The gateway pods to probe (re-read for each round). */
  targets: () => ProbeTarget[];
  onReady: (key: string, hash: string) => void;
  timeoutMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Probes in flight at once across all ingresses (Knative's prober runs 15 workers). */
  maxInFlight?: number;
}

type Verdict = 'ok' | 'retry';

interface Round {
  hash: string;
  cancelled: boolean;
  pending: number;
}

export function probeOnce(ip: string, port: number, host: string, hash: string, timeoutMs: number): Promise<Verdict> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: ip,
        port,
        path: '/healthz',
        method: 'GET',
        timeout: timeoutMs,
        agent: false,
        headers: { host, 'user-agent': 'Knative-Ingress-Probe', 'k-network-probe': 'probe', 'k-network-hash': 'override', connection: 'close' },
      },
      (res) => {
        res.resume();
        const got = res.headers['k-network-hash'];
        const code = res.statusCode ?? 0;
        // Knative's verdicts: 200 + our hash ok, 200 + another hash retry, 200 without hash accepted, 404/503 retry,
        // anything else accepted (e.g. a 301 on a redirected host).
        if (code === 200) resolve(got === undefined || got === hash ? 'ok' : 'retry');
        else if (code === 404 || code === 503) resolve('retry');
        else resolve('ok');
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timeout')));
    req.on('error', () => resolve('retry'));
    req.end();
  });
}

export class IngressProber {
  private readonly rounds = new Map<string, Round>();
  private readonly ready = new Map<string, string>(); // key → hash proven ready
  private stopped = false;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: ProberOptions) {}

  private async slot(): Promise<void> {
    if (this.inFlight < (this.opts.maxInFlight ?? 15)) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }

  private free(): void {
    const next = this.waiting.shift();
    if (next) next(); // hand the slot over
    else this.inFlight--;
  }

  isReady(key: string, hash: string): boolean {
    return this.ready.get(key) === hash;
  }

  /** Start proving `v` ready unless already proven or being probed. */
  probe(v: IngressVersion): void {
    if (this.stopped || this.isReady(v.key, v.hash)) return;
    const cur = this.rounds.get(v.key);
    if (cur && cur.hash === v.hash) return;
    if (cur) cur.cancelled = true;
    const round: Round = { hash: v.hash, cancelled: false, pending: 0 };
    this.rounds.set(v.key, round);
    const jobs: { ip: string; port: number; host: string }[] = [];
    for (const t of this.opts.targets()) {
      for (const rule of v.spec.rules ?? []) {
        const port = rule.visibility === 'ClusterLocal' ? t.internalPort : t.externalPort;
        for (const host of rule.hosts ?? []) jobs.push({ ip: t.ip, port, host });
      }
    }
    round.pending = jobs.length;
    if (jobs.length === 0) return this.done(v.key, round);
    for (const j of jobs) void this.run(v.key, round, j);
  }

  /** Forget an ingress (deleted). */
  forget(key: string): void {
    const r = this.rounds.get(key);
    if (r) r.cancelled = true;
    this.rounds.delete(key);
    this.ready.delete(key);
  }

  /** Drop rounds and results of ingresses not in `keys` (deleted, or no longer of our class). */
  retain(keys: ReadonlySet<string>): void {
    for (const k of [...this.rounds.keys(), ...this.ready.keys()]) if (!keys.has(k)) this.forget(k);
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.rounds.values()) r.cancelled = true;
    this.rounds.clear();
  }

  private async run(key: string, round: Round, j: { ip: string; port: number; host: string }): Promise<void> {
    let delay = this.opts.initialDelayMs ?? 50;
    for (;;) {
      if (round.cancelled || this.stopped) return;
      await this.slot();
      let v: Verdict;
      try {
        v = round.cancelled || this.stopped ? 'retry' : await probeOnce(j.ip, j.port, j.host, round.hash, this.opts.timeoutMs ?? 1000);
      } finally {
        this.free();
      }
      if (round.cancelled || this.stopped) return;
      if (v === 'ok') break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.opts.maxDelayMs ?? 5000);
    }
    if (--round.pending === 0) this.done(key, round);
  }

  private done(key: string, round: Round): void {
    if (this.rounds.get(key) !== round || round.cancelled) return;
    this.rounds.delete(key);
    this.ready.set(key, round.hash);
    log.debug({ ingress: key, hash: round.hash }, 'ingress probed ready on every gateway pod');
    this.opts.onReady(key, round.hash);
  }
}
