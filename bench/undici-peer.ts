// The floor of wharf's own stack in the bench: node:http in front, one undici Pool.dispatch per request with a
// minimal handler behind, nothing else (no routing, header rules, metrics, access log or capacity accounting).
// What wharf costs above this row is wharf; what this row costs above direct is Node + undici.
// usage: node --import tsx bench/undici-peer.ts <port> <target-origin>
import http from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const [port, target] = process.argv.slice(2);
const pool = new Pool(target, { pipelining: 1, keepAliveTimeout: 4_000 });

class Forward implements Dispatcher.DispatchHandler {
  constructor(private readonly res: http.ServerResponse) {}
  onRequestStart(): void {}
  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    const out: string[] = [];
    for (const k in headers) {
      const v = headers[k];
      if (typeof v === 'string' && k !== 'connection' && k !== 'keep-alive') out.push(k, v);
    }
    this.res.writeHead(status, out);
  }
  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.res.write(chunk);
  }
  onResponseEnd(): void {
    this.res.end();
  }
  onResponseError(): void {
    if (!this.res.headersSent) this.res.writeHead(502);
    this.res.end();
  }
}

const server = http.createServer((req, res) => {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i].toLowerCase();
    if (n !== 'connection' && n !== 'keep-alive') headers.push(n, raw[i + 1]);
  }
  pool.dispatch({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: null }, new Forward(res));
});
server.keepAliveTimeout = 120_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
