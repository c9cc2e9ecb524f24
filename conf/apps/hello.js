// The demo revision: a zero-dependency HTTP app that wharf runs as a local process (one per revision).
// It answers "Hello <TARGET>!" and names the revision that served the request, so splits and tags are visible
// with curl. wharf gives it PORT; /healthz is its readiness probe.
import { createServer } from 'node:http';

const port = Number(process.env.PORT || 8080);
const target = process.env.TARGET || 'World';

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  // wharf sets Knative-Serving-Revision on every forwarded request; K_REVISION is Knative's env for the same.
  const revision = req.headers['knative-serving-revision'] || process.env.K_REVISION || 'unknown';
  const body = `Hello ${target}! (revision ${revision})\n`;
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

server.keepAliveTimeout = 65_000; // longer than the gateway's idle pool timeout, so wharf never reuses a closing socket
server.listen(port, '127.0.0.1');

const stop = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
