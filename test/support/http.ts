// Real-socket helpers shared by tests: backends on port 0, an HTTP client that can set any Host, and a raw-socket
// client for requests Node's own client refuses to send.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Agent, request as undiciRequest } from 'undici';

export interface Backend {
  port: number;
  origin: string;
  server: http.Server;
  /** Requests seen, in order (headers lower-cased as Node gives them). */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: string }[];
  close(): Promise<void>;
}

export type BackendHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** Listen on 127.0.0.1:0; close() also drops kept-alive connections so tests end promptly. */
async function listen(server: http.Server, seen: Backend['seen']): Promise<Backend> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    server,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** The default backend answer: 200 with a JSON echo of what arrived, plus X-Backend: name. */
export function echo(name: string): BackendHandler {
  return (req, res, body) => {
    const payload = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-backend': name });
    res.end(payload);
  };
}

/** Start an HTTP backend on 127.0.0.1:0. The handler gets the request body already read (as text). */
export async function startBackend(handler: BackendHandler | string = 'backend'): Promise<Backend> {
  const h = typeof handler === 'string' ? echo(handler) : handler;
  const seen: Backend['seen'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      h(req, res, body);
    });
  });
  return listen(server, seen);
}

/** A Node backend that streams the request straight back (for large bodies; nothing is buffered). */
export async function startStreamingEcho(): Promise<Backend> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
  });
  return listen(server, []);
}

/** A port that nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const sharedAgent = new Agent({ keepAliveTimeout: 1000, connections: 64 });

/** One HTTP request to 127.0.0.1:port with any Host header. */
export async function get(
  port: number,
  host: string,
  path = '/',
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: Agent } = {},
): Promise<Reply> {
  const res = await undiciRequest(`http://127.0.0.1:${port}${path}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: { host, ...opts.headers },
    body: opts.body,
    dispatcher: opts.agent ?? sharedAgent,
  });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

/** Parse the JSON echo of the default backend. */
export function echoed(r: Reply): { backend: string; method: string; url: string; headers: Record<string, string>; body: string } {
  return JSON.parse(r.body);
}

/**
 * Write raw bytes to 127.0.0.1:port and collect everything until the server closes the connection (or `waitMs`
 * passes). Returns the text and the parsed status of the first response.
 */
export function raw(port: number, text: string | Buffer, waitMs = 3000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const t = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(t);
      resolve({ status: m ? Number(m[1]) : 0, text: t });
    };
    const timer = setTimeout(() => {
      sock.destroy();
      done();
    }, waitMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('close', done);
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') return; // 'close' follows
      clearTimeout(timer);
      reject(err);
    });
    sock.write(text);
  });
}

/** Fire `n` requests with at most `concurrency` in flight; returns the replies in order. */
export async function many(n: number, concurrency: number, fn: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const out: Reply[] = new Array(n);
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  });
  await Promise.all(workers);
  return out;
}

export async function closeAgent(): Promise<void> {
  await sharedAgent.close();
}
