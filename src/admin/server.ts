// The admin listener (127.0.0.1:9000 by default): health, readiness, Prometheus metrics and a small registry of
// JSON debug endpoints that each capability fills in (`registerDebug('/debug/routes', () => ...)`).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from '../observability/metrics.js';
import { child } from '../observability/logger.js';

const log = child('admin');

export interface AdminState {
  /** The first configuration is live. */
  ready(): boolean;
  /** SIGTERM received: /readyz turns 503 so load balancers stop sending. */
  draining(): boolean;
}

export type DebugProvider = () => unknown | Promise<unknown>;

export class AdminServer {
  readonly server: http.Server;
  private readonly debug = new Map<string, DebugProvider>();

  constructor(private readonly state: AdminState) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        log.error({ err, path: req.url }, 'admin endpoint failed');
        if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${err.message}\n`);
        else res.destroy();
      });
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Add (or replace) a JSON debug endpoint, e.g. `/debug/revisions`. */
  registerDebug(path: string, provider: DebugProvider): void {
    this.debug.set(path, provider);
  }

  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(res, 200, 'text/plain', 'ok\n');
      case '/readyz':
        if (this.state.draining()) return send(res, 503, 'text/plain', 'draining\n');
        if (!this.state.ready()) return send(res, 503, 'text/plain', 'not ready: no configuration is live yet\n');
        return send(res, 200, 'text/plain', 'ready\n');
      case '/metrics':
        return send(res, 200, registry.contentType, await registry.metrics());
      case '/debug':
      case '/debug/':
        return sendJSON(res, { endpoints: [...this.debug.keys()].sort() });
    }
    const provider = this.debug.get(path);
    if (provider === undefined) return send(res, 404, 'text/plain', `not found: ${path}\n`);
    return sendJSON(res, await provider());
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function sendJSON(res: http.ServerResponse, value: unknown): void {
  send(res, 200, 'application/json', `${JSON.stringify(value, jsonReplacer, 2)}\n`);
}

/** Maps and Sets (the snapshot is full of them) become plain objects and arrays. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}
