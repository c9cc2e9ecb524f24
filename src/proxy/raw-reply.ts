// A short HTTP/1.1 answer written straight to a socket, for the places that have no ServerResponse: parse errors
// (listener.ts) and the upgrade path (websocket.ts). It always closes the connection.
import http from 'node:http';
import type { Socket } from 'node:net';

export function rawReply(socket: Socket, status: number, body: string, extraHeaders = '', reason = http.STATUS_CODES[status] ?? ''): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}Connection: close\r\n\r\n${body}`,
  );
}
