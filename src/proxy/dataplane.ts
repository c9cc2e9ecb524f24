// The request entry point of both planes: it owns what every request context needs (the live snapshot getter,
// live backends, upstream pools, built-in handlers) and starts one Exchange per request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plane, Snapshot } from '../model/snapshot.js';
import type { Backends } from '../backends/types.js';
import type { LocalHandler } from './handler.js';
import { Exchange } from './forwarder.js';
import { Pools } from './pools.js';

/** What a listener tells the data plane about its connections. */
export interface ListenerInfo {
  plane: Plane;
  /** Downstream scheme, for X-Forwarded-Proto and the HTTPS redirect. */
  scheme: 'http' | 'https';
}

export interface DataPlaneOptions {
  snapshot: () => Snapshot | null;
  backends: Backends;
  handlers?: Map<string, LocalHandler>;
  pools?: Pools;
}

export class DataPlane {
  readonly snapshot: () => Snapshot | null;
  readonly backends: Backends;
  readonly handlers: Map<string, LocalHandler>;
  readonly pools: Pools;
  /** Set by the runtime on SIGTERM: responses carry Connection: close so clients move elsewhere. */
  draining = false;
  /**
   * Optional hook that sees every request before routing and may answer it (returns true), e.g. ACME HTTP-01
   * challenges on any host. One null check per request when unset.
   */
  intercept: ((req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => boolean) | null = null;

  constructor(opts: DataPlaneOptions) {
    this.snapshot = opts.snapshot;
    this.backends = opts.backends;
    this.handlers = opts.handlers ?? new Map();
    this.pools = opts.pools ?? new Pools();
  }

  /** Serve one request on the given plane. */
  handle(req: IncomingMessage, res: ServerResponse, listener: ListenerInfo): void {
    if (this.intercept !== null && this.intercept(req, res, listener)) return;
    new Exchange(this, req, res, listener).run();
  }

  /** A request listener bound to one plane, for http.createServer. */
  listener(info: ListenerInfo): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => this.handle(req, res, info);
  }

  async close(): Promise<void> {
    await this.pools.close();
  }
}
