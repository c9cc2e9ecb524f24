// A Backends double for data-plane unit tests: every target hands out its first static URL at once (or rejects
// with 503 when it has none), and counts acquire/release so tests can check "release exactly once".
import type { BackendSpec } from '../../src/model/snapshot.js';
import { Outcome, type Backends, type Endpoint, type Target, type Waiter } from '../../src/backends/types.js';

export class FakeTarget implements Target {
  acquired = 0;
  released: Outcome[] = [];
  cancelled = 0;
  /** When set, acquire() queues the waiter instead of granting (tests grant or reject by hand). */
  hold = false;
  queue: Waiter[] = [];
  constructor(public spec: BackendSpec) {}
  get key(): string {
    return this.spec.key;
  }
  endpoint(): Endpoint | null {
    const s = this.spec.source;
    const url = s.kind === 'static' ? s.urls[0] : undefined;
    return url ? { origin: new URL(url).origin, protocol: this.spec.protocol } : null;
  }
  acquire(w: Waiter): Endpoint | null {
    const ep = this.endpoint();
    if (ep === null) {
      w.onRejected(503, 'no ready endpoint');
      return null;
    }
    if (this.hold) {
      this.queue.push(w);
      return null;
    }
    this.acquired++;
    return ep;
  }
  grantAll(): void {
    for (const w of this.queue.splice(0)) {
      this.acquired++;
      w.onGranted(this.endpoint()!);
    }
  }
  cancel(w: Waiter): void {
    const i = this.queue.indexOf(w);
    if (i >= 0) this.queue.splice(i, 1);
    this.cancelled++;
  }
  release(_e: Endpoint, outcome: Outcome): void {
    this.released.push(outcome);
  }
}

export class FakeBackends implements Backends {
  readonly targets = new Map<string, FakeTarget>();
  sync(specs: ReadonlyMap<string, BackendSpec>): void {
    for (const [k, spec] of specs) {
      const t = this.targets.get(k);
      if (t) t.spec = spec;
      else this.targets.set(k, new FakeTarget(spec));
    }
    for (const k of [...this.targets.keys()]) if (!specs.has(k)) this.targets.delete(k);
  }
  get(key: string): Target | undefined {
    return this.targets.get(key);
  }
  async close(): Promise<void> {}
}

export { Outcome };
