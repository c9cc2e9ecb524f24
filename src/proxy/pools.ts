// One undici Pool per upstream origin, kept in an LRU so endpoints that come and go (pods, restarted processes)
// do not leak sockets: evicting a pool closes it gracefully (in-flight requests finish first).
import { Pool, type Dispatcher } from 'undici';
import { H2Upstream } from './h2-upstream.js';
import { LRUCache } from 'lru-cache';

export interface PoolOptions {
  /** Most origins kept open at once. */
  max?: number;
  /** Idle keep-alive time towards upstreams; below the usual 5 s of Node/Go servers so we never reuse a dying socket. */
  keepAliveTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** What the forwarder dispatches through: an undici Pool (HTTP/1.1) or our h2c session (gRPC-safe trailers). */
export interface Upstream {
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  close(): Promise<void>;
}

function closePool(pool: Upstream): void {
  pool.close().catch(() => undefined);
}

export class Pools {
  private readonly cache: LRUCache<string, Upstream>;
  private readonly keepAliveTimeout: number;
  private readonly connectTimeout: number;

  constructor(opts: PoolOptions = {}) {
    this.cache = new LRUCache<string, Upstream>({ max: opts.max ?? 1024, dispose: closePool });
    this.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 4_000;
    this.connectTimeout = opts.connectTimeoutMs ?? 5_000;
  }

  /** The dispatcher for an endpoint: a keep-alive Pool (HTTP/1.1) or one multiplexed h2c session (h2c upstreams). */
  get(origin: string, protocol: 'http1' | 'h2c' = 'http1'): Upstream {
    const key = protocol === 'h2c' ? `h2c+${origin}` : origin;
    let p = this.cache.get(key);
    if (p === undefined && protocol === 'h2c') {
      p = new H2Upstream(origin, { connectTimeoutMs: this.connectTimeout });
      this.cache.set(key, p);
    } else if (p === undefined) {
      p = new Pool(origin, {
        // Proxying: no pipelining (head-of-line blocking, unsafe for non-idempotent requests); keep-alive on.
        pipelining: 1,
        keepAliveTimeout: this.keepAliveTimeout,
        // No gateway timeouts (Knative): the revision's timeoutSeconds is enforced by the request context.
        headersTimeout: 0,
        bodyTimeout: 0,
        connect: { timeout: this.connectTimeout },
      });
      this.cache.set(key, p);
    }
    return p;
  }

  /** Drop one origin's pool (e.g. its endpoint went away). */
  evict(origin: string): void {
    this.cache.delete(origin);
    this.cache.delete(`h2c+${origin}`);
  }

  async close(): Promise<void> {
    const pools = [...this.cache.values()];
    this.cache.clear(); // dispose starts each pool's graceful close
    await Promise.allSettled(pools.map((p) => p.close()));
  }
}
