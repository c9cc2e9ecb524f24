// Activator bench (issue 4): the real CLI serving a generated folder whose Services run conf/apps/autoscale.js as
// local processes. Three measurements:
//  1. warm overhead: open loop at BENCH_ACTIVATOR_RATE (1,000) req/s, ?sleep=100, direct to the revision's process
//     vs through wharf (throttler, cc = 0, K-Proxy-Request, metrics, access log); interleaved rounds, median of
//     p50/p95/p99 added. Knative's budget is ≤ 10 ms at p95 (dataplane-probe); our goal is ≤ 1 ms.
//  2. cold start: first request to a revision at zero → its response, minus the process's own start time
//     (/debug/revisions instances[].startupMs: spawn → readiness probe passes). Goal ≤ 50 ms of wharf overhead.
//     Also: what a fresh loopback connection costs over a reused keep-alive one (the probe-connection question).
//  3. backpressure: cc = 1, max-scale 1, a 1 s backend, 200 req/s for BENCH_BACKPRESSURE_SECONDS (60): wharf's RSS
//     sampled every second (peak reported) and the latency of the excess 503s.
// Run: node --import tsx bench/activator.ts   (also run by `npm run bench`)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Pool } from 'undici';
import { deadPort as freePort } from '../test/support/http.js';

const ROOT = resolve(import.meta.dirname, '..');
const APP = join(ROOT, 'conf/apps/autoscale.js');
const RATE = Number(process.env.BENCH_ACTIVATOR_RATE ?? 1000);
const WARM_SECONDS = Number(process.env.BENCH_ACTIVATOR_SECONDS ?? 8);
const WARM_ROUNDS = Number(process.env.BENCH_ACTIVATOR_ROUNDS ?? 3);
const COLD_SAMPLES = Number(process.env.BENCH_COLD_SAMPLES ?? 5);
const BP_SECONDS = Number(process.env.BENCH_BACKPRESSURE_SECONDS ?? 60);
const BP_RATE = Number(process.env.BENCH_BACKPRESSURE_RATE ?? 200);
// BENCH_ACCESS_LOG=0 turns wharf's access log off (config-wharf access-log), to see its share of the overhead.

const children: ChildProcess[] = [];
const cleanup = (): void => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function service(name: string, annotations: Record<string, string>, cc: number, timeoutSeconds = 300): string {
  const ann = Object.entries(annotations)
    .map(([k, v]) => `        autoscaling.knative.dev/${k}: "${v}"`)
    .join('\n');
  return `apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  template:
    metadata:
      annotations:
${ann}
    spec:
      containerConcurrency: ${cc}
      timeoutSeconds: ${timeoutSeconds}
      containers:
        - image: wharf.dev/demo/autoscale
          command: ["${process.execPath}", "${APP}"]
          readinessProbe: { httpGet: { path: /healthz } }
`;
}

function writeConf(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.yaml'),
    `apiVersion: v1
kind: ConfigMap
metadata: { name: config-domain, namespace: knative-serving }
data: { example.com: "" }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: config-autoscaler, namespace: knative-serving }
data: { allow-zero-initial-scale: "true", scale-to-zero-grace-period: "600s", stable-window: "600s" }
${process.env.BENCH_ACCESS_LOG === '0' ? '---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: config-wharf, namespace: knative-serving }\ndata: { access-log: "false" }\n' : ''}`,
  );
  // One warm instance, never scaled (the comparison is the same process direct vs through wharf).
  writeFileSync(join(dir, 'warm.yaml'), service('warm', { 'min-scale': '1', 'max-scale': '1', 'initial-scale': '1' }, 0));
  for (let i = 1; i <= COLD_SAMPLES; i++) {
    writeFileSync(join(dir, `cold-${i}.yaml`), service(`cold-${i}`, { 'min-scale': '0', 'max-scale': '1', 'initial-scale': '0' }, 0));
  }
  writeFileSync(join(dir, 'bp.yaml'), service('bp', { 'min-scale': '1', 'max-scale': '1', 'initial-scale': '1' }, 1, 10));
}

interface RevisionDebug {
  service: string;
  actualScale: number;
  queueDepth: number;
  instances?: { port: number; state: string; startupMs: number }[];
}

async function revisions(admin: number): Promise<RevisionDebug[]> {
  const c = new Client(`http://127.0.0.1:${admin}`);
  try {
    const r = await c.request({ path: '/debug/revisions', method: 'GET' });
    return (await r.body.json()) as RevisionDebug[];
  } finally {
    await c.close();
  }
}

interface LoadResult {
  sent: number;
  byStatus: Record<number, number>;
  errors: number;
  /** Latencies in ms, by status class: ok (2xx) and rejected (503). */
  ok: Float64Array;
  rejected: Float64Array;
}

