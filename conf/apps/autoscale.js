// The autoscale demo app, like Knative's autoscale-go sample: each request can burn time so load builds up.
//   ?sleep=<ms>   wait that long before answering (concurrency without CPU)
//   ?prime=<n>    compute the primes below n (CPU)
//   ?bloat=<MB>   allocate that many megabytes for the request's lifetime
// wharf gives it PORT and scales its instances with the KPA (see services/autoscale.yaml).
import { createServer } from 'node:http';

const port = Number(process.env.PORT || 8080);

function primesBelow(n) {
  const sieve = new Uint8Array(Math.max(0, n));
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (sieve[i]) continue;
    count++;
    for (let j = i * i; j < n; j += i) sieve[j] = 1;
  }
  return count;
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const sleep = Math.min(Number(url.searchParams.get('sleep') || 0), 600_000);
  const prime = Math.min(Number(url.searchParams.get('prime') || 0), 50_000_000);
  const bloat = Math.min(Number(url.searchParams.get('bloat') || 0), 1024);
  const started = Date.now();
  const held = bloat > 0 ? Buffer.alloc(bloat * 1024 * 1024, 1) : null;
  const lines = [];
  if (prime > 0) lines.push(`Found ${primesBelow(prime)} primes below ${prime}.`);
  if (held) lines.push(`Allocated ${bloat} MB.`);
  setTimeout(() => {
    if (sleep > 0) lines.push(`Slept for ${Date.now() - started} ms.`);
    lines.push(`Served by ${process.env.K_REVISION || 'autoscale'} (pid ${process.pid}).`);
    const body = lines.join('\n') + '\n';
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, sleep);
});

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');

const stop = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
