// HTTP/1.1 upgrades (WebSocket, or any other protocol a backend agrees to): route the upgrade request like any
// other, pick the split once, hold the backend's capacity for the whole connection, open an HTTP/1.1 upgrade to
// the endpoint and, after its 101, pipe the two sockets (pipe() gives backpressure both ways). A backend that
// declines the upgrade has its response relayed and the connection closed.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Plane, Snapshot } from '../model/snapshot.js';
import { registerConfigKeys } from '../model/config.js';
import { parseSecondsOrDuration } from '../model/duration.js';
import { Outcome, type Endpoint, type Target, type Waiter } from '../backends/types.js';
import { addTargetHeaders, forwardHeaders, peerAddress, type ForwardInfo, type ForwardResult } from './headers.js';
import { hostKey, lookupHost, matchRoute, pickSplit, redirectsToHttps, requestPath } from './router.js';
import { proxyMetrics } from './metrics.js';
import { rawReply } from './raw-reply.js';
import { classifyUpstreamError } from './forwarder.js';
import type { DataPlane, ListenerInfo } from './dataplane.js';
import { child } from '../observability/logger.js';
import { logAccess } from '../observability/access-log.js';

const log = child('websocket');

export const WEBSOCKET_IDLE_KEY = 'websocket-idle-timeout';
const DEFAULT_IDLE_SECONDS = 3600;

registerConfigKeys([
  {
    configMap: 'config-wharf',
    key: WEBSOCKET_IDLE_KEY,
    default: '1h',
    doc: 'An upgraded (WebSocket) connection with no traffic in either direction for this long is closed (seconds or Go duration; 0 = never).',
  },
]);

const idleCache = new WeakMap<Snapshot, number>();

/** The idle limit of upgraded connections in ms (0 = none), parsed once per snapshot. */
export function websocketIdleMs(snapshot: Snapshot): number {
  let ms = idleCache.get(snapshot);
  if (ms !== undefined) return ms;
  const raw = snapshot.config.raw['config-wharf']?.[WEBSOCKET_IDLE_KEY];
  let seconds = DEFAULT_IDLE_SECONDS;
  if (raw !== undefined && raw.trim() !== '') {
    const s = parseSecondsOrDuration(raw);
    if (s === null || s < 0) log.warn({ key: WEBSOCKET_IDLE_KEY, value: raw }, `config-wharf ${WEBSOCKET_IDLE_KEY}: "${raw}" is not a duration; using ${DEFAULT_IDLE_SECONDS}s`);
    else seconds = s;
  }
  ms = Math.round(seconds * 1000);
  idleCache.set(snapshot, ms);
  return ms;
}

