import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createBackends, type BackendsImpl } from '../../src/backends/index.js';
import type { Target } from '../../src/backends/types.js';
import { Outcome } from '../../src/backends/types.js';
import type { ClusterConfig } from '../../src/model/config.js';
import { revisionsDebug } from '../../src/scaling/revisions-debug.js';
import { TestWaiter, pidAlive, processSpec, until } from '../backends/helpers.js';

const logger = pino({ level: 'silent' });
let backends: BackendsImpl | null = null;
afterEach(async () => {
  await backends?.close();
  backends = null;
});

/** What the forwarder does: acquire (or wait), send, release. */
async function send(t: Target, path: string): Promise<any> {
  const w = new TestWaiter();
  let ep = t.acquire(w);
  if (!ep) {
    await w.settled;
    if (w.rejected) throw new Error(`rejected ${w.rejected.status} ${w.rejected.reason}`);
    ep = w.granted!;
  }
  try {
    const r = await fetch(ep.origin + path);
    const body = await r.json();
    t.release(ep, Outcome.Ok);
    return body;
  } catch (err) {
    t.release(ep, Outcome.EndpointFailed);
    throw err;
  }
}

function revisionSpec(key: string, annotations: Record<string, string>, cc = 0) {
  const s = processSpec(key, {}, { containerConcurrency: cc });
  s.revisionInfo = { ...s.revisionInfo!, containerConcurrency: cc, annotations: Object.fromEntries(Object.entries(annotations).map(([k, v]) => [`autoscaling.knative.dev/${k}`, v])) };
  return s;
}

const config = (autoscaler: Record<string, string>) => ({ raw: { 'config-autoscaler': autoscaler } }) as unknown as ClusterConfig;

describe('built-in serving with real processes', () => {
  it('scales from zero on the first request, out under load, and back to zero when idle', async () => {
    const b = (backends = createBackends({ logger, autoscaleTickMs: 200, killGraceMs: 2000 }));
    b.configure(config({ 'allow-zero-initial-scale': 'true', 'scale-to-zero-grace-period': '0s' }));
    const key = 'rev:default/auto-00001';
    b.sync(new Map([[key, revisionSpec(key, { 'initial-scale': '0', window: '6s', target: '2', 'target-utilization-percentage': '100', 'max-scale': '4' })]]));
    const t = b.get(key)!;
    const pool = b.pool(key)!;
    expect(pool.activeCount).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(pool.activeCount).toBe(0); // initial-scale 0: nothing runs before traffic

    // Scale from zero: the request waits in the queue, the poke starts a process, the request is released.
    const first = await send(t, '/');
    expect(first.revision).toBe('auto-00001');
    expect(pool.activeCount).toBe(1);

    // 12 concurrent clients against a target of 2 per instance: panic, capped by max-scale 4.
    let stop = false;
    let ok = 0;
    const pids = new Set<number>();
    let maxReady = 0;
    const worker = async () => {
      while (!stop) {
        const body = await send(t, '/?sleep=100');
        pids.add(body.pid);
        ok++;
      }
    };
    const workers = Array.from({ length: 12 }, worker);
    await until(() => {
      maxReady = Math.max(maxReady, pool.readyCount);
      return pool.readyCount >= 3;
    }, 10_000);
    const dbg = revisionsDebug().find((r) => r.key === key)!;
    expect(dbg.desiredScale).toBeGreaterThanOrEqual(3);
    expect(dbg.desiredScale).toBeLessThanOrEqual(4);
    expect(dbg.source).toBe('process');
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(workers);
    expect(ok).toBeGreaterThan(20);
    expect(pids.size).toBeGreaterThanOrEqual(2); // requests were spread over several instances
    expect(pool.activeCount).toBeLessThanOrEqual(4);
    const running = pool.instances.map((i) => i.pid!).filter(Boolean);

    // Idle: after the 6 s window empties (+ 0 s grace) every instance is drained and stopped.
    await until(() => pool.activeCount === 0, 20_000, 100);
    await until(() => running.every((p) => !pidAlive(p)), 5_000);
    expect(revisionsDebug().find((r) => r.key === key)!.actualScale).toBe(0);

    // And it comes back.
    expect((await send(t, '/')).revision).toBe('auto-00001');
  }, 40_000);

  it('enforces containerConcurrency per instance, as counted by the backend itself', async () => {
    const b = (backends = createBackends({ logger, killGraceMs: 2000 }));
    const key = 'rev:default/cc-00001';
    b.sync(new Map([[key, revisionSpec(key, { 'min-scale': '2', 'max-scale': '2' }, 2)]]));
    const t = b.get(key)!;
    const pool = b.pool(key)!;
    await until(() => pool.readyCount === 2);
    await Promise.all(Array.from({ length: 24 }, () => send(t, '/?sleep=50')));
    const stats = await Promise.all(pool.instances.map((i) => fetch(`http://127.0.0.1:${i.port}/stats`).then((r) => r.json() as Promise<{ maxInFlight: number; served: number }>)));
    for (const s of stats) {
      expect(s.maxInFlight).toBeLessThanOrEqual(2);
      expect(s.maxInFlight).toBe(2); // both slots were used: the bound was reached, not just never approached
    }
    expect(stats.reduce((a, s) => a + s.served, 0)).toBe(24);
  });
});
