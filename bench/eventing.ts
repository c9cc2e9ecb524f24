// Eventing bench: durable ingest (1 KB events, 50 concurrent producers, fsync'd group commit) and end-to-end
// delivery to a fast subscriber, with 202 → delivery latency. Run: node --import tsx bench/eventing.ts
// (exports runEventingBench for bench/run.ts). Everything runs on 127.0.0.1 in this process.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { configureLogger } from '../src/observability/logger.js';
import { parseConfig } from '../src/model/config.js';
import { BROKER_HANDLER, compileEventing } from '../src/model/eventing.js';
import type { KObject } from '../src/model/objects.js';
import type { LocalRequest } from '../src/proxy/handler.js';
import { Eventing } from '../src/eventing/runtime.js';

export interface EventingBenchResult {
  ingest: { events: number; seconds: number; eventsPerSec: number; p50Ms: number; p99Ms: number; fsyncs: number; eventsPerFsync: number };
  delivery: { events: number; seconds: number; eventsPerSec: number; ackToDeliveryP50Ms: number; ackToDeliveryP99Ms: number };
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function startBroker(objects: KObject[]): Promise<{ url: string; eventing: Eventing; close: () => Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-bench-ev-'));
  const { config } = parseConfig({});
  const { model } = compileEventing(objects, config);
  const eventing = new Eventing({ dataDir });
  eventing.apply(model);
  await eventing.start();
  const h = eventing.handlerFor(BROKER_HANDLER)!;
  const ctx = { plane: 'internal', host: 'broker-ingress.knative-eventing.svc.cluster.local' } as unknown as LocalRequest;
  const server = http.createServer((req, res) => h.handle(req, res, ctx));
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/default/default`,
    eventing,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await eventing.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Send `n` events with `concurrency` producers from a worker thread; ack latencies and ack times (epoch ms) by id. */
function produce(url: string, n: number, concurrency: number, acks?: Map<string, number>, prefix = 'b-'): Promise<{ seconds: number; latencies: number[] }> {
  const worker = new Worker(new URL('./eventing-producer.mjs', import.meta.url), { workerData: { url, n, concurrency, prefix } });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { seconds: number; latencies: Float64Array; ackAt: Float64Array; failures: number }) => {
      void worker.terminate();
      if (m.failures > 0) return reject(new Error(`${m.failures} events were not answered 202`));
      if (acks) for (let i = 0; i < n; i++) acks.set(`${prefix}${i}`, m.ackAt[i]!);
      resolve({ seconds: m.seconds, latencies: Array.from(m.latencies) });
    });
  });
}

export async function runEventingBench(opts: { ingestEvents?: number; deliveryEvents?: number; producers?: number } = {}): Promise<EventingBenchResult> {
  const nIngest = opts.ingestEvents ?? 20_000;
  const nDeliver = opts.deliveryEvents ?? 10_000;
  const producers = opts.producers ?? 50;

  // 1. Durable ingest only: a broker without triggers.
  const b1 = await startBroker([{ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'default', namespace: 'default' } }]);
  await produce(b1.url, 500, producers, undefined, 'w-'); // warm-up
  const log1 = b1.eventing.logOf('broker.default.default')!;
  const commits0 = log1.stats.commits;
  const ing = await produce(b1.url, nIngest, producers);
  const fsyncs = log1.stats.commits - commits0;
  await b1.close();

  // 2. End to end: one trigger to a fast subscriber; throughput from first send to last delivery.
  const delivered = new Map<string, number>();
  let done: () => void = () => undefined;
  const allDelivered = new Promise<void>((r) => (done = r));
  const sink = http.createServer((req, res) => {
    const id = String(req.headers['ce-id']);
    req.resume();
    req.on('end', () => {
      if (!delivered.has(id) && id.startsWith('b-')) delivered.set(id, performance.timeOrigin + performance.now());
      res.writeHead(200).end();
      if (delivered.size >= nDeliver) done();
    });
  });
  sink.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
  const b2 = await startBroker([
    { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'default', namespace: 'default' } },
    { apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: 'sink', namespace: 'default' }, spec: { broker: 'default', subscriber: { uri: sinkUrl } } },
  ]);
  const acks = new Map<string, number>();
  await produce(b2.url, 500, producers, undefined, 'w-'); // warm-up (not counted by the sink)
  await new Promise((r) => setTimeout(r, 500));
  const t0 = performance.timeOrigin + performance.now();
  await produce(b2.url, nDeliver, producers, acks);
  await Promise.race([allDelivered, new Promise((r) => setTimeout(r, 60_000))]);
  const seconds = (Math.max(...delivered.values()) - t0) / 1000;
  const e2e: number[] = [];
  for (const [id, at] of acks) {
    const d = delivered.get(id);
    if (d !== undefined) e2e.push(Math.max(0, d - at));
  }
  await b2.close();
  await new Promise<void>((r) => sink.close(() => r()));

  return {
    ingest: {
      events: nIngest,
      seconds: round(ing.seconds),
      eventsPerSec: Math.round(nIngest / ing.seconds),
      p50Ms: round(pct(ing.latencies, 50)),
      p99Ms: round(pct(ing.latencies, 99)),
      fsyncs,
      eventsPerFsync: round(nIngest / Math.max(1, fsyncs)),
    },
    delivery: {
      events: nDeliver,
      seconds: round(seconds),
      eventsPerSec: Math.round(delivered.size / seconds),
      ackToDeliveryP50Ms: round(pct(e2e, 50)),
      ackToDeliveryP99Ms: round(pct(e2e, 99)),
    },
  };
}

const round = (x: number): number => Math.round(x * 100) / 100;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  configureLogger({ level: 'warn' });
  const r = await runEventingBench();
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  process.stdout.write(
    `eventing ingest: ${r.ingest.eventsPerSec} events/s (goal ≥ 5000), p50 ${r.ingest.p50Ms} ms, p99 ${r.ingest.p99Ms} ms, ${r.ingest.eventsPerFsync} events/fsync\n` +
      `eventing delivery: ${r.delivery.eventsPerSec} events/s (goal ≥ 2000), 202→delivery p50 ${r.delivery.ackToDeliveryP50Ms} ms, p99 ${r.delivery.ackToDeliveryP99Ms} ms\n`,
  );
  process.exit(0);
}