function head(status: number, message: string | undefined, raw: string[]): string {
  let s = `HTTP/1.1 ${status} ${message || http.STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i < raw.length; i += 2) s += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return s + '\r\n';
}

function destroyPeer(this: Socket & { [kPeer]?: Socket }): void {
  this[kPeer]?.destroy();
}
function onIdle(this: Socket & { [kPeer]?: Socket }): void {
  this[kPeer]?.destroy();
  this.destroy();
}
function destroySelf(this: Socket): void {
  this.destroy();
}
const kPeer = Symbol('wharf.peer');

/** One upgraded connection: the capacity waiter, then the tunnel between the client and backend sockets. */
class Tunnel implements Waiter, ForwardInfo {
  queuedBytes = 0;
  queueSlot?: unknown = undefined;
  remoteAddress: string;
  scheme: string;
  rewriteHost: string | null = null;
  routeHeaders: ForwardInfo['routeHeaders'] = [];
  splitHeaders: ForwardInfo['splitHeaders'] = [];
  revision = '';
  namespace = '';
  target: Target | null = null;
  endpoint: Endpoint | null = null;
  upstream: http.ClientRequest | null = null;
  upgraded = false;
  released = false;
  queued = false;
  clientGone = false;
  private readonly start = performance.now();
  private status = 0;
  requestId = '';
  logAccess = true;

  constructor(
    readonly dp: DataPlane,
    readonly req: http.IncomingMessage,
    readonly socket: Socket,
    readonly head: Buffer,
    readonly plane: Plane,
    scheme: string,
    readonly path: string,
    readonly idleMs: number,
  ) {
    this.scheme = scheme;
    this.remoteAddress = peerAddress(socket.remoteAddress);
    socket.once('close', () => this.onClientClose());
  }

  onGranted(ep: Endpoint): void {
    this.queued = false;
    if (this.clientGone) {
      this.target!.release(ep, Outcome.Aborted);
      return;
    }
    this.connect(ep);
  }

  onRejected(status: number, reason: string, retryAfterSeconds?: number): void {
    this.queued = false;
    if (this.clientGone) return;
    proxyMetrics.upstreamError(this.target!.spec, status === 504 ? 'timeout' : 'no_endpoint');
    this.reply(status, reason.endsWith('\n') ? reason : `${reason}\n`, retryAfterSeconds !== undefined ? `Retry-After: ${Math.ceil(retryAfterSeconds)}\r\n` : '');
  }

  reply(status: number, body: string, extra = ''): void {
    this.status = status;
    rawReply(this.socket, status, body, extra);
  }

  connect(ep: Endpoint): void {
    this.endpoint = ep;
    const fwd: ForwardResult = { headers: [], requestId: '' };
    forwardHeaders(this.req.rawHeaders, this, fwd);
    this.requestId = fwd.requestId;
    addTargetHeaders(fwd.headers, this.target!.requestHeaders);
    // Connection/Upgrade are hop-by-hop and were dropped; an upgrade re-asks for the same protocol hop by hop.
    fwd.headers.push('connection', 'upgrade', 'upgrade', this.req.headers.upgrade ?? 'websocket');
    const url = new URL(ep.origin);
    const up = http.request({
      host: url.hostname,
      port: url.port || 80,
      method: this.req.method,
      path: this.path,
      headers: fwd.headers as unknown as http.OutgoingHttpHeaders,
      agent: false,
      setHost: false,
    });
    this.upstream = up;
    up.on('upgrade', (res: http.IncomingMessage, usock: Socket, uhead: Buffer) => this.onUpgrade(res, usock, uhead));
    up.on('response', (res: http.IncomingMessage) => this.onDeclined(res));
    up.on('error', (err: Error & { code?: string }) => this.onUpstreamError(err));
    up.end();
  }

  private onUpgrade(res: http.IncomingMessage, usock: Socket, uhead: Buffer): void {
    const client = this.socket;
    if (this.clientGone || !client.writable) {
      usock.destroy();
      return this.release(Outcome.Aborted);
    }
    this.upgraded = true;
    this.status = 101;
    // Response headers as the backend sent them (Upgrade/Connection/Sec-WebSocket-Accept belong to this exchange).
    client.write(head(101, res.statusMessage, res.rawHeaders));
    if (uhead.length > 0) client.write(uhead);
    if (this.head.length > 0) usock.write(this.head);
    client.setNoDelay(true);
    usock.setNoDelay(true);
    (client as Socket & { [kPeer]?: Socket })[kPeer] = usock;
    (usock as Socket & { [kPeer]?: Socket })[kPeer] = client;
    // Either side closing takes the other down: pipe() ends the peer only on a clean end, not on a reset.
    client.on('close', destroyPeer);
    usock.on('error', destroyPeer);
    usock.on('close', destroyPeer);
    if (this.idleMs > 0) {
      // The socket timer restarts on every read and write, so this fires only when neither side has moved.
      client.setTimeout(this.idleMs, onIdle);
      usock.setTimeout(this.idleMs, onIdle);
    }
    usock.pipe(client);
    client.pipe(usock);
    client.resume();
  }

  /** The backend answered with a normal response: pass it on and close (the client asked for a one-shot upgrade). */
  private onDeclined(res: http.IncomingMessage): void {
    this.status = res.statusCode ?? 502;
    const client = this.socket;
    if (this.clientGone || !client.writable) {
      res.destroy();
      return this.release(Outcome.Aborted);
    }
    const raw: string[] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const n = res.rawHeaders[i].toLowerCase();
      if (n === 'connection' || n === 'keep-alive' || n === 'transfer-encoding' || n === 'upgrade') continue;
      raw.push(res.rawHeaders[i], res.rawHeaders[i + 1]);
    }
    raw.push('Connection', 'close');
    client.write(head(this.status, res.statusMessage, raw));
    res.pipe(client);
    res.once('end', () => this.release(Outcome.Ok));
  }

  private onUpstreamError(err: Error & { code?: string }): void {
    if (this.upgraded) return; // the sockets' close handlers clean up
    const { kind, endpointFailed } = classifyUpstreamError(err);
    this.release(endpointFailed ? Outcome.EndpointFailed : Outcome.Aborted);
    proxyMetrics.upstreamError(this.target!.spec, kind);
    if (!this.clientGone) this.reply(502, `Bad Gateway: the backend upgrade failed (${err.code ?? err.message})\n`);
  }

  private onClientClose(): void {
    this.clientGone = true;
    if (this.queued) {
      this.queued = false;
      this.target?.cancel(this);
    }
    if (!this.upgraded) this.upstream?.destroy();
    this.release(this.upgraded ? Outcome.Ok : Outcome.Aborted);
    const seconds = (performance.now() - this.start) / 1000;
    if (this.target !== null) proxyMetrics.forBackend(this.target.key, this.target.spec)[this.plane].record(this.status, seconds);
    if (this.logAccess) this.log(seconds);
  }

  /** One access-log line per tunnel, when it closes (same fields as a request; bytes are the whole connection's). */
  private log(seconds: number): void {
    const spec = this.target?.spec;
    const h = this.req.headers;
    logAccess({
      method: this.req.method ?? '',
      authority: h.host ?? '',
      path: this.path,
      protocol: `HTTP/${this.req.httpVersion}`,
      response_code: this.status,
      response_flags: this.upgraded ? 'UPGRADE' : '-',
      bytes_received: this.socket.bytesRead,
      bytes_sent: this.socket.bytesWritten,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
      upstream_host: this.endpoint?.origin ?? '',
      namespace: spec?.namespace ?? '',
      service: spec?.service ?? '',
      revision: spec?.revision ?? '',
      plane: this.plane,
      request_id: this.requestId,
      x_forwarded_for: typeof h['x-forwarded-for'] === 'string' ? h['x-forwarded-for'] : '',
      downstream_remote_address: this.remoteAddress,
      user_agent: h['user-agent'] ?? '',
    });
  }

  release(outcome: Outcome): void {
    if (this.released || this.endpoint === null) return;
    this.released = true;
    this.target!.release(this.endpoint, outcome);
  }
}

/** Entry point for the HTTP/1.1 servers' 'upgrade' event. Never throws; every failure is an HTTP answer or a close. */
export function proxyUpgrade(dp: DataPlane, req: http.IncomingMessage, socket: Socket, head: Buffer, info: ListenerInfo): void {
  try {
    upgrade(dp, req, socket, head, info);
  } catch (err) {
    log.error({ err }, 'upgrade failed');
    socket.destroy();
  }
}

function upgrade(dp: DataPlane, req: http.IncomingMessage, socket: Socket, head: Buffer, info: ListenerInfo): void {
  // Errors on the client socket (resets) only close it; the tunnel, if any, cleans up on 'close'.
  socket.on('error', destroySelf);
  const snapshot = dp.snapshot();
  if (snapshot === null) return rawReply(socket, 503, 'wharf is starting: no configuration is live yet\n');
  const host = req.headers.host;
  const key = host === undefined ? null : hostKey(host);
  if (key === null) return rawReply(socket, 400, 'Bad Request: missing or invalid Host header\n');
  const path = requestPath(req.url ?? '/', key);
  if (typeof path !== 'string') return rawReply(socket, 400, path.message);
  const vhost = lookupHost(snapshot.planes[info.plane], key);
  if (vhost === null) return rawReply(socket, 404, `No route for host ${key}\n`);
  if (redirectsToHttps(vhost, info.plane, info.scheme, path)) return rawReply(socket, 301, '', `Location: https://${key}${path}\r\n`);
  const route = matchRoute(vhost, path, req.rawHeaders);
  if (route === null) return rawReply(socket, 404, `No route for ${key}${path}\n`);
  if (route.handler !== null) return rawReply(socket, 400, 'Bad Request: this route does not accept upgrades\n');
  // The split is chosen once, here: every message of the connection then goes to the same revision.
  const split = pickSplit(route);
  if (split === null) return rawReply(socket, 503, 'No backend: the route has no traffic target\n');
  const spec = snapshot.backends.get(split.backend);
  const target = spec === undefined ? undefined : dp.backends.get(split.backend);
  if (spec === undefined || target === undefined) return rawReply(socket, 503, `No backend: ${split.backend} has no live target\n`);
  const t = new Tunnel(dp, req, socket, head, info.plane, info.scheme, path, websocketIdleMs(snapshot));
  t.target = target;
  t.logAccess = snapshot.config.wharf.accessLog !== false;
  t.revision = spec.revision;
  t.namespace = spec.namespace;
  t.rewriteHost = route.rewriteHost;
  t.routeHeaders = route.appendHeaders;
  t.splitHeaders = split.appendHeaders;
  t.queued = true;
  const ep = target.acquire(t);
  if (ep !== null) {
    t.queued = false;
    t.connect(ep);
  }
}
