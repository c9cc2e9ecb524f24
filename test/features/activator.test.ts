// The activator through the real runtime: manifest Services run as local processes, requests go through the
// listener, forwarder and throttler. Covers buffering at zero and release on readiness, the queue bounds (requests
// and bytes → 503 + Retry-After), timeoutSeconds counting queue time (504), a client leaving the queue, the
// K-Proxy-Request header at the backend, and containerConcurrency enforced as the backend sees it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { startWharfFolder, writeManifest, tempDir, configMaps, type TestWharf } from '../support/wharf.js';
import { get, closeAgent } from '../support/http.js';
import type { RevisionDebug } from '../../src/scaling/revisions-debug.js';

// A revision process: listens on $PORT after $START_DELAY_MS, echoes the request headers, tracks how many requests
// it has in flight at once (so the test checks containerConcurrency from the backend's side).
const APP = `import http from 'node:http';
let inFlight = 0, maxInFlight = 0, lastProbePort = 0;
const srv = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/healthz') {
    lastProbePort = req.socket.remotePort;
    return res.end('ok');
  }
  if (url.pathname === '/stats') return res.end(JSON.stringify({ maxInFlight, inFlight }));
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  req.resume();
  req.on('end', () => setTimeout(() => {
    inFlight--;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ pid: process.pid, headers: req.headers, remotePort: req.socket.remotePort, lastProbePort }));
  }, Number(url.searchParams.get('sleep') || 0)));
});
setTimeout(() => srv.listen(Number(process.env.PORT), '127.0.0.1'), Number(process.env.START_DELAY_MS || 0));
process.on('SIGTERM', () => process.exit(0));
`;

function service(name: string, o: { annotations: Record<string, string>; cc?: number; timeoutSeconds?: number; startDelayMs?: number }, app: string): string {
  const ann = Object.entries(o.annotations)
    .map(([k, v]) => `        autoscaling.knative.dev/${k}: "${v}"`)
    .join('\n');
  return `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  template:
    metadata:
      annotations:
${ann}
    spec:
      containerConcurrency: ${o.cc ?? 0}
      timeoutSeconds: ${o.timeoutSeconds ?? 300}
      containers:
        - image: test/app
          command: ["${process.execPath}", "${app}"]
          env:
            - name: START_DELAY_MS
              value: "${o.startDelayMs ?? 0}"
          readinessProbe:
            httpGet:
              path: /healthz
`;
}

const pinned = { 'min-scale': '1', 'max-scale': '1', 'initial-scale': '1' };

let w: TestWharf;
let confDir = '';
beforeAll(async () => {
  const appDir = tempDir('wharf-app-');
  const app = join(appDir, 'app.mjs');
  writeFileSync(app, APP);
  const dir = (confDir = tempDir());
  writeManifest(
    dir,
    'config.yaml',
    configMaps({
      'config-wharf': { 'activator-queue-max-requests': '5', 'activator-queue-max-bytes': '1000' },
      'config-autoscaler': { 'allow-zero-initial-scale': 'true', 'scale-to-zero-grace-period': '300s', 'stable-window': '300s' },
    }),
  );
  // Starts at zero and takes 300 ms to listen: the first request is buffered until the process is ready.
  writeManifest(dir, 'zero.yaml', service('zero', { annotations: { 'min-scale': '0', 'initial-scale': '0', 'max-scale': '1' }, startDelayMs: 300 }, app));
  // One instance, one request at a time: everything else queues.
  writeManifest(dir, 'one.yaml', service('one', { annotations: pinned, cc: 1 }, app));
  writeManifest(dir, 'timeout.yaml', service('timeout', { annotations: pinned, cc: 1, timeoutSeconds: 1 }, app));
  writeManifest(dir, 'two.yaml', service('two', { annotations: pinned, cc: 2 }, app));
  w = await startWharfFolder(dir);
  // The pinned revisions start at once; wait until each has its ready instance.
  await until(async () => {
    const revs = await revisions();
    return ['one', 'timeout', 'two'].every((s) => revs.find((r) => r.service === s)?.actualScale === 1);
  }, 15_000);
}, 30_000);

