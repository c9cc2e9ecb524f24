// The h2c upstream: one multiplexed node:http2 session per origin, driven through undici's dispatch-handler
// interface so the forwarder treats it like any pool. It exists because gRPC needs what undici's H2CClient (7.x)
// loses: response trailers (its 'end' fires before 'trailers') and the END_STREAM flag on a trailers-only HEADERS
// frame. One H2Call per request is the controller; stream events reach it through static functions.
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;
const kCall = Symbol('wharf.h2call');

/** Request headers from the forwarder's flat array, as an h2 header block (Host becomes :authority). */
function h2Headers(method: string, path: string, flat: string[], scheme: string): http2.OutgoingHttpHeaders {
  const h: http2.OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': scheme };
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    const value = flat[i + 1];
    if (name === 'host') {
      h[':authority'] = value;
      continue;
    }
    const have = h[name];
    if (have === undefined) h[name] = value;
    else if (Array.isArray(have)) have.push(value);
    else h[name] = [String(have), value];
  }
  return h;
}

function onResponse(this: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number): void {
  (this as unknown as Record<symbol, H2Call>)[kCall].onResponse(headers, flags);
}
function onData(this: http2.ClientHttp2Stream, chunk: Buffer): void {
  (this as unknown as Record<symbol, H2Call>)[kCall].onData(chunk);
}
function onTrailers(this: http2.ClientHttp2Stream, trailers: http2.IncomingHttpHeaders): void {
  (this as unknown as Record<symbol, H2Call>)[kCall].trailers = trailers;
}
function onStreamError(this: http2.ClientHttp2Stream, err: Error & { code?: string; cause?: unknown }): void {
  // A session that failed (e.g. connection refused) cancels its streams; the session's error says why.
  const cause = err.code === 'ERR_HTTP2_STREAM_CANCEL' ? (err.cause as (Error & { code?: string }) | undefined) : undefined;
  (this as unknown as Record<symbol, H2Call>)[kCall].fail(cause?.code !== undefined ? cause : err);
}
function onClose(this: http2.ClientHttp2Stream): void {
  (this as unknown as Record<symbol, H2Call>)[kCall].onClose();
}
function onBodyError(this: Readable & Record<symbol, H2Call>, err: Error): void {
  this[kCall]?.fail(err);
}

class StreamReset extends Error {
  readonly code = 'UND_ERR_SOCKET';
}

/** One request on the session; also the DispatchController the forwarder pauses, resumes and aborts. */
class H2Call {
  stream: http2.ClientHttp2Stream | null = null;
  trailers: http2.IncomingHttpHeaders | null = null;
  responded = false;
  done = false;
  paused = false;
  aborted = false;
  reason: Error | null = null;

  constructor(private readonly handler: Dispatcher.DispatchHandler) {}

  onResponse(headers: http2.IncomingHttpHeaders, flags: number): void {
    if (this.done) return;
    const status = Number(headers[':status']);
    if (status >= 100 && status < 200) return; // interim responses are not forwarded
    this.responded = true;
    const out: IncomingHttpHeaders = {};
    for (const name in headers) if (name.charCodeAt(0) !== 58 /* : */) out[name] = headers[name] as string;
    this.handler.onResponseStart?.(this as unknown as Dispatcher.DispatchController, status, out, '');
    // Trailers-only (gRPC errors): the HEADERS frame ended the stream; nothing else will follow.
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) this.trailers = {};
  }

  onData(chunk: Buffer): void {
    if (this.done) return;
    this.handler.onResponseData?.(this as unknown as Dispatcher.DispatchController, chunk);
  }

  onClose(): void {
    if (this.done) return;
    const s = this.stream!;
    if (this.responded && s.rstCode === NGHTTP2_NO_ERROR) {
      this.done = true;
      const t: IncomingHttpHeaders = {};
      const tr = this.trailers;
      if (tr !== null) for (const name in tr) t[name] = tr[name] as string;
      this.handler.onResponseEnd?.(this as unknown as Dispatcher.DispatchController, t);
      return;
    }
    this.fail(new StreamReset(`h2 stream closed (code ${s.rstCode}) before the response was complete`));
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    if (this.stream !== null && !this.stream.closed) this.stream.close(NGHTTP2_CANCEL);
    this.handler.onResponseError?.(this as unknown as Dispatcher.DispatchController, err);
  }

  // ---- DispatchController ----
  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }
  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
    this.fail(reason);
  }
}

export interface H2UpstreamOptions {
  connectTimeoutMs?: number;
}

/** A dispatcher for one h2c origin: reconnects when its session is gone, never pipelines anything but h2 streams. */
export class H2Upstream {
  private session: http2.ClientHttp2Session | null = null;
  private closed = false;

  constructor(
    readonly origin: string,
    private readonly opts: H2UpstreamOptions = {},
  ) {}

  private connect(): http2.ClientHttp2Session {
    const s = this.session;
    if (s !== null && !s.closed && !s.destroyed) return s;
    const session = http2.connect(this.origin, { settings: { initialWindowSize: 1 << 20, enablePush: false } });
    session.on('error', () => undefined); // each stream reports it
    session.on('goaway', () => {
      if (this.session === session) this.session = null;
    });
    session.on('close', () => {
      if (this.session === session) this.session = null;
    });
    const ms = this.opts.connectTimeoutMs ?? 5_000;
    const timer = setTimeout(() => {
      if (!session.connecting) return;
      const err = Object.assign(new Error(`connect timeout after ${ms} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' });
      session.destroy(err);
    }, ms);
    session.once('connect', () => {
      clearTimeout(timer);
      session.setLocalWindowSize(8 << 20);
    });
    session.once('close', () => clearTimeout(timer));
    // Idle sessions must not keep the process alive.
    session.unref();
    this.session = session;
    return session;
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const call = new H2Call(handler);
    handler.onRequestStart?.(call as unknown as Dispatcher.DispatchController, {});
    if (call.done) return true;
    if (this.closed) {
      call.fail(Object.assign(new Error('upstream closed'), { code: 'UND_ERR_CLOSED' }));
      return true;
    }
    const body = (opts.body ?? null) as Readable | null;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.connect().request(h2Headers(opts.method, opts.path, (opts.headers ?? []) as string[], 'http'), { endStream: body === null });
    } catch (err) {
      call.fail(err as Error);
      return true;
    }
    call.stream = stream;
    (stream as unknown as Record<symbol, H2Call>)[kCall] = call;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('error', onStreamError);
    stream.on('close', onClose);
    if (body !== null) {
      (body as unknown as Record<symbol, H2Call>)[kCall] = call;
      body.on('error', onBodyError);
      // pipe() gives request-body backpressure (h2 flow control on our side, the client's socket on the other).
      body.pipe(stream);
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.session;
    this.session = null;
    if (s === null || s.closed) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
