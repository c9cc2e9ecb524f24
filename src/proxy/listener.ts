// Downstream listeners of the two planes. This file owns the server and connection settings, h2c prior-knowledge
// sniffing (h1 and h2c share a port) and the hand-off of upgrades (WebSocket) to websocket.ts; the TLS listeners
// are in tls-listeners.ts. The router and the forwarder do not know which listener a request came from.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { DataPlane, ListenerInfo } from './dataplane.js';
import { child } from '../observability/logger.js';
import { proxyUpgrade } from './websocket.js';
import { rawReply } from './raw-reply.js';

const log = child('listener');

export interface ListenOptions {
  port: number;
  host?: string;
}

/** Server settings for a gateway facing arbitrary clients. */
export const SERVER_SETTINGS = {
  // A client may take 10 s to send its headers; after that the request has no gateway timeout (Knative).
  headersTimeout: 10_000,
  requestTimeout: 0,
  // Longer than common load-balancer idle timeouts (60 s) so the LB, not us, closes idle connections.
  keepAliveTimeout: 65_000,
  maxHeaderSize: 16 * 1024,
  noDelay: true,
  // How often Node checks headersTimeout/requestTimeout (default 30 s would let a slow client hold 40 s, not 10).
  connectionsCheckingInterval: 1_000,
} as const;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};

/** What to answer for a parse error from Node's HTTP parser. */
export function clientErrorStatus(code: string | undefined): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return 408;
    case 'HPE_URI_TOO_LONG':
      return 414;
    default:
      return 400;
  }
}

/**
 * Answer a malformed request with a proper 4xx and close the connection; never throw. Resets are expected on the
 * open internet and are not worth a log line.
 */
export function onClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  // A response is already on the wire for this connection: nothing sensible can be written any more.
  const inFlight = (socket as unknown as { _httpMessage?: http.ServerResponse })._httpMessage;
  if (inFlight && inFlight.headersSent) {
    socket.destroy();
    return;
  }
  const status = clientErrorStatus(err.code);
  const body = `${REASONS[status]}: ${err.code ?? 'malformed request'}\n`;
  log.debug({ code: err.code, remote: socket.remoteAddress }, 'rejected malformed request');
  rawReply(socket, status, body, '', REASONS[status]);
  socket.destroySoon?.();
}

/** The HTTP/2 connection preface a prior-knowledge (h2c) client sends first (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** HTTP/2 settings shared by the cleartext and TLS listeners: bounded streams, a window large enough for bulk bodies. */
export const H2_SETTINGS = {
  maxConcurrentStreams: 256,
  // 1 MiB per stream instead of 64 KiB, so one upload/download is not throttled by window updates on each round trip.
  initialWindowSize: 1 << 20,
  maxHeaderListSize: SERVER_SETTINGS.maxHeaderSize,
} as const;
/** Per-session memory (MB) before Node refuses new streams; bounds what one abusive client can make us hold. */
export const H2_MAX_SESSION_MEMORY = 32;
const H2_SESSION_WINDOW = 8 << 20;

function onH2Session(this: http2.Http2Server | http2.Http2SecureServer, session: http2.ServerHttp2Session): void {
  // The session-level window must grow too, or all streams share the 64 KiB default.
  session.once('localSettings', () => session.setLocalWindowSize(H2_SESSION_WINDOW));
  session.on('error', () => session.destroy());
  // Like HTTP/1.1 keep-alive: a session with no frames for this long gets a GOAWAY (open streams still finish).
  session.setTimeout(SERVER_SETTINGS.keepAliveTimeout, () => session.close());
}

/** An HTTP/2 server (cleartext or TLS) with wharf's settings and quiet session errors. */
export function configureH2(server: http2.Http2Server | http2.Http2SecureServer): void {
  server.on('session', onH2Session);
  // Protocol errors from one client are that client's problem; Node closes its session.
  server.on('sessionError', () => undefined);
}

/**
 * One plane's plain-HTTP port, serving HTTP/1.1 and cleartext HTTP/2 with prior knowledge on the same socket: the
 * first bytes of each connection decide (the h2 preface goes to an http2 server, anything else to this server).
 * It stays an `http.Server` so listen/close/drain work as before; h2 sessions are closed alongside h1 connections.
 */
