import { describe, expect, it } from 'vitest';
import { Throttler } from '../../src/activator/throttler.js';
import { ConcurrencyReporter } from '../../src/activator/concurrency-reporter.js';
import { RequestStats } from '../../src/activator/request-stats.js';
import { BackendEndpoint } from '../../src/backends/endpoint.js';
import { Outcome } from '../../src/backends/types.js';
import type { RevisionStat, StatSink } from '../../src/scaling/stat-sink.js';
import { TestWaiter, staticSpec } from '../backends/helpers.js';

class Recorder implements StatSink {
  stats: RevisionStat[] = [];
  flushes = 0;
  record(_k: string, s: RevisionStat): void {
    this.stats.push(s);
  }
  flush(): void {
    this.flushes++;
  }
}

describe('RequestStats', () => {
  it('averages concurrency over time: two 500 ms requests in one second → 1.0', () => {
    const s = new RequestStats(0);
    s.reqIn(0);
    s.reqOut(500);
    s.reqIn(500);
    s.reqOut(1000);
    expect(s.report(1000)).toEqual({ averageConcurrency: 1, requestCount: 2 });
    // Nothing happened in the next second; concurrency carried over as 0.
    expect(s.report(2000)).toEqual({ averageConcurrency: 0, requestCount: 0 });
  });
});

describe('ConcurrencyReporter on a scripted timeline', () => {
  it('pokes on the first request, subtracts it next tick, weights by time, and drops idle entries', () => {
    let now = 10_000;
    const clock = () => now;
    const t = new Throttler(staticSpec('rev:ns1/r1', [], { namespace: 'ns1', revision: 'r1' }), undefined, clock);
    const ep = new BackendEndpoint('http://10.0.0.1:80', 'http1', { endpointFailed() {} });
    ep.ready = true;
    t.addEndpoint(ep);
    const sink = new Recorder();
    const rep = new ConcurrencyReporter([sink], clock, () => now);
    rep.add(t);

    // t=0: A arrives (poke at once)
    const a = t.acquire(new TestWaiter())!;
    expect(sink.stats).toEqual([{ namespace: 'ns1', name: 'r1', averageConcurrentRequests: 1, requestCount: 1, poke: true, timestampMs: 10_000 }]);
    expect(sink.flushes).toBe(1);
    // t=500: B arrives; t=1000 tick: (1×0.5 + 2×0.5)/1 = 1.5 and 2 arrivals, minus the poke → 0.5 and 1
    now = 10_500;
    const b = t.acquire(new TestWaiter())!;
    expect(sink.stats.length).toBe(1); // no second poke while the entry lives
    now = 11_000;
    rep.tick();
    expect(sink.stats[1]).toMatchObject({ averageConcurrentRequests: 0.5, requestCount: 1, poke: false });
    // t=1250: A done; t=1750: C arrives and is queued? (cc 0: granted); t=2000 tick
    now = 11_250;
    t.release(a, Outcome.Ok);
    now = 11_750;
    const c = t.acquire(new TestWaiter())!;
    now = 12_000;
    rep.tick();
    // 2×0.25 + 1×0.5 + 2×0.25 = 1.5 over 1 s, 1 arrival
    expect(sink.stats[2]).toMatchObject({ averageConcurrentRequests: 1.5, requestCount: 1 });
    now = 12_500;
    t.release(b, Outcome.Ok);
    t.release(c, Outcome.Ok);
    now = 13_000;
    rep.tick();
    expect(sink.stats[3]).toMatchObject({ averageConcurrentRequests: 1, requestCount: 0 });
    // An idle tick: one zero report, then the entry is dropped (no more reports)
    now = 14_000;
    rep.tick();
    expect(sink.stats[4]).toMatchObject({ averageConcurrentRequests: 0, requestCount: 0 });
    now = 15_000;
    rep.tick();
    expect(sink.stats.length).toBe(5);
    // The next request pokes again, and the fresh entry is not diluted by the idle time.
    now = 15_200;
    const d = t.acquire(new TestWaiter())!;
    expect(sink.stats[5]).toMatchObject({ averageConcurrentRequests: 1, requestCount: 1, poke: true });
    now = 16_200;
    rep.tick();
    // In flight for the whole 1 s since arrival: 1.0 − poke 1 = 0, count 1 − 1 = 0
    expect(sink.stats[6]).toMatchObject({ averageConcurrentRequests: 0, requestCount: 0, poke: false });
    t.release(d, Outcome.Ok);
  });

  it('counts queued time as concurrency (a request waiting at zero is visible)', () => {
    let now = 0;
    const clock = () => now;
    const t = new Throttler(staticSpec('rev:ns/r', []), undefined, clock);
    const sink = new Recorder();
    const rep = new ConcurrencyReporter([sink], clock, () => now);
    rep.add(t);
    t.acquire(new TestWaiter());
    t.acquire(new TestWaiter());
    expect(t.queueDepth).toBe(2);
    now = 1000;
    rep.tick();
    expect(sink.stats[1]).toMatchObject({ averageConcurrentRequests: 1, requestCount: 1 }); // 2 − poke
  });
});
