// Load generator for bench/eventing.ts (plain JS so the worker needs no TypeScript loader), run in a worker thread so the producers do not share the broker's event
// loop: `n` binary-mode 1 KB CloudEvents over `concurrency` keep-alive connections. Posts back each event's ack
// latency (ms) and ack time (epoch ms, comparable across threads).
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';

const { url, n, concurrency, prefix } = workerData;
const agent = new Agent({ connections: concurrency, pipelining: 1 });
const body = Buffer.alloc(1024, 'x');
const latencies = new Float64Array(n);
const ackAt = new Float64Array(n);
let next = 0;
let failures = 0;
const now = () => performance.timeOrigin + performance.now();
const t0 = now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const s = now();
      const r = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'ce-specversion': '1.0', 'ce-id': `${prefix}${i}`, 'ce-source': '/bench', 'ce-type': 'bench.event', 'content-type': 'application/octet-stream' },
        body,
      });
      await r.body.dump();
      const e = now();
      if (r.statusCode !== 202) failures++;
      latencies[i] = e - s;
      ackAt[i] = e;
    }
  }),
);
const seconds = (now() - t0) / 1000;
await agent.close();
parentPort.postMessage({ seconds, latencies, ackAt, failures });
