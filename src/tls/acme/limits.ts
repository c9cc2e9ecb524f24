// Sliding-window limits for handshake-time orders: at most `max` events per `windowMs`, per key.
// The key sets are bounded by routed names, so the maps stay small; old entries are pruned on use.

export class WindowLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(
    private max: number,
    private windowMs: number,
  ) {}

  configure(max: number, windowMs: number): void {
    this.max = max;
    this.windowMs = windowMs;
  }

  /** Records an event and returns true when the key is under its limit; false (nothing recorded) otherwise. */
  take(key: string, now: number): boolean {
    const list = (this.events.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length >= this.max) {
      this.events.set(key, list);
      return false;
    }
    list.push(now);
    this.events.set(key, list);
    return true;
  }

  /** Whether `take` would succeed, without recording anything. */
  allows(key: string, now: number): boolean {
    const list = this.events.get(key);
    if (!list) return this.max > 0;
    let n = 0;
    for (const t of list) if (t > now - this.windowMs) n++;
    return n < this.max;
  }
}

/** The rate-limit bucket of a name: its parent domain (one label off), so one wildcard-DNS zone shares a limit. */
export function parentDomain(host: string): string {
  const dot = host.indexOf('.');
  const parent = dot > 0 ? host.slice(dot + 1) : host;
  return parent.includes('.') ? parent : host;
}
