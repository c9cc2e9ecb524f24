// A StatSink that streams stats to Knative's autoscaler like the activator does: a WebSocket to
// ws://autoscaler.knative-serving.svc.<cluster-domain>:8080 (no path), one binary frame of protobuf
// WireStatMessages per batch, pings every ~3 s with a pong deadline, and reconnection with backoff
// (100 ms × 1.3, jittered), also on close 1012 "Restarting". Nothing is buffered while disconnected.
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { registry } from '../observability/metrics.js';
import { child } from '../observability/logger.js';
import type { RevisionStat, StatSink } from './stat-sink.js';
import { encodeWireStatMessages, type WireStatMessage } from './stat-proto.js';

export interface AutoscalerClientOptions {
  url: string;
  /** Reported as Stat.pod_name (Knative: the activator pod's name). */
  podName: string;
  logger?: Logger;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffFactor?: number;
  backoffMaxMs?: number;
}

const connectedGauge = new Gauge({
  name: 'wharf_autoscaler_connected',
  help: '1 while the stat stream WebSocket to the Knative autoscaler is open',
  registers: [registry],
});

export class AutoscalerStatClient implements StatSink {
  private ws: WebSocket | null = null;
  private pending: WireStatMessage[] = [];
  private closed = false;
  private backoff: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastPong = 0;
  private readonly log: Logger;
  /** Frames sent and connections made, for debug and tests. */
  framesSent = 0;
  connects = 0;

  constructor(private readonly opts: AutoscalerClientOptions) {
    this.log = opts.logger ?? child('autoscaler-client');
    this.backoff = opts.backoffInitialMs ?? 100;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.closed = false;
    this.connect();
  }

  record(_key: string, stat: RevisionStat): void {
    this.pending.push({
      namespace: stat.namespace,
      name: stat.name,
      stat: {
        podName: this.opts.podName,
        averageConcurrentRequests: stat.averageConcurrentRequests,
        averageProxiedConcurrentRequests: 0,
        requestCount: stat.requestCount,
        proxiedRequestCount: 0,
        processUptime: 0,
        timestamp: 0, // the autoscaler stamps it on receipt
      },
    });
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      this.log.debug({ messages: batch.length }, 'autoscaler not connected; dropping stats');
      return;
    }
    ws.send(encodeWireStatMessages(batch), { binary: true }, (err) => {
      if (err) this.log.warn({ err: err.message }, 'sending stats to the autoscaler failed');
    });
    this.framesSent++;
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.opts.url, { handshakeTimeout: this.opts.handshakeTimeoutMs ?? 3000, perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => {
      this.connects++;
      this.backoff = this.opts.backoffInitialMs ?? 100;
      this.lastPong = Date.now();
      connectedGauge.set(1);
      this.log.info({ url: this.opts.url }, 'connected to the autoscaler');
      this.startPings(ws);
    });
    ws.on('pong', () => {
      this.lastPong = Date.now();
    });
    ws.on('message', () => {
      /* the autoscaler sends nothing we need */
    });
    ws.on('error', (err) => {
      this.log.warn({ url: this.opts.url, err: err.message }, 'autoscaler WebSocket error');
    });
    ws.on('close', (code) => {
      if (this.ws !== ws) return;
      this.ws = null;
      connectedGauge.set(0);
      this.stopPings();
      if (this.closed) return;
      this.log.info({ code }, code === 1012 ? 'autoscaler restarting; reconnecting' : 'autoscaler connection closed; reconnecting');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const jitter = 1 + Math.random() * 0.5;
    const delay = Math.min(this.opts.backoffMaxMs ?? 20_000, this.backoff * jitter);
    this.backoff = Math.min(this.opts.backoffMaxMs ?? 20_000, this.backoff * (this.opts.backoffFactor ?? 1.3));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private startPings(ws: WebSocket): void {
    this.stopPings();
    const every = this.opts.pingIntervalMs ?? 3300;
    const deadline = this.opts.pongTimeoutMs ?? 10_000;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastPong > deadline) {
        this.log.warn('no pong from the autoscaler; reconnecting');
        ws.terminate();
        return;
      }
      try {
        ws.ping();
      } catch {
        /* closing */
      }
    }, every);
    this.pingTimer.unref();
  }

  private stopPings(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopPings();
    const ws = this.ws;
    this.ws = null;
    connectedGauge.set(0);
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 500).unref();
      });
    }
  }
}
