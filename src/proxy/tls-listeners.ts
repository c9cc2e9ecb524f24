// The TLS port of a plane: one http2 secure server that speaks h2 or HTTP/1.1 by ALPN (and answers TLS-ALPN-01
// validations), with certificates chosen by SNI from the CertStore. Reloads change certificates in place through
// the store (SNI contexts are looked up per handshake, the default one is pushed to attached servers).
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { TlsRuntime } from '../tls/tls-runtime.js';
import type { DataPlane, ListenerInfo } from './dataplane.js';
import { configureH2, H2_MAX_SESSION_MEMORY, H2_SETTINGS, SERVER_SETTINGS } from './listener.js';
import { proxyUpgrade } from './websocket.js';
import type { Snapshot } from '../model/snapshot.js';

/** Whether a config can serve any certificate: a TLS Secret, a default certificate, or ACME (auto-tls). */
export function hasCertificateSource(s: Snapshot): boolean {
  if (s.secrets.size > 0) return true;
  const w = s.config.raw['config-wharf'];
  if (w === undefined) return false;
  if ((w['default-certificate'] ?? '').trim() !== '') return true;
  return (w['auto-tls'] ?? '').trim().toLowerCase() === 'true';
}

export class TlsPlaneServer {
  readonly server: http2.Http2SecureServer;
  private readonly sockets = new Set<TLSSocket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly detach: () => void;

  constructor(dp: DataPlane, tls: TlsRuntime, info: ListenerInfo) {
    // No ALPNProtocols here: the store's ALPNCallback picks h2/http1.1/acme-tls/1 (Node refuses both together).
    this.server = http2.createSecureServer(
      {
        ...tls.serverOptions(info.plane),
        allowHTTP1: true,
        settings: H2_SETTINGS,
        maxSessionMemory: H2_MAX_SESSION_MEMORY,
        // Handshakes that never finish are dropped like slow request headers are.
        handshakeTimeout: SERVER_SETTINGS.headersTimeout,
      },
      dp.listener(info) as never,
    );
    configureH2(this.server);
    // HTTP/1.1-over-TLS connections (allowHTTP1) get the same header and keep-alive limits as the plain port.
    const h1 = this.server as unknown as { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number };
    h1.headersTimeout = SERVER_SETTINGS.headersTimeout;
    h1.requestTimeout = SERVER_SETTINGS.requestTimeout;
    h1.keepAliveTimeout = SERVER_SETTINGS.keepAliveTimeout;
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => proxyUpgrade(dp, req, socket, head, info));
    this.server.on('secureConnection', (s: TLSSocket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server.on('session', (s: http2.ServerHttp2Session) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
    // A failed handshake (no certificate for the name, a scanner) is the client's problem, not a log line.
    this.server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
    this.detach = tls.store.attach(this.server);
  }

  /** Stop accepting; h2 sessions get a GOAWAY, in-flight work has `timeoutMs`, then what is left is cut. */
  close(timeoutMs: number): Promise<void> {
    this.detach();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      const timer = setTimeout(() => this.destroy(), timeoutMs);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const s of this.sessions) s.close();
    });
  }

  /** Cut every connection now. */
  destroy(): void {
    this.detach();
    if (this.server.listening) this.server.close();
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
  }
}
