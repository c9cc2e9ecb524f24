// The per-request context of the HTTP/1.1 data plane. One object per request holds everything: it is the undici
// dispatch handler, the capacity Waiter, and the target of the response's close/drain events, so the hot path
// allocates no closures or promises. Header rules live in headers.ts so an h2 variant can share them.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse, IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BackendSpec, Plane, Route, Snapshot, Split, VirtualHost } from '../model/snapshot.js';
import { Outcome, type Endpoint, type Target, type Waiter } from '../backends/types.js';
import { addTargetHeaders, forwardHeaders, peerAddress, responseHeaders, type ForwardInfo, type ForwardResult } from './headers.js';
import { hostKey, lookupHost, matchRoute, pickSplit, rawHeader, redirectsToHttps, requestPath } from './router.js';
import { proxyMetrics, type RequestStats, type UpstreamErrorKind } from './metrics.js';
import { logAccess } from '../observability/access-log.js';
import type { DataPlane, ListenerInfo } from './dataplane.js';
import { answerProbe, backendCanServe } from '../model/probehash.js';

/** The request context hangs off the response under this key, for the static event listeners below. */
export const kExchange = Symbol('wharf.exchange');

const enum State {
  Routing = 0,
  Queued = 1,
  Dispatched = 2,
  Responding = 3,
  Done = 4,
}

const EMPTY: readonly (readonly [string, string])[] = [];

class UpstreamTimeout extends Error {
  readonly code = 'UND_WHARF_TIMEOUT';
}
class ClientGone extends Error {
  readonly code = 'UND_WHARF_CLIENT_GONE';
}

function onResClose(this: ServerResponse): void {
  (this as unknown as Record<symbol, Exchange>)[kExchange].onClientClose();
}
function onResDrain(this: ServerResponse): void {
  (this as unknown as Record<symbol, Exchange>)[kExchange].onDrain();
}
function onTimer(ex: Exchange): void {
  ex.onTimeout();
}

/** Connection-level failures say something about the endpoint; everything else does not. Upgrades use it too. */
export function classifyUpstreamError(err: Error & { code?: string }): { kind: UpstreamErrorKind; endpointFailed: boolean } {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { kind: 'connect', endpointFailed: true };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { kind: 'reset', endpointFailed: true };
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'UND_ERR_INFO':
      return { kind: 'protocol', endpointFailed: false };
    default:
      return { kind: 'other', endpointFailed: false };
  }
}

export class Exchange implements Waiter, ForwardInfo, Dispatcher.DispatchHandler {
  // Waiter
  queuedBytes = 0;
  queueSlot?: unknown = undefined;
  // ForwardInfo
  remoteAddress: string;
  scheme: string;
  rewriteHost: string | null = null;
  routeHeaders: ForwardInfo['routeHeaders'] = EMPTY;
  splitHeaders: ForwardInfo['splitHeaders'] = EMPTY;
  revision = '';
  namespace = '';

  readonly start = performance.now();
  readonly plane: Plane;
  state = State.Routing;
  snapshot: Snapshot | null = null;
  authority = '';
  path = '';
  hasBody = false;
  vhost: VirtualHost | null = null;
  route: Route | null = null;
  split: Split | null = null;
  spec: BackendSpec | null = null;
  target: Target | null = null;
  endpoint: Endpoint | null = null;
  stats: RequestStats;
  controller: Dispatcher.DispatchController | null = null;
  timer: NodeJS.Timeout | null = null;
  requestId = '';
  flags = '';
  bytesSent = 0;
  released = false;
  clientGone = false;
  timedOut = false;
  drainWaiting = false;
  private fwd: ForwardResult | null = null;

  constructor(
    readonly dp: DataPlane,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    listener: ListenerInfo,
  ) {
    this.plane = listener.plane;
    this.scheme = listener.scheme;
    this.remoteAddress = peerAddress(req.socket.remoteAddress);
    this.stats = proxyMetrics.none[listener.plane];
    (res as unknown as Record<symbol, Exchange>)[kExchange] = this;
    res.on('close', onResClose);
  }

