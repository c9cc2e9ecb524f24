// The Node peer in the bench: http-proxy-3 in front of the same backend, with a keep-alive agent (its default,
// agent:false, opens a connection per request and would be an unfair comparison).
// usage: node --import tsx bench/http-proxy-3-peer.ts <port> <target-origin>
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const [port, target] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, noDelay: true } as http.AgentOptions);
const proxy = createProxyServer({ target, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  const r = res as http.ServerResponse;
  if (!r.headersSent) r.writeHead(502);
  r.end();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 120_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
