// The access log: one JSON line per request, with Envoy's field names where Envoy has one, written by a pino child
// logger so it shares the process destination (asynchronous, buffered).
import { componentLogger } from './logger.js';

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

/**
 * Write one access-log line. Every writer (HTTP requests, WebSocket tunnels) fills the same typed record. It goes
 * through the `access` component of the current process logger, so it follows configureLogger() like the others.
 */
export function logAccess(entry: AccessEntry): void {
  componentLogger('access').info(entry);
}