  /** Route the request and start forwarding it (or answer it locally). */
  run(): void {
    const snapshot = this.dp.snapshot();
    if (snapshot === null) return this.reply(503, 'wharf is starting: no configuration is live yet\n', 'NR');
    this.snapshot = snapshot;
    const req = this.req;
    const raw = req.rawHeaders;
    let host: string | undefined;
    let hosts = 0;
    let probe: string | undefined;
    let authority: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i];
      const len = n.length;
      if (len === 4 && n.toLowerCase() === 'host') {
        host = raw[i + 1];
        hosts++;
      } else if (len === 10 && n === ':authority') {
        authority = raw[i + 1];
      } else if (len === 14 && n.toLowerCase() === 'content-length') {
        const cl = Number(raw[i + 1]);
        if (cl > 0) {
          this.hasBody = true;
          this.queuedBytes = cl;
        }
      } else if (len === 17 && n.toLowerCase() === 'transfer-encoding') {
        this.hasBody = true;
      } else if (len === 15 && n.toLowerCase() === 'k-network-probe') {
        probe = raw[i + 1];
      }
    }
    if (req.httpVersionMajor === 2) {
      // HTTP/2 needs neither Content-Length nor chunking: a body exists unless the HEADERS frame ended the stream.
      this.hasBody = !(req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders;
    }
    if (authority !== undefined) {
      // HTTP/2: :authority is the host; a Host header next to it must name the same one (RFC 9113 §8.3.1).
      if (host !== undefined && hostKey(host) !== hostKey(authority)) return this.reply(400, 'Bad Request: Host disagrees with :authority\n', '');
      host = authority;
      hosts = 1;
    }
    if (host === undefined || hosts === 0) return this.reply(400, 'Bad Request: missing Host header\n', '');
    if (hosts > 1) return this.reply(400, 'Bad Request: more than one Host header\n', '');
    this.authority = host;
    const key = hostKey(host);
    if (key === null) return this.reply(400, 'Bad Request: invalid Host header\n', '');
    const path = requestPath(req.url ?? '/', key);
    if (typeof path !== 'string') return this.reply(400, path.message, '');
    this.path = path;

    const vhost = lookupHost(snapshot.planes[this.plane], key);
    if (vhost === null) return this.reply(404, `No route for host ${key}\n`, 'NR');
    this.vhost = vhost;
    if (redirectsToHttps(vhost, this.plane, this.scheme, this.path)) return this.redirect(`https://${key}${this.path}`);
    const route = matchRoute(vhost, this.path, raw);
    if (route === null) return this.reply(404, `No route for ${key}${this.path}\n`, 'NR');
    this.route = route;

    if (route.handler !== null) return this.local(route.handler, key, vhost, route);

    const split = pickSplit(route);
    if (split === null) return this.reply(503, 'No backend: the route has no traffic target\n', 'UH');
    this.split = split;
    const spec = snapshot.backends.get(split.backend);
    if (spec === undefined) return this.reply(503, `No backend: ${split.backend} is not defined\n`, 'UH');
    this.spec = spec;
    this.stats = proxyMetrics.forBackend(split.backend, spec)[this.plane];
    this.revision = spec.revision;
    this.namespace = spec.namespace;
    this.rewriteHost = route.rewriteHost;
    this.routeHeaders = route.appendHeaders;
    this.splitHeaders = split.appendHeaders;
    const target = this.dp.backends.get(split.backend);
    if (target === undefined) return this.reply(503, `No backend: ${split.backend} has no live target\n`, 'UH');
    this.target = target;
    if (probe !== undefined) {
      // Knative's ingress prober: wharf is the activator, so it answers the backend probe contract itself.
      const ans = answerProbe(probe, rawHeader(raw, 'k-network-hash'), route.appendHeaders, split.appendHeaders, backendCanServe(spec));
      if (ans !== null) return this.reply(ans.status, ans.body, '', undefined, ans.hash);
      // The KPA's scale-to-zero probe (`activator`) gets the activator's answer; any other value 400, as Knative's
      // activator ProbeHandler. Either way a probe never reaches the throttler, so it is never counted as traffic.
      if (probe === 'activator') return this.reply(200, 'activator', '');
      if (probe !== '') return this.reply(400, `unexpected K-Network-Probe value "${probe}"\n`, '');
    }
    this.state = State.Queued;
    const ep = target.acquire(this);
    if (ep !== null) this.dispatch(ep);
  }

  private local(name: string, host: string, vhost: VirtualHost, route: Route): void {
    const h = this.dp.handlers.get(name);
    if (h === undefined) return this.reply(503, `Handler ${name} is not available\n`, 'UH');
    this.state = State.Responding;
    this.requestId = rawHeader(this.req.rawHeaders, 'x-request-id') ?? randomUUID();
    h.handle(this.req, this.res, { plane: this.plane, host, vhost, route, requestId: this.requestId });
  }

  // ---- Waiter ----

  onGranted(endpoint: Endpoint): void {
    if (this.clientGone || this.state !== State.Queued) {
      this.target!.release(endpoint, Outcome.Aborted);
      return;
    }
    this.dispatch(endpoint);
  }

  onRejected(status: number, reason: string, retryAfterSeconds?: number): void {
    this.state = State.Done;
    if (this.clientGone) return;
    proxyMetrics.upstreamError(this.spec, status === 504 ? 'timeout' : 'no_endpoint');
    this.reply(status, reason.endsWith('\n') ? reason : `${reason}\n`, status === 504 ? 'UT' : 'UO', retryAfterSeconds);
  }

  // ---- forwarding ----

  private dispatch(ep: Endpoint): void {
    this.endpoint = ep;
    this.state = State.Dispatched;
    const fwd: ForwardResult = { headers: [], requestId: '' };
    forwardHeaders(this.req.rawHeaders, this, fwd);
    addTargetHeaders(fwd.headers, this.target!.requestHeaders);
    this.fwd = fwd;
    this.requestId = fwd.requestId;
    const timeout = this.spec!.timeoutMs;
    if (timeout > 0) {
      // timeoutSeconds runs from arrival (Knative ≥ 1.8): time spent queued in the throttler is already used up.
      const left = timeout - (performance.now() - this.start);
      if (left <= 0) {
        this.timedOut = true;
        this.state = State.Done;
        this.release(Outcome.Aborted);
        proxyMetrics.upstreamError(this.spec, 'timeout');
        return this.reply(504, 'activator request timeout\n', 'UT');
      }
      this.timer = setTimeout(onTimer, left, this);
    }
    this.dp.pools.get(ep.origin, ep.protocol).dispatch(
      {
        path: this.path,
        method: this.req.method as Dispatcher.HttpMethod,
        headers: fwd.headers,
        body: this.hasBody ? this.req : null,
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new ClientGone('client disconnected'));
    else if (this.timedOut) controller.abort(new UpstreamTimeout('timed out'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (this.timer !== null) {
      // Knative's timeoutSeconds bounds the time until the backend starts replying, not the whole stream.
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.clientGone || this.timedOut) return controller.abort(new ClientGone('client disconnected'));
    this.state = State.Responding;
    try {
      const out = responseHeaders(headers as Record<string, string | string[] | undefined>);
      // While draining, close each HTTP/1.1 keep-alive connection after its current response.
      if (this.dp.draining && this.req.httpVersionMajor === 1) out.push('connection', 'close');
      if (this.req.httpVersionMajor === 2) {
        if (headers['grpc-status'] !== undefined) {
          // Maybe gRPC trailers-only: headers are set but not sent, so an end without body goes out as one HEADERS
          // frame with END_STREAM (what gRPC clients require); a first data chunk sends them as usual.
          const res = this.res;
          res.statusCode = statusCode;
          for (let i = 0; i < out.length; i += 2) res.setHeader(out[i], out[i + 1]);
          return;
        }
        // HTTP/2 has no reason phrase (Node warns when given one).
        this.res.writeHead(statusCode, out);
      } else {
        this.res.writeHead(statusCode, statusMessage || undefined, out);
      }
    } catch (err) {
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytesSent += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      if (!this.drainWaiting) {
        this.drainWaiting = true;
        this.res.once('drain', onResDrain);
      }
    }
  }

  onDrain(): void {
    this.drainWaiting = false;
    this.controller?.resume();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.state = State.Done;
    this.release(Outcome.Ok);
    for (const _ in trailers) {
      this.res.addTrailers(trailers as Record<string, string>);
      break;
    }
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error & { code?: string }): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const wasResponding = this.state === State.Responding;
    this.state = State.Done;
    if (this.clientGone || this.req.destroyed) {
      this.release(Outcome.Aborted);
      return;
    }
    if (this.timedOut) {
      this.release(Outcome.Aborted);
      return;
    }
    const { kind, endpointFailed } = classifyUpstreamError(err);
    this.release(endpointFailed && !wasResponding ? Outcome.EndpointFailed : Outcome.Aborted);
    proxyMetrics.upstreamError(this.spec, kind);
    if (this.res.headersSent) {
      this.flags = 'UPE';
      this.res.destroy();
      return;
    }
    const what = kind === 'connect' ? 'could not connect to the backend' : kind === 'reset' ? 'the backend closed the connection' : 'the backend request failed';
    this.reply(502, `Bad Gateway: ${what} (${err.code ?? err.message})\n`, 'UF');
  }

  onTimeout(): void {
    this.timer = null;
    this.timedOut = true;
    proxyMetrics.upstreamError(this.spec, 'timeout');
    if (!this.res.headersSent) {
      this.reply(504, `Gateway Timeout: the backend did not start replying within ${this.spec!.timeoutMs / 1000} s (timeoutSeconds)\n`, 'UT');
    }
    this.controller?.abort(new UpstreamTimeout('timed out'));
  }

  private release(outcome: Outcome): void {
    if (this.released || this.endpoint === null) return;
    this.released = true;
    this.target!.release(this.endpoint, outcome);
  }

  // ---- downstream ----

  /** The response closed: finished normally, or the client went away. Metrics and the access log happen here. */
  onClientClose(): void {
    const res = this.res;
    if (!res.writableFinished) {
      this.clientGone = true;
      this.flags = this.flags ? `${this.flags},DC` : 'DC';
      if (this.state === State.Queued) {
        this.state = State.Done;
        this.target?.cancel(this);
      } else if (this.state === State.Dispatched || this.state === State.Responding) {
        if (this.timer !== null) {
          clearTimeout(this.timer);
          this.timer = null;
        }
        this.controller?.abort(new ClientGone('client disconnected'));
      }
    }
    const status = res.headersSent ? res.statusCode : 0;
    const seconds = (performance.now() - this.start) / 1000;
    this.stats.record(status, seconds);
    if (this.snapshot?.config.wharf.accessLog !== false) this.log(status, seconds);
  }

  private log(status: number, seconds: number): void {
    const req = this.req;
    const spec = this.spec;
    const raw = req.rawHeaders;
    logAccess({
      method: req.method ?? '',
      authority: this.authority,
      path: this.path || req.url || '',
      protocol: `HTTP/${req.httpVersion}`,
      response_code: status,
      response_flags: this.flags || '-',
      bytes_received: this.queuedBytes,
      bytes_sent: this.bytesSent,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
      upstream_host: this.endpoint?.origin ?? '',
      namespace: spec?.namespace ?? '',
      service: spec?.service ?? '',
      revision: spec?.revision ?? '',
      plane: this.plane,
      request_id: this.requestId || rawHeader(raw, 'x-request-id') || '',
      x_forwarded_for: rawHeader(raw, 'x-forwarded-for') ?? '',
      downstream_remote_address: this.remoteAddress,
      user_agent: rawHeader(raw, 'user-agent') ?? '',
    });
  }

  /** A short plain-text answer from wharf itself. */
  reply(status: number, body: string, flags: string, retryAfterSeconds?: number, networkHash?: string | null): void {
    if (flags) this.flags = flags;
    const res = this.res;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    this.state = State.Done;
    this.bytesSent += Buffer.byteLength(body);
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    };
    if (retryAfterSeconds !== undefined) headers['retry-after'] = Math.ceil(retryAfterSeconds);
    if (networkHash) headers['k-network-hash'] = networkHash;
    if (this.dp.draining && this.req.httpVersionMajor === 1) headers['connection'] = 'close';
    res.writeHead(status, headers);
    res.end(body);
  }

  private redirect(location: string): void {
    this.state = State.Done;
    this.flags = '';
    this.res.writeHead(301, { location, 'content-length': 0 });
    this.res.end();
  }
}
