// Downstream listeners of the two planes. This file owns the server and connection settings; TLS, h2c
// prior-knowledge sniffing and upgrade (WebSocket) handling plug in here (see `attach*` hooks below) without
// touching the router or the forwarder.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { DataPlane, ListenerInfo } from './dataplane.js';
import { child } from '../observability/logger.js';

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
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroySoon?.();
}

/** A plain-HTTP listener for one plane (h2c sniffing and upgrades are added here later). */
export function createPlaneServer(dp: DataPlane, info: ListenerInfo): http.Server {
  const server = http.createServer({ ...SERVER_SETTINGS }, dp.listener(info));
  server.headersTimeout = SERVER_SETTINGS.headersTimeout;
  server.requestTimeout = SERVER_SETTINGS.requestTimeout;
  server.keepAliveTimeout = SERVER_SETTINGS.keepAliveTimeout;
  server.on('clientError', onClientError);
  return server;
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