/** Open loop: requests leave on schedule whatever the answers do; latency is measured from each send. */
async function openLoop(origin: string, host: string, path: string, rate: number, seconds: number, connections: number): Promise<LoadResult> {
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  // Warm the connections so connection setup is not measured.
  await Promise.all(Array.from({ length: Math.min(connections, 64) }, () => pool.request({ path: '/healthz', method: 'GET', headers: { host } }).then((r) => r.body.dump())));
  const total = Math.round(rate * seconds);
  const okLat: number[] = [];
  const rejLat: number[] = [];
  const byStatus: Record<number, number> = {};
  let errors = 0;
  let done = 0;
  let resolveDone!: () => void;
  const finished = new Promise<void>((r) => (resolveDone = r));
  const fire = (): void => {
    const t0 = performance.now();
    pool
      .request({ path, method: 'GET', headers: { host } })
      .then(async (res) => {
        await res.body.dump();
        const ms = performance.now() - t0;
        byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1;
        if (res.statusCode < 300) okLat.push(ms);
        else if (res.statusCode === 503) rejLat.push(ms);
      })
      .catch(() => errors++)
      .finally(() => {
        if (++done === total) resolveDone();
      });
  };
  const start = performance.now();
  const interval = 1000 / rate;
  let sent = 0;
  await new Promise<void>((r) => {
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        fire();
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else r();
    };
    tick();
  });
  await finished;
  await pool.close();
  return { sent: total, byStatus, errors, ok: Float64Array.from(okLat).sort(), rejected: Float64Array.from(rejLat).sort() };
}

const q = (xs: Float64Array, p: number): number => (xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!);
const f = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'wharf-bench-act-'));
  const conf = join(work, 'conf');
  writeConf(conf);
  const http = await freePort();
  const admin = await freePort();
  const wharf = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', conf, '--data-dir', join(work, 'data'), '--http-port', String(http),
      '--internal-http-port', String(await freePort()), '--https-port', String(await freePort()), '--internal-https-port', String(await freePort()),
      '--admin-port', String(admin), '--log-level', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(wharf);
  let stderr = '';
  wharf.stderr!.on('data', (d) => (stderr += d));
  const origin = `http://127.0.0.1:${http}`;

  // Wait for the warm and bp instances.
  let warmPort = 0;
  for (let i = 0; ; i++) {
    if (wharf.exitCode !== null) throw new Error(`wharf exited: ${stderr}`);
    const revs = await revisions(admin).catch(() => [] as RevisionDebug[]);
    const warm = revs.find((r) => r.service === 'warm');
    const bp = revs.find((r) => r.service === 'bp');
    if (warm?.actualScale === 1 && bp?.actualScale === 1) {
      warmPort = warm.instances![0]!.port;
      break;
    }
    if (i > 300) throw new Error('revisions did not become ready');
    await sleep(100);
  }
  process.stdout.write(`\nactivator bench: wharf pid ${wharf.pid}, node ${process.version}\n`);

  // 1. warm overhead
  process.stdout.write(`\nwarm overhead: open loop ${RATE} req/s, ?sleep=100, ${WARM_ROUNDS} interleaved rounds of ${WARM_SECONDS}s (median)\n`);
  const added: { p50: number[]; p95: number[]; p99: number[] } = { p50: [], p95: [], p99: [] };
  const rows: { name: string; p50: number; p95: number; p99: number; errors: number }[] = [];
  // Warm-up (discarded): JIT, wharf's upstream pool growing to ~100 keep-alive connections, the backend's too.
  await openLoop(origin, 'warm.default.example.com', '/?sleep=100', RATE, 3, 400);
  await openLoop(`http://127.0.0.1:${warmPort}`, 'warm.default.example.com', '/?sleep=100', RATE, 1, 400);
  for (let round = 0; round < WARM_ROUNDS; round++) {
    const d = await openLoop(`http://127.0.0.1:${warmPort}`, 'warm.default.example.com', '/?sleep=100', RATE, WARM_SECONDS, 400);
    const w = await openLoop(origin, 'warm.default.example.com', '/?sleep=100', RATE, WARM_SECONDS, 400);
    for (const [name, r] of [['direct', d], ['wharf', w]] as const) {
      rows.push({ name, p50: q(r.ok, 0.5), p95: q(r.ok, 0.95), p99: q(r.ok, 0.99), errors: r.sent - r.ok.length });
    }
    added.p50.push(q(w.ok, 0.5) - q(d.ok, 0.5));
    added.p95.push(q(w.ok, 0.95) - q(d.ok, 0.95));
    added.p99.push(q(w.ok, 0.99) - q(d.ok, 0.99));
  }
  for (const r of rows) process.stdout.write(`  ${r.name.padEnd(7)} p50 ${f(r.p50)} ms  p95 ${f(r.p95)} ms  p99 ${f(r.p99)} ms  non-2xx/errors ${r.errors}\n`);
  const a95 = median(added.p95);
  process.stdout.write(
    `  added by wharf (median of rounds): p50 ${f(median(added.p50), 3)} ms  p95 ${f(a95, 3)} ms  p99 ${f(median(added.p99), 3)} ms\n` +
      `  p95 added: Knative budget ≤ 10 ms ${a95 <= 10 ? 'OK' : 'ABOVE'}; wharf goal ≤ 1 ms ${a95 <= 1 ? 'OK' : 'ABOVE GOAL'}\n`,
  );

  // 2. cold start
  process.stdout.write(`\ncold start: ${COLD_SAMPLES} revisions at zero, first request each (node process start included in "process")\n`);
  const overheads: number[] = [];
  for (let i = 1; i <= COLD_SAMPLES; i++) {
    const host = `cold-${i}.default.example.com`;
    const c = new Client(origin);
    await c.request({ path: '/healthz', method: 'GET', headers: { host: 'unknown.invalid' } }).then((r) => r.body.dump()); // connect first
    const t0 = performance.now();
    const r = await c.request({ path: '/', method: 'GET', headers: { host } });
    await r.body.dump();
    const total = performance.now() - t0;
    await c.close();
    const rev = (await revisions(admin)).find((x) => x.service === `cold-${i}`)!;
    const startup = rev.instances?.[0]?.startupMs ?? NaN;
    overheads.push(total - startup);
    process.stdout.write(`  cold-${i}: status ${r.statusCode}  first response ${f(total, 1)} ms  process start ${startup} ms  wharf ${f(total - startup, 1)} ms\n`);
    await sleep(200);
  }
  const coldMed = median(overheads);
  process.stdout.write(`  wharf overhead median ${f(coldMed, 1)} ms, max ${f(Math.max(...overheads), 1)} ms (goal ≤ 50 ms) ${coldMed <= 50 ? 'OK' : 'ABOVE GOAL'}\n`);
  // The probe uses its own short connection; the first request opens a new pooled one. What that costs on loopback:
  const fresh: number[] = [];
  const reused: number[] = [];
  const keep = new Client(`http://127.0.0.1:${warmPort}`);
  await keep.request({ path: '/healthz', method: 'GET' }).then((r) => r.body.dump());
  for (let i = 0; i < 200; i++) {
    const c = new Client(`http://127.0.0.1:${warmPort}`);
    let t = performance.now();
    await c.request({ path: '/healthz', method: 'GET' }).then((r) => r.body.dump());
    fresh.push(performance.now() - t);
    await c.close();
    t = performance.now();
    await keep.request({ path: '/healthz', method: 'GET' }).then((r) => r.body.dump());
    reused.push(performance.now() - t);
  }
  await keep.close();
  process.stdout.write(`  first request on a new connection vs a reused one (loopback, median): ${f(median(fresh) - median(reused), 3)} ms more\n`);

  // 3. backpressure (BENCH_BACKPRESSURE_SECONDS=0 skips it)
  if (BP_SECONDS > 0) await backpressure(wharf, admin, origin);

  wharf.kill('SIGTERM');
  await new Promise((r) => wharf.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}

