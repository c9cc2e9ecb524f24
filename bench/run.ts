// npm run bench: one run, one table. Direct to a Node hello-world backend, then the same backend behind wharf (real
// CLI, manifest folder, routing + metrics + access log on), http-proxy-3 with a keep-alive agent, and nginx if it is
// installed, plus a bare node:http + undici Pool.dispatch proxy: the floor of wharf's own stack. Each proxy is pinned
// to its own core; the load generator and the backend share the other one.
// Then a fixed-rate run (about 1,000 req/s, Poisson arrivals) over the same targets, for the latency each adds at p99.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { makeCa } from '../test/support/tls-certs.js';
import { deadPort as freePort } from '../test/support/http.js';
import { tlsSecret } from '../test/support/manifests.js';

const ROOT = resolve(import.meta.dirname, '..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 5);
const HOST = 'hello.default.example.com';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const HAVE_TASKSET = have('taskset') && cpus().length >= 2;
const HAVE_WRK = have('wrk');
// h2load (Debian's nghttp2-client) drives the h2c and h2-over-TLS rows; without it those rows are skipped.
const HAVE_H2LOAD = have('h2load');
// hey (Debian: apt-get install hey) is a Go load generator with rate limiting: steadier tails than a Node client.
const HAVE_HEY = have('hey');
const NGINX = ['/usr/sbin/nginx', 'nginx'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
// Core 1: the proxy under test. Core 0: backend + load generator (as in the reference measurement).
const PROXY_CPU = '1';
const LOAD_CPU = '0';

const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function pinned(cpu: string, cmd: string, args: string[]): [string, string[]] {
  return HAVE_TASKSET ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
}

function start(cpu: string, cmd: string, args: string[], opts: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const [c, a] = pinned(cpu, cmd, args);
  const child = spawn(c, a, { cwd: ROOT, stdio: ['ignore', opts.quiet ? 'ignore' : 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  child.stderr?.on('data', (d) => process.stderr.write(`[${args[args.length - 1] ?? cmd}] ${d}`));
  children.push(child);
  return child;
}

async function waitHttp(port: number, host: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      });
      let buf = '';
      s.on('data', (d) => (buf += d));
      s.on('close', () => r(buf.startsWith('HTTP/1.1 200')));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answered 200 on port ${port} for Host ${host}`);
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
}

function ms(s: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(s);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** Closed-loop throughput: wrk if present, else autocannon. */
async function load(name: string, port: number, host: string): Promise<Row> {
  // A short warm-up so JIT and pools are hot.
  await runLoad(port, host, 2);
  const out = await runLoad(port, host, DURATION);
  return { name, ...out };
}

async function runLoad(port: number, host: string, seconds: number, scheme: 'http' | 'https' = 'http'): Promise<Omit<Row, 'name'>> {
  if (HAVE_WRK) {
    const [c, a] = pinned(LOAD_CPU, 'wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Host: ${host}`, `${scheme}://127.0.0.1:${port}/`]);
    const r = spawnSync(c, a, { encoding: 'utf8' });
    const text = r.stdout;
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
    const p50 = ms(/\s50%\s+(\S+)/.exec(text)?.[1] ?? '');
    const p99 = ms(/\s99%\s+(\S+)/.exec(text)?.[1] ?? '');
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1];
    if (non2xx) process.stderr.write(`warning: ${non2xx} non-2xx responses on port ${port}\n`);
    return { rps, p50, p99 };
  }
  const { default: autocannon } = await import('autocannon' as string);
  const res = await autocannon({ url: `${scheme}://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: seconds, headers: { host } });
  return { rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99 };
}

/** HTTP/2 closed loop with h2load: CONNECTIONS connections, 10 streams each; rps and mean latency (no percentiles). */
function h2load(name: string, url: string, host: string, seconds: number): Row {
  const [c, a] = pinned(LOAD_CPU, 'h2load', ['-c', String(CONNECTIONS), '-m', '10', '-D', String(seconds), '-H', `:authority: ${host}`, url]);
  const r = spawnSync(c, a, { encoding: 'utf8' });
  const text = r.stdout ?? '';
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text)?.[1]);
  const mean = ms(/time for request:\s+\S+\s+\S+\s+(\S+)/.exec(text)?.[1] ?? '');
  const failed = Number(/requests: .* (\d+) failed/.exec(text)?.[1] ?? 0);
  if (failed > 0 || !Number.isFinite(rps)) process.stderr.write(`warning: h2load ${url}: ${failed} failed\n${r.stderr ?? ''}`);
  return { name, rps, p50: mean, p99: NaN };
}

/** The TLS Secret wharf serves for the HTTPS rows (a throwaway CA; load generators do not verify). */
async function tlsConf(dir: string): Promise<void> {
  const ca = await makeCa('wharf bench CA');
  const pair = await ca.issue({ names: [HOST] });
  writeFileSync(join(dir, 'conf', 'tls.yaml'), tlsSecret('bench-tls', 'default', pair));
}

interface RateResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * Fixed rate, about RATE req/s, the load generator alone on its core: wrk with bench/fixed-rate.lua (Poisson
 * arrivals, microsecond histogram) when installed, else hey, else bench/loadgen.ts.
 */
function fixedRate(port: number, host: string, seconds = RATE_SECONDS): RateResult {
  if (HAVE_WRK) {
    const conns = 20;
    const [c, a] = pinned(LOAD_CPU, 'wrk', ['-t1', `-c${conns}`, `-d${seconds}s`, '-s', join(ROOT, 'bench', 'fixed-rate.lua'), '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`]);
    const r = spawnSync(c, a, { encoding: 'utf8', env: { ...process.env, RATE: String(RATE), CONNECTIONS: String(conns) } });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{"rps"'));
    if (!line) throw new Error(`wrk fixed-rate run printed no result: ${r.stderr}`);
    const j = JSON.parse(line) as RateResult;
    return { rps: j.rps, p50: j.p50, p99: j.p99, errors: j.errors };
  }
  if (HAVE_HEY) {
    // 10 workers, each rate-limited to RATE/10 requests per second (their ticks are in step: bursts of ten).
    const [c, a] = pinned(LOAD_CPU, 'hey', ['-z', `${seconds}s`, '-c', '10', '-q', String(RATE / 10), '-host', host, `http://127.0.0.1:${port}/`]);
    const out = spawnSync(c, a, { encoding: 'utf8' }).stdout;
    const pct = (p: string) => Number(new RegExp(`${p}% in ([0-9.]+) secs`).exec(out)?.[1] ?? NaN) * 1000;
    const codes = [...out.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)];
    const errors = codes.filter((m) => m[1] !== '200').reduce((n, m) => n + Number(m[2]), 0) + (/Error distribution/.test(out) ? 1 : 0);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
    return { rps, p50: pct('50'), p99: pct('99'), errors };
  }
  const [c, a] = pinned(LOAD_CPU, process.execPath, ['--import', 'tsx', 'bench/loadgen.ts', `http://127.0.0.1:${port}/`, host, String(RATE), String(seconds)]);
  const r = spawnSync(c, a, { cwd: ROOT, encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '{}';
  const j = JSON.parse(line);
  return { rps: j.sent / seconds, p50: j.p50, p99: j.p99, errors: j.errors };
}

/** Move a running process (all its threads) to another CPU. */
function repin(pid: number | undefined, cpu: string): void {
  if (HAVE_TASKSET && pid !== undefined) spawnSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' });
}

function wharfConf(dir: string, backendPort: number): void {
  mkdirSync(join(dir, 'conf'), { recursive: true });
  writeFileSync(
    join(dir, 'conf', 'config.yaml'),
    `apiVersion: v1
kind: ConfigMap
metadata: { name: config-domain, namespace: knative-serving }
data:
  example.com: ""
---
apiVersion: v1
kind: ConfigMap
metadata: { name: config-wharf, namespace: knative-serving }
data:
  access-log: "true"
  default-certificate: default/bench-tls
`,
  );
  writeFileSync(
    join(dir, 'conf', 'hello.yaml'),
    `apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: hello, namespace: default }
spec:
  template:
    metadata:
      annotations:
        wharf.dev/upstream: http://127.0.0.1:${backendPort}
    spec:
      containers:
        - image: bench/hello
`,
  );
}

function nginxConf(dir: string, port: number, backendPort: number): string {
  const file = join(dir, 'nginx.conf');
  writeFileSync(
    file,
    `worker_processes 1;
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log /dev/null;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  );
  return file;
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'wharf-bench-'));
  process.stdout.write(
    `wharf bench: ${cpus().length} cores, node ${process.version}, load=${HAVE_WRK ? `wrk -t1 -c${CONNECTIONS} -d${DURATION}s` : 'autocannon'}, ` +
      `proxies pinned to cpu ${HAVE_TASKSET ? PROXY_CPU : '(no taskset)'}\n\n`,
  );

  const backendPort = await freePort();
  const backend = start(LOAD_CPU, process.execPath, ['--import', 'tsx', 'bench/backend.ts', String(backendPort)]);
  await waitHttp(backendPort, HOST);

  const rows: Row[] = [];
  const targets: { name: string; port: number }[] = [{ name: 'direct', port: backendPort }];

  // wharf: the real CLI on a generated folder, logs (access log included) to /dev/null.
  wharfConf(work, backendPort);
  await tlsConf(work);
  const wharfPort = await freePort();
  const wharfTlsPort = await freePort();
  start(
    PROXY_CPU,
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', join(work, 'conf'), '--data-dir', join(work, 'data'),
      '--http-port', String(wharfPort), '--internal-http-port', String(await freePort()), '--admin-port', String(await freePort()),
      '--https-port', String(wharfTlsPort), '--internal-https-port', String(await freePort())],
    { quiet: true },
  );
  await waitHttp(wharfPort, HOST);
  targets.push({ name: 'wharf', port: wharfPort });

  const peerPort = await freePort();
  start(PROXY_CPU, process.execPath, ['--import', 'tsx', 'bench/http-proxy-3-peer.ts', String(peerPort), `http://127.0.0.1:${backendPort}`]);
  await waitHttp(peerPort, HOST);
  targets.push({ name: 'http-proxy-3 (keep-alive)', port: peerPort });

  const undiciPort = await freePort();
  start(PROXY_CPU, process.execPath, ['--import', 'tsx', 'bench/undici-peer.ts', String(undiciPort), `http://127.0.0.1:${backendPort}`]);
  await waitHttp(undiciPort, HOST);
  targets.push({ name: 'bare undici (floor)', port: undiciPort });

  if (NGINX) {
    const nginxPort = await freePort();
    start(PROXY_CPU, NGINX, ['-c', nginxConf(work, nginxPort, backendPort), '-p', work], { quiet: true });
    await waitHttp(nginxPort, HOST);
    targets.push({ name: 'nginx', port: nginxPort });
  } else {
    process.stdout.write('nginx: not installed, skipped\n');
  }

  // Shared machines are noisy: run the targets round-robin BENCH_ROUNDS times and keep each one's best round, so a
  // burst of someone else's work does not land on one row only.
  const ROUNDS_CLOSED = Number(process.env.BENCH_ROUNDS ?? 2);
  const best = new Map<string, Row>();
  for (let round = 0; round < ROUNDS_CLOSED; round++) {
    for (const t of targets) {
      const r = await load(t.name, t.port, HOST);
      const prev = best.get(t.name);
      if (!prev || r.rps > prev.rps) best.set(t.name, r);
    }
  }
  for (const t of targets) rows.push(best.get(t.name)!);
  const direct = rows[0];
  const peer = rows.find((r) => r.name.startsWith('http-proxy-3'))!;
  process.stdout.write(`${'target'.padEnd(28)}${'req/s'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'vs direct'.padStart(11)}${'vs hp3'.padStart(9)}\n`);
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(28)}${fmt(r.rps, 0).padStart(10)}${fmt(r.p50).padStart(10)}${fmt(r.p99).padStart(10)}${fmt(r.rps / direct.rps).padStart(10)}x${fmt(r.rps / peer.rps).padStart(8)}x\n`,
    );
  }

  // Edge protocols on the same wharf: HTTP/1.1 over TLS (wrk), h2c prior knowledge and h2 over TLS (h2load, 10
  // streams per connection). The TLS cost is wharf's HTTPS throughput against its plain-HTTP row above.
  const wharfPlain = rows.find((r) => r.name === 'wharf')!;
  const edge: Row[] = [];
  await runLoad(wharfTlsPort, HOST, 2, 'https'); // warm-up (handshakes, JIT)
  let httpsRow: Row = { name: 'wharf https (h1 + TLS)', ...(await runLoad(wharfTlsPort, HOST, DURATION, 'https')) };
  for (let round = 1; round < ROUNDS_CLOSED; round++) {
    const r = { name: httpsRow.name, ...(await runLoad(wharfTlsPort, HOST, DURATION, 'https')) };
    if (r.rps > httpsRow.rps) httpsRow = r;
  }
  edge.push(httpsRow);
  if (HAVE_H2LOAD) {
    h2load('warm-up', `http://127.0.0.1:${wharfPort}/`, HOST, 2);
    edge.push(h2load('wharf h2c (prior knowledge)', `http://127.0.0.1:${wharfPort}/`, HOST, DURATION));
    edge.push(h2load('wharf h2 + TLS', `https://127.0.0.1:${wharfTlsPort}/`, HOST, DURATION));
  } else {
    process.stdout.write('h2load: not installed (apt-get install nghttp2-client), h2c and h2 rows skipped\n');
  }
  process.stdout.write(`\nedge protocols (h2 rows: mean latency in the p50 column)\n`);
  for (const r of edge) {
    process.stdout.write(`${r.name.padEnd(28)}${fmt(r.rps, 0).padStart(10)}${fmt(r.p50).padStart(10)}${fmt(r.p99).padStart(10)}${fmt(r.rps / wharfPlain.rps).padStart(10)}x vs wharf http\n`);
  }
  process.stdout.write(`TLS cost: wharf HTTPS throughput is ${fmt(httpsRow.rps / wharfPlain.rps)}x its plain-HTTP throughput\n`);

  // Fixed rate. The backend moves onto the proxies' core and the load generator keeps the other one to itself, so
  // "direct" and every proxy cross between cores the same number of times (client → server core → client): what a
  // row adds over direct is the proxy's own work and its contention with the backend, as on a server that runs both.
  // (With the backend beside the load generator, direct never crosses cores and each proxy crosses four times; on a
  // VM a cross-core wakeup alone costs about a millisecond at p99, for nginx as much as for wharf.) Targets are
  // interleaved over BENCH_RATE_ROUNDS rounds and each figure is the median over the rounds, so one noisy second decides nothing.
  repin(backend.pid, PROXY_CPU);
  const ROUNDS = Number(process.env.BENCH_RATE_ROUNDS ?? 5);
  const tool = HAVE_WRK ? 'wrk + bench/fixed-rate.lua, Poisson arrivals' : HAVE_HEY ? 'hey' : 'bench/loadgen.ts';
  process.stdout.write(`\nfixed rate, about ${RATE} req/s (${tool}), ${ROUNDS} interleaved rounds of ${RATE_SECONDS}s (medians over rounds):\n`);
  for (const t of targets) fixedRate(t.port, HOST, 2); // warm-up at the rate itself
  const runs = new Map<string, RateResult[]>(targets.map((t) => [t.name, []]));
  for (let i = 0; i < ROUNDS; i++) for (const t of targets) runs.get(t.name)!.push(fixedRate(t.port, HOST));
  const median = (xs: RateResult[]): RateResult => {
    const mid = (k: 'p50' | 'p99' | 'rps') => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return { rps: mid('rps'), p50: mid('p50'), p99: mid('p99'), errors: xs.reduce((n, x) => n + x.errors, 0) };
  };
  const rate = new Map(targets.map((t) => [t.name, median(runs.get(t.name)!)]));
  const d = rate.get('direct')!;
  process.stdout.write(`${'target'.padEnd(28)}${'req/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'+p50'.padStart(8)}${'+p99'.padStart(8)}${'errors'.padStart(8)}   p99 of each round\n`);
  for (const t of targets) {
    const r = rate.get(t.name)!;
    const rounds = runs.get(t.name)!.map((x) => fmt(x.p99)).join(' ');
    process.stdout.write(
      `${t.name.padEnd(28)}${fmt(r.rps, 0).padStart(8)}${fmt(r.p50, 3).padStart(9)}${fmt(r.p99, 3).padStart(9)}` +
        `${(t.name === 'direct' ? '' : fmt(r.p50 - d.p50, 3)).padStart(8)}${(t.name === 'direct' ? '' : fmt(r.p99 - d.p99, 3)).padStart(8)}${String(r.errors).padStart(8)}   ${rounds}\n`,
    );
  }
  const wharfRow = rows.find((r) => r.name === 'wharf')!;
  const ratio = wharfRow.rps / peer.rps;
  const added = rate.get('wharf')!.p99 - d.p99;
  process.stdout.write(
    `\nwharf / http-proxy-3 throughput: ${fmt(ratio)}x (goal ≥ 1.40x) ${ratio >= 1.4 ? 'OK' : 'BELOW GOAL'}\n` +
      `wharf added p99 at ${RATE} req/s: ${fmt(added, 3)} ms (goal ≤ 1 ms) ${added <= 1 ? 'OK' : 'ABOVE GOAL'}\n`,
  );
  cleanup();
  rmSync(work, { recursive: true, force: true });

  // The activator (warm overhead, cold start, backpressure) and eventing benches, each in its own process so one's
  // memory and sockets do not colour the other's numbers. BENCH_ONLY_PROXY=1 skips both.
  if (process.env.BENCH_ONLY_PROXY !== '1') {
    for (const bench of ['bench/activator.ts', 'bench/eventing.ts']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', bench], { cwd: ROOT, stdio: 'inherit' });
      if (r.status !== 0) process.stderr.write(`${bench} failed (exit ${r.status ?? r.signal})\n`);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    cleanup();
    process.exit(1);
  },
);
