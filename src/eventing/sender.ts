// Outbound HTTP for deliveries, dead-letter sends and remote replies: one shared undici Agent (keep-alive pools
// per origin). A Knative Service subscriber (via 'internal') is sent THROUGH wharf's internal listener, with Host
// set to its cluster-local name, so it gets the same routing, activator buffering and scale-from-zero as any
// other cluster-local request.
import { Agent, request } from 'undici';
import type { Destination } from '../model/eventing.js';

export interface SendResult {
  /** HTTP status, or 0 for a transport error / timeout. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Transport error text when status is 0. */
  error: string | null;
}

export interface SenderOptions {
  /** Origin of wharf's internal (cluster-local) listener, e.g. http://127.0.0.1:8081; unset = send direct. */
  internalOrigin?: string | null;
  /** Largest response body read (a reply event); bigger responses are failures. */
  maxResponseBytes?: number;
  connections?: number;
}

const EMPTY = Buffer.alloc(0);

export class Sender {
  private readonly agent: Agent;
  internalOrigin: string | null;
  private readonly maxResponseBytes: number;

  constructor(opts: SenderOptions = {}) {
    this.internalOrigin = opts.internalOrigin ?? null;
    this.maxResponseBytes = opts.maxResponseBytes ?? 4 << 20;
    this.agent = new Agent({ connections: opts.connections ?? 128, pipelining: 1, keepAliveTimeout: 4_000, connect: { timeout: 5_000 } });
  }

  /** POST `body` with flat [name, value, ...] `headers` to `dest`; never throws. */
  async post(dest: Destination, headers: string[], body: Buffer | string | null, timeoutMs: number): Promise<SendResult> {
    let url: URL;
    try {
      url = new URL(dest.url);
    } catch {
      return { status: 0, headers: {}, body: EMPTY, error: `invalid URL ${dest.url}` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { status: 0, headers: {}, body: EMPTY, error: `unsupported URL scheme ${url.protocol}` };
    }
    let target = url.toString();
    if (dest.via === 'internal' && this.internalOrigin) {
      target = this.internalOrigin + url.pathname + url.search;
      headers.push('host', url.host);
    }
    try {
      const res = await request(target, {
        method: 'POST',
        headers,
        body: body ?? undefined,
        dispatcher: this.agent,
        // Per-attempt timeout (Knative delivery.timeout covers the whole exchange). undici's own header/body
        // timeouts are coarse (~1 s resolution), so use a precise abort signal.
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (res.headers['content-length'] === '0') {
        await res.body.dump();
        return { status: res.statusCode, headers: res.headers, body: EMPTY, error: null };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res.body) {
        size += (c as Buffer).length;
        if (size > this.maxResponseBytes) {
          res.body.destroy();
          return { status: 0, headers: {}, body: EMPTY, error: `response body over ${this.maxResponseBytes} bytes` };
        }
        chunks.push(c as Buffer);
      }
      return { status: res.statusCode, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), error: null };
    } catch (e) {
      const err = e as Error & { code?: string };
      const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
      const msg = timedOut ? `timeout after ${timeoutMs} ms` : `${err.code ?? err.name}: ${err.message}`;
      return { status: 0, headers: {}, body: EMPTY, error: msg };
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}
