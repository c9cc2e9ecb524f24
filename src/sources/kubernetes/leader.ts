// Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does: acquire when the lease is
// free or its holder has not renewed within leaseDurationSeconds (measured on our own clock from when we last saw the
// record change, so clock skew between nodes does not matter), renew periodically, step down when renewing fails
// for a whole lease duration. Writes use the resourceVersion, so two candidates never both win.
import { child } from '../../observability/logger.js';
import { ApiStatusError, type KubeClient, type ResourceRef } from './client.js';

const log = child('k8s-leader');

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** How often to try to acquire / renew (default 2 s). */
  retryMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
export const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private leader = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private observed: { record: string; at: number } | null = null;
  private lastRenew = 0;
  private readonly res: ResourceRef;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderOptions,
  ) {
    this.res = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace: opts.namespace };
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  /** Stop campaigning; a leader releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.leader) {
      try {
        const cur = await this.client.get(this.res, this.opts.name);
        if ((cur.spec as { holderIdentity?: string })?.holderIdentity === this.opts.identity) {
          await this.client.replace(this.res, this.opts.name, { ...cur, spec: { ...cur.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
        }
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'lease release failed');
      }
      this.setLeader(false);
    }
  }

  private get durationMs(): number {
    return (this.opts.leaseDurationSeconds ?? 15) * 1000;
  }

  private setLeader(v: boolean): void {
    if (v === this.leader) return;
    this.leader = v;
    log.info({ identity: this.opts.identity, lease: `${this.opts.namespace}/${this.opts.name}` }, v ? 'became leader' : 'stopped leading');
    try {
      (v ? this.opts.onStartedLeading : this.opts.onStoppedLeading)?.();
    } catch (err) {
      log.error({ err }, 'leader callback failed');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.opts.retryMs ?? 2000);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'lease update failed');
    }
    // A leader that could not renew for a whole lease duration must assume someone else took over.
    if (this.leader && Date.now() - this.lastRenew > this.durationMs) this.setLeader(false);
    this.schedule();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    const spec = { holderIdentity: this.opts.identity, leaseDurationSeconds: this.opts.leaseDurationSeconds ?? 15, renewTime: microTime(now) };
    let cur: any;
    try {
      cur = await this.client.get(this.res, this.opts.name);
    } catch (err) {
      if (!(err instanceof ApiStatusError) || err.statusCode !== 404) throw err;
      await this.client.create(this.res, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      });
      this.lastRenew = now;
      this.setLeader(true);
      return;
    }
    const s = cur.spec ?? {};
    const record = JSON.stringify(s);
    if (!this.observed || this.observed.record !== record) this.observed = { record, at: now };
    const holder: string = s.holderIdentity ?? '';
    if (holder !== this.opts.identity) {
      const expired = holder === '' || now - this.observed.at > (s.leaseDurationSeconds ?? 15) * 1000;
      if (!expired) {
        this.setLeader(false);
        return;
      }
      await this.client.replace(this.res, this.opts.name, {
        ...cur,
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: (s.leaseTransitions ?? 0) + 1 },
      });
    } else {
      await this.client.replace(this.res, this.opts.name, { ...cur, spec: { ...s, ...spec } });
    }
    this.lastRenew = now;
    this.setLeader(true);
  }
}
