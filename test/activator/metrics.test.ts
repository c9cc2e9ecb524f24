import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { registry } from '../../src/observability/metrics.js';
import { createBackends, type BackendsImpl } from '../../src/backends/index.js';
import { TestWaiter, staticSpec } from '../backends/helpers.js';

let b: BackendsImpl | null = null;
afterEach(async () => {
  await b?.close();
  b = null;
});

async function sample(name: string, labels: string): Promise<number | undefined> {
  const text = await registry.metrics();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('activator metrics', () => {
  it('exposes concurrency, queue depth, ready backends, queue wait and rejections by reason', async () => {
    b = createBackends({ logger: pino({ level: 'silent' }), queueLimits: { maxRequests: 2 }, lookup: async () => [] });
    b.sync(new Map([['rev:m/r1', staticSpec('rev:m/r1', ['http://nowhere.test:80'], { namespace: 'm', service: 's', revision: 'r1' })]]));
    const t = b.throttler('rev:m/r1')!;
    const before = (await sample('wharf_activator_rejections_total', 'reason="queue_full"')) ?? 0;
    t.acquire(new TestWaiter());
    t.acquire(new TestWaiter());
    const w = new TestWaiter();
    t.acquire(w);
    expect(w.rejected?.status).toBe(503);
    const lbl = 'namespace="m",service="s",revision="r1"';
    expect(await sample('wharf_revision_queue_depth', lbl)).toBe(2);
    expect(await sample('wharf_revision_concurrency', lbl)).toBe(2);
    expect(await sample('wharf_revision_ready_backends', lbl)).toBe(0);
    expect(await sample('wharf_activator_rejections_total', 'reason="queue_full"')).toBe(before + 1);
    const waits = (await registry.metrics()).includes('wharf_activator_queue_wait_seconds_bucket');
    expect(waits).toBe(true);
  });
});
