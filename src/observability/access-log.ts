// The access log: one JSON line per request, with Envoy's field names where Envoy has one, written by a pino child
// logger so it shares the process destination (asynchronous, buffered).
import type { Logger } from 'pino';
import { logger } from './logger.js';

export interface AccessEntry {
  method: string;
  authority: string;
  path: string;
  protocol: string;
  response_code: number;
  response_flags: string;
  bytes_received: number;
  bytes_sent: number;
  duration_ms: number;
  upstream_host: string;
  namespace: string;
  service: string;
  revision: string;
  plane: string;
  request_id: string;
  x_forwarded_for: string;
  downstream_remote_address: string;
  user_agent: string;
}

let accessLogger: Logger | null = null;

/** The access-log logger (a child of the process logger, created on first use). */
export function accessLog(): Logger {
  return (accessLogger ??= logger().child({ component: 'access' }));
}

/** Write one access-log line. Every writer (HTTP requests, WebSocket tunnels) fills the same typed record. */
export function logAccess(entry: AccessEntry): void {
  accessLog().info(entry);
}

/** Call after configureLogger() so the access log follows the new destination. */
export function resetAccessLog(): void {
  accessLogger = null;
}