export class PlaneServer extends http.Server {
  readonly h2: http2.Http2Server;
  private readonly h1Connection: (socket: Socket) => void;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Connections whose first bytes have not arrived yet: idle by definition, closed first on drain. */
  private readonly sniffing = new Set<Socket>();
  /** Upgraded (WebSocket) connections: Node no longer tracks them as HTTP connections, so drain cuts them here. */
  private readonly upgraded = new Set<Socket>();

  constructor(dp: DataPlane, info: ListenerInfo) {
    super({ ...SERVER_SETTINGS }, dp.listener(info));
    this.headersTimeout = SERVER_SETTINGS.headersTimeout;
    this.requestTimeout = SERVER_SETTINGS.requestTimeout;
    this.keepAliveTimeout = SERVER_SETTINGS.keepAliveTimeout;
    this.on('clientError', onClientError);
    this.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      proxyUpgrade(dp, req, socket, head, info);
    });
    this.h2 = http2.createServer({ settings: H2_SETTINGS, maxSessionMemory: H2_MAX_SESSION_MEMORY }, dp.listener(info) as never);
    configureH2(this.h2);
    this.h2.on('session', (s: http2.ServerHttp2Session) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
    // Node's own h1 connection handler is replaced by the sniffer, which calls it for non-h2 connections.
    const h1 = this.listeners('connection') as ((socket: Socket) => void)[];
    this.h1Connection = h1[0];
    this.removeAllListeners('connection');
    this.on('connection', (socket: Socket) => this.sniff(socket));
  }

  private sniff(socket: Socket): void {
    let buf: Buffer | null = null;
    const sniffing = this.sniffing;
    sniffing.add(socket);
    const done = (h2: boolean) => {
      sniffing.delete(socket);
      socket.off('close', onClose);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('timeout', onTimeout);
      socket.setTimeout(0);
      socket.pause();
      if (buf !== null) socket.unshift(buf);
      if (h2) this.h2.emit('connection', socket);
      else {
        this.h1Connection.call(this, socket);
        // Node's parser reads later bytes straight from the handle; the peeked ones wait in the stream buffer
        // and only flow (into the same parser) once the socket is resumed.
        socket.resume();
      }
    };
    const onData = (chunk: Buffer) => {
      buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, H2_PREFACE.length);
      if (buf.compare(H2_PREFACE, 0, n, 0, n) !== 0) return done(false);
      if (buf.length >= H2_PREFACE.length) done(true);
      // else: a prefix of the preface so far; wait for more bytes.
    };
    const onError = () => socket.destroy();
    const onClose = () => sniffing.delete(socket);
    // A connection that sends nothing is held no longer than a slow client's headers would be.
    const onTimeout = () => socket.destroy();
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('timeout', onTimeout);
    socket.on('close', onClose);
    socket.setTimeout(SERVER_SETTINGS.headersTimeout);
    socket.setNoDelay(true);
  }

  /** Drain: h1 idle connections close now; h2 sessions get a GOAWAY and close once their streams finish. */
  override closeIdleConnections(): void {
    super.closeIdleConnections();
    for (const s of this.sniffing) s.destroy();
    for (const s of this.sessions) s.close();
  }

  override closeAllConnections(): void {
    super.closeAllConnections();
    for (const s of this.sniffing) s.destroy();
    for (const s of this.upgraded) s.destroy();
    for (const s of this.sessions) s.destroy();
  }
}

/** A plain-HTTP listener for one plane: HTTP/1.1, h2c prior knowledge and upgrades (WebSocket) on one port. */
export function createPlaneServer(dp: DataPlane, info: ListenerInfo): http.Server {
  return new PlaneServer(dp, info);
}

export function listen(server: http.Server | import('node:net').Server, opts: ListenOptions): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Stop accepting, let in-flight requests finish for up to `timeoutMs`, then cut what is left. Idle keep-alive
 * connections are closed at once.
 */
export function closeGracefully(server: http.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
