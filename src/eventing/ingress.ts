// Broker and channel ingress: the LocalHandlers the router calls for the broker-ingress and <name>-kn-channel
// hosts. Knative's order of checks (pkg/broker/ingress/ingress_handler.go): OPTIONS / 405 → path → parse (400)
// → broker lookup (404, so a malformed event to an unknown broker is 400) → TTL (400) → durable append → 202.
// Our additions: 413 over the configured body limit, 503 when the log cannot commit.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalHandler, LocalRequest } from '../proxy/handler.js';
import { CodecError, decodeMessage } from './codec.js';
import { ARRIVAL_EXT, TTL_EXT, type CloudEvent } from './event.js';

export interface IngestTarget {
  /** Body limit in bytes (config-wharf broker-max-event-bytes). */
  maxEventBytes(): number;
  /** Broker key for `ns/name`, if wharf serves it. */
  hasBroker(key: string): boolean;
  /** Channel key for a request host, if any. */
  channelForHost(host: string): string | undefined;
  /** Durable append; `done(status, message)` with 202 / 400 (TTL) / 404 / 503. */
  ingest(kind: 'broker' | 'channel', key: string, ev: CloudEvent, done: (status: number, message: string | null) => void): void;
}

const ALLOW = 'POST, OPTIONS';

function reply(res: ServerResponse, status: number, message: string | null, close = false): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { allow: ALLOW };
  if (close) headers.connection = 'close';
  if (message) {
    headers['content-type'] = 'text/plain; charset=utf-8';
    res.writeHead(status, headers).end(message + '\n');
  } else res.writeHead(status, headers).end();
}

/**
 * Knative's TTL defaulter: absent or not an integer → the configured maximum; otherwise decrement by one (floor 0).
 * Returns false when the event has no hops left (the ingress answers 400).
 */
export function applyTtl(ev: CloudEvent, maxTtl: number): boolean {
  const raw = ev.attrs[TTL_EXT];
  let ttl = maxTtl;
  if (raw !== undefined) {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (Number.isInteger(n)) ttl = Math.max(0, n - 1);
  }
  ev.attrs[TTL_EXT] = ttl;
  return ttl > 0;
}

export function stampArrival(ev: CloudEvent): void {
  ev.attrs[ARRIVAL_EXT] = new Date().toISOString();
}

/** Buffer the body up to the limit; 413 (and close the connection) beyond it. */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number, then: (body: Buffer) => void): void {
  const cl = req.headers['content-length'];
  if (cl !== undefined && Number(cl) > limit) {
    reply(res, 413, `event body over ${limit} bytes`, true);
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  req.on('data', (c: Buffer) => {
    if (over) return;
    size += c.length;
    if (size > limit) {
      over = true;
      chunks.length = 0;
      reply(res, 413, `event body over ${limit} bytes`, true);
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (!over) then(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  });
  req.on('error', () => {
    over = true;
  });
}

abstract class IngressBase implements LocalHandler {
  constructor(protected readonly target: IngestTarget) {}

  handle(req: IncomingMessage, res: ServerResponse, ctx: LocalRequest): void {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(200, { allow: ALLOW, 'webhook-allowed-origin': '*', 'webhook-allowed-rate': '*', 'content-length': '0' }).end();
      req.resume();
      return;
    }
    if (method !== 'POST') {
      reply(res, 405, null);
      req.resume();
      return;
    }
    this.post(req, res, ctx);
  }

  protected abstract post(req: IncomingMessage, res: ServerResponse, ctx: LocalRequest): void;

  protected accept(req: IncomingMessage, res: ServerResponse, kind: 'broker' | 'channel', resolveKey: () => string | undefined): void {
    readBody(req, res, this.target.maxEventBytes(), (body) => {
      let ev: CloudEvent;
      try {
        ev = decodeMessage(req.headers, body);
      } catch (e) {
        reply(res, 400, e instanceof CodecError ? e.message : 'invalid CloudEvent');
        return;
      }
      const key = resolveKey();
      if (key === undefined) {
        reply(res, 404, `${kind} not found`);
        return;
      }
      this.target.ingest(kind, key, ev, (status, message) => reply(res, status, message));
    });
  }
}

/** `POST /<namespace>/<broker>` on the broker-ingress host(s). */
export class BrokerIngress extends IngressBase {
  protected post(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    if (path === '/' || path === '') {
      reply(res, 404, 'no broker in path');
      req.resume();
      return;
    }
    if (path.endsWith('/')) path = path.slice(0, -1);
    const parts = path.split('/');
    // ['', ns, name]
    if (parts.length !== 3 || parts[1] === '' || parts[2] === '') {
      reply(res, 400, 'path must be /<namespace>/<broker>');
      req.resume();
      return;
    }
    let key: string;
    try {
      key = `${decodeURIComponent(parts[1]!)}/${decodeURIComponent(parts[2]!)}`;
    } catch {
      reply(res, 400, 'path must be /<namespace>/<broker>');
      req.resume();
      return;
    }
    this.accept(req, res, 'broker', () => (this.target.hasBroker(key) ? key : undefined));
  }
}

/** Any path on `<name>-kn-channel.<ns>.svc.<cluster-domain>` (and its short forms). */
export class ChannelIngress extends IngressBase {
  protected post(req: IncomingMessage, res: ServerResponse, ctx: LocalRequest): void {
    const host = (ctx?.host ?? req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    this.accept(req, res, 'channel', () => this.target.channelForHost(host));
  }
}