afterAll(async () => {
  await w?.stop();
  await closeAgent();
});

async function revisions(): Promise<RevisionDebug[]> {
  const r = await request(`http://127.0.0.1:${w.admin}/debug/revisions`);
  return (await r.body.json()) as RevisionDebug[];
}
async function revision(service: string): Promise<RevisionDebug> {
  const r = (await revisions()).find((x) => x.service === service);
  if (!r) throw new Error(`no revision for ${service}`);
  return r;
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const host = (s: string) => `${s}.default.example.com`;

describe('activator through the runtime', () => {
  it('buffers a request at zero, starts a process and releases the request once it is ready', async () => {
    const before = await revision('zero');
    expect(before.actualScale).toBe(0);
    expect(before.instances ?? []).toHaveLength(0);
    const pending = get(w.external, host('zero'), '/');
    await until(async () => (await revision('zero')).queueDepth === 1, 5000);
    const r = await pending;
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    // Knative's activator marks what it proxies, so a queue-proxy does not count it twice.
    expect(body.headers['k-proxy-request']).toBe('activator');
    // The readiness probe went through the forwarder's pool: the first request rides the probe's warm connection.
    expect(body.lastProbePort).toBeGreaterThan(0);
    expect(body.remotePort).toBe(body.lastProbePort);
    const after = await revision('zero');
    expect(after.actualScale).toBe(1);
    expect(after.queueDepth).toBe(0);
    expect(after.instances![0]!.pid).toBe(body.pid);
    expect(after.instances![0]!.startupMs).toBeGreaterThanOrEqual(300);
  });

  it('answers 503 with Retry-After past the request bound, and past the buffered-bytes bound', async () => {
    const busy = get(w.external, host('one'), '/?sleep=1500');
    await until(async () => (await revision('one')).inFlight === 1, 3000);
    const queued = Array.from({ length: 5 }, () => get(w.external, host('one'), '/?sleep=10'));
    await until(async () => (await revision('one')).queueDepth === 5, 3000);
    const over = await get(w.external, host('one'), '/');
    expect(over.status).toBe(503);
    expect(over.headers['retry-after']).toBe('1');
    expect(over.body).toMatch(/activator queue full/);
    const all = await Promise.all([busy, ...queued]);
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);

    // 1000 buffered bytes allowed: a 600-byte body queues, a second one would pass the bound.
    const busy2 = get(w.external, host('one'), '/?sleep=800');
    await until(async () => (await revision('one')).inFlight === 1, 3000);
    const small = get(w.external, host('one'), '/', { method: 'POST', body: 'x'.repeat(600) });
    await until(async () => (await revision('one')).queueBytes === 600, 3000);
    const big = await get(w.external, host('one'), '/', { method: 'POST', body: 'x'.repeat(600) });
    expect(big.status).toBe(503);
    expect(big.headers['retry-after']).toBe('1');
    expect(big.body).toMatch(/buffered bytes/);
    expect((await busy2).status).toBe(200);
    expect((await small).status).toBe(200);
  });

  it('counts queue time toward timeoutSeconds: a request dispatched late gets only the rest (504)', async () => {
    // timeoutSeconds 1, cc 1. The first takes 700 ms; the second waits ~700 ms, so its 700 ms reply comes too late.
    const first = get(w.external, host('timeout'), '/?sleep=700');
    await until(async () => (await revision('timeout')).inFlight === 1, 3000);
    const t0 = Date.now();
    const second = await get(w.external, host('timeout'), '/?sleep=700');
    expect((await first).status).toBe(200);
    expect(second.status).toBe(504);
    // Without queue time counted it would have been a 200 after ~1.4 s.
    expect(Date.now() - t0).toBeLessThan(1400);

    // Behind a request that itself runs out of time: whether it is still queued at its deadline or dispatched
    // with a few milliseconds left, it gets 504 within its own timeoutSeconds.
    const long = get(w.external, host('timeout'), '/?sleep=1200');
    await until(async () => (await revision('timeout')).inFlight === 1, 3000);
    const t1 = Date.now();
    const third = await get(w.external, host('timeout'), '/?sleep=500');
    expect(third.status).toBe(504);
    expect(Date.now() - t1).toBeLessThan(1400);
    expect((await long).status).toBe(504);
  });

  it('drops a client that disconnects while queued from the queue at once', async () => {
    const busy = get(w.external, host('one'), '/?sleep=800');
    await until(async () => (await revision('one')).inFlight === 1, 3000);
    const ac = new AbortController();
    const gone = request(`http://127.0.0.1:${w.external}/`, { headers: { host: host('one') }, signal: ac.signal }).catch((e: Error) => e);
    await until(async () => (await revision('one')).queueDepth === 1, 3000);
    ac.abort();
    await gone;
    await until(async () => (await revision('one')).queueDepth === 0, 1000);
    const rev = await revision('one');
    expect(rev.inFlight).toBe(1); // the busy request is still running: the leaver never reached the backend
    expect((await busy).status).toBe(200);
    expect((await revision('one')).concurrency).toBe(0);
  });

  it('never lets the backend see more than containerConcurrency requests at once', async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, () => get(w.external, host('two'), '/?sleep=150')));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const stats = JSON.parse((await get(w.external, host('two'), '/stats')).body);
    expect(stats.maxInFlight).toBe(2);
    // A client cannot pass its own K-Proxy-Request off as the activator's: the target's value replaces it.
    const spoofed = JSON.parse((await get(w.external, host('two'), '/', { headers: { 'k-proxy-request': 'client' } })).body);
    expect(spoofed.headers['k-proxy-request']).toBe('activator');
  });

  it('answers K-Network-Probe itself: never forwarded, never counted as traffic, never a reason to scale', async () => {
    const before = await revision('two');
    const kpa = await get(w.external, host('two'), '//healthz', { headers: { 'k-network-probe': 'activator', 'user-agent': 'Knative-Autoscaling-Probe' } });
    expect(kpa.status).toBe(200);
    expect(kpa.body).toBe('activator');
    const other = await get(w.external, host('two'), '/', { headers: { 'k-network-probe': 'queue' } });
    expect(other.status).toBe(400);
    const after = await revision('two');
    expect(after.endpoints[0]!.served).toBe(before.endpoints[0]!.served);
    expect(after.concurrency).toBe(0);
    // A real request is counted (the check above can fail).
    await get(w.external, host('two'), '/');
    expect((await revision('two')).endpoints[0]!.served).toBe(before.endpoints[0]!.served + 1);
  });

  it('wharf routes shows each revision\'s live desired/actual scale, panic mode and queue from a running wharf', async () => {
    const root = resolve(import.meta.dirname, '../..');
    // Asynchronously: the wharf under test runs in this process and must keep answering meanwhile.
    const run = (admin: string) =>
      new Promise<{ status: number | null; stdout: string }>((done) => {
        const c = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'src/cli.ts'), 'routes', '--config', confDir, '--data-dir', tempDir('wharf-data-'), '--admin', admin], { cwd: root });
        let stdout = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.on('close', (status) => done({ status, stdout }));
      });
    const live = await run(`http://127.0.0.1:${w.admin}`);
    expect(live.status).toBe(0);
    expect(live.stdout).toContain(`REVISIONS (live, from http://127.0.0.1:${w.admin})`);
    expect(live.stdout).toMatch(/REVISION\s+SOURCE\s+CC\s+DESIRED\s+ACTUAL\s+PANIC\s+QUEUED\s+IN-FLIGHT/);
    expect(live.stdout).toMatch(/default\/two-00001\s+process\s+2\s+1\s+1\s+(yes|no)\s+0\s+0/);
    // Nothing listening there: the folder's configured bounds, and a note that live scale is unknown.
    const port = (await import('../support/http.js')).deadPort;
    const dead = await run(`http://127.0.0.1:${await port()}`);
    expect(dead.stdout).toMatch(/REVISIONS \(no running wharf answered at .*live scale unknown\)/);
    expect(dead.stdout).toMatch(/default\/zero-00001\s+process\s+0\s+0\.\.1/);
  }, 60_000);
});