async function backpressure(wharf: ChildProcess, admin: number, origin: string): Promise<void> {
  process.stdout.write(`\nbackpressure: cc=1, max-scale 1, ?sleep=1000, timeoutSeconds 10, ${BP_RATE} req/s for ${BP_SECONDS}s (queue bound: config-wharf activator-queue-max-requests, default 1000)\n`);
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(rssMb(wharf.pid!)), 1000);
  const rssBefore = rssMb(wharf.pid!);
  let peakQueue = 0;
  const queueSampler = setInterval(() => {
    void revisions(admin).then((revs) => (peakQueue = Math.max(peakQueue, revs.find((r) => r.service === 'bp')?.queueDepth ?? 0)), () => undefined);
  }, 1000);
  // Enough client connections for the whole queue plus the 503s in flight.
  const bp = await openLoop(origin, 'bp.default.example.com', '/?sleep=1000', BP_RATE, BP_SECONDS, 1500);
  clearInterval(sampler);
  clearInterval(queueSampler);
  const third = Math.max(1, Math.floor(rss.length / 3));
  const midRss = median(rss.slice(third, 2 * third));
  const endRss = median(rss.slice(-third));
  process.stdout.write(
    `  responses: ${Object.entries(bp.byStatus).map(([s, n]) => `${s}×${n}`).join(' ')}  errors ${bp.errors}  peak queue ${peakQueue}\n` +
      `  503 latency p50 ${f(q(bp.rejected, 0.5), 3)} ms  p99 ${f(q(bp.rejected, 0.99), 3)} ms  max ${f(q(bp.rejected, 1), 3)} ms\n` +
      `  wharf RSS: before ${f(rssBefore, 1)} MB, peak ${f(Math.max(...rss), 1)} MB, middle third ${f(midRss, 1)} MB, last third ${f(endRss, 1)} MB ` +
      `(${Math.abs(endRss - midRss) <= Math.max(5, midRss * 0.1) ? 'flat' : 'GROWING'})\n`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`activator bench failed: ${(err as Error).stack ?? err}\n`);
    cleanup();
    process.exit(1);
  },
);
