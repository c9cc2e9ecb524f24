// A list/watch cache for one resource (client-go's Reflector): list, then watch from the list's resourceVersion;
// a clean stream end re-watches from the last seen version; 410 Expired (HTTP or ERROR event) relists; other
// errors back off and retry forever. While the API is unreachable the cache keeps its last contents.
import type { KObject } from '../../model/objects.js';
import { child } from '../../observability/logger.js';
import { ApiStatusError, type KubeClient, type ResourceRef, type WatchEventType } from './client.js';

const log = child('k8s-reflector');

export interface ReflectorOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Keep only objects this returns true for (e.g. our ingress class); others are treated as absent. */
  filter?: (o: KObject) => boolean;
  /** Server-side watch timeout; the watch is renewed after it (and a silent stream is abandoned after +30 s). */
  watchTimeoutSeconds?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often to look for a resource type that is not installed (default 30 s). */
  absentRetryMs?: number;
}

const keyOf = (o: KObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Reflector {
  readonly items = new Map<string, KObject>();
  private rv = '';
  private lastError: string | null = null;
  private synced = false;
  private stopped = true;
  private handle: { abort(): void } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private syncWaiters: (() => void)[] = [];
  /** Bumped on every (re)list/watch start so callbacks of an abandoned stream are ignored. */
  private epoch = 0;

  constructor(
    private readonly client: KubeClient,
    readonly resource: ResourceRef,
    private readonly onChange: () => void,
    private readonly opts: ReflectorOptions = {},
  ) {
    this.backoff = opts.minBackoffMs ?? 200;
  }

  get name(): string {
    return `${this.resource.group || 'core'}/${this.resource.plural}`;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** For /debug/kubernetes. */
  describe(): { synced: boolean; objects: number; resourceVersion: string; watching: boolean; lastError: string | null } {
    return { synced: this.synced, objects: this.items.size, resourceVersion: this.rv, watching: this.handle !== null, lastError: this.lastError };
  }

  /** Resolves after the first successful list. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.epoch++;
    this.handle?.abort();
    this.handle = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.retryTimer = this.idleTimer = null;
  }

  get(namespace: string | undefined, name: string): KObject | undefined {
    return this.items.get(`${namespace ?? ''}/${name}`);
  }

  list(): KObject[] {
    return [...this.items.values()];
  }

  private keep(o: KObject): boolean {
    return !this.opts.filter || this.opts.filter(o);
  }

  private async relist(): Promise<void> {
    const epoch = ++this.epoch;
    try {
      const res = await this.client.list(this.resource, { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector });
      if (epoch !== this.epoch || this.stopped) return;
      let changed = !this.synced;
      const seen = new Set<string>();
      for (const o of res.items) {
        if (!this.keep(o)) continue;
        const k = keyOf(o);
        seen.add(k);
        if (this.items.get(k)?.metadata.resourceVersion !== o.metadata.resourceVersion) changed = true;
        this.items.set(k, o);
      }
      for (const k of [...this.items.keys()]) {
        if (!seen.has(k)) {
          this.items.delete(k);
          changed = true;
        }
      }
      this.rv = res.resourceVersion;
      this.backoff = this.opts.minBackoffMs ?? 200;
      this.lastError = null;
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters.splice(0)) w();
      }
      if (changed) this.onChange();
      void this.watch(epoch);
    } catch (err) {
      if (epoch !== this.epoch || this.stopped) return;
      if (err instanceof ApiStatusError && err.statusCode === 404) return this.absent(epoch);
      this.retry('list failed', err, () => this.relist());
    }
  }

  /**
   * The resource type does not exist (e.g. Knative Eventing is not installed): count as synced and empty, so wharf
   * still starts, and look again now and then in case it gets installed.
   */
  private absent(epoch: number): void {
    if (!this.synced) log.info({ resource: this.name }, 'resource type not installed; treating it as empty');
    const had = this.items.size > 0;
    this.items.clear();
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
      this.onChange();
    } else if (had) this.onChange();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped && epoch === this.epoch) void this.relist();
    }, this.opts.absentRetryMs ?? 30_000);
  }

  private retry(what: string, err: unknown, again: () => void): void {
    this.lastError = `${what}: ${(err as Error)?.message ?? String(err)}`;
    log.warn({ resource: this.name, err: (err as Error)?.message ?? String(err), retryInMs: this.backoff }, `${what}; keeping the last known objects`);
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) again();
    }, wait);
  }

  private armIdle(epoch: number): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const limit = ((this.opts.watchTimeoutSeconds ?? 300) + 30) * 1000;
    // A half-open connection never ends by itself: abandon a watch that has been silent past its server timeout.
    this.idleTimer = setTimeout(() => {
      if (epoch !== this.epoch) return;
      log.warn({ resource: this.name }, 'watch silent past its timeout; re-watching');
      this.epoch++;
      this.handle?.abort();
      void this.watch(this.epoch);
    }, limit);
    this.idleTimer.unref();
  }

  private async watch(epoch: number): Promise<void> {
    let expired = false;
    let ended = false;
    let gotEvent = false;
    const startedAt = Date.now();
    const onEvent = (type: WatchEventType, obj: any): void => {
      if (epoch !== this.epoch) return;
      gotEvent = true;
      this.armIdle(epoch);
      if (type === 'ERROR') {
        if (obj?.code === 410) expired = true;
        else log.warn({ resource: this.name, status: obj }, 'watch error event');
        return;
      }
      if (obj?.metadata?.resourceVersion) this.rv = obj.metadata.resourceVersion;
      if (type === 'BOOKMARK') return;
      const o = obj as KObject;
      const k = keyOf(o);
      if (type === 'DELETED' || !this.keep(o)) {
        if (this.items.delete(k)) this.onChange();
        return;
      }
      this.items.set(k, o);
      this.onChange();
    };
    const onDone = (err: unknown): void => {
      if (ended || epoch !== this.epoch || this.stopped) return;
      ended = true;
      this.handle = null;
      if (expired || (err instanceof Error && (err as { statusCode?: number }).statusCode === 410)) {
        log.info({ resource: this.name }, 'resourceVersion expired; relisting');
        void this.relist();
      } else if (err) {
        this.epoch++;
        const next = this.epoch;
        this.retry('watch failed', err, () => void this.watch(next));
      } else if (Date.now() - startedAt < 1000 && !gotEvent) {
        // A stream that ends at once with nothing in it (a proxy cutting watches?): do not spin, back off.
        this.epoch++;
        const next = this.epoch;
        this.retry('watch ended immediately', new Error('empty watch stream'), () => void this.watch(next));
      } else {
        this.backoff = this.opts.minBackoffMs ?? 200;
        this.epoch++;
        void this.watch(this.epoch);
      }
    };
    try {
      this.armIdle(epoch);
      const h = await this.client.watch(
        this.resource,
        { resourceVersion: this.rv, labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300 },
        onEvent,
        onDone,
      );
      if (epoch !== this.epoch || this.stopped) h.abort();
      else this.handle = h;
    } catch (err) {
      onDone(err instanceof ApiStatusError ? Object.assign(new Error(err.message), { statusCode: err.statusCode }) : err);
    }
  }
}
