// The bench upstream: a Node hello world with keep-alive, as small as a backend gets.
// usage: node bench/backend.ts <port>   (prints "ready <port>")
import http from 'node:http';

const body = Buffer.from('hello world\n');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
