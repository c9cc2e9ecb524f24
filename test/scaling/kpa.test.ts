import { describe, expect, it } from 'vitest';
import { boundScale, decide, initialDeciderState, type DeciderState } from '../../src/scaling/kpa.js';
import { DEFAULT_AUTOSCALER_CONFIG, parseAutoscalerConfig, parseDuration, scalingSpecFor, type ScalingSpec } from '../../src/scaling/autoscaler-config.js';
import { MetricWindow } from '../../src/scaling/metric-window.js';

const A = 'autoscaling.knative.dev/';
const spec = (ann: Record<string, string> = {}, cc = 0, cfg: Record<string, string> = {}): ScalingSpec =>
  scalingSpecFor(Object.fromEntries(Object.entries(ann).map(([k, v]) => [A + k, v])), cc, parseAutoscalerConfig(cfg));

describe('targets and windows from annotations and config-autoscaler', () => {
  it.each<{ name: string; ann: Record<string, string>; cc: number; target: number; total: number }>([
    { name: 'cc 0 → default 100 × 70 %', ann: {}, cc: 0, target: 70, total: 100 },
    { name: 'cc 10 → 7', ann: {}, cc: 10, target: 7, total: 10 },
    { name: 'target annotation', ann: { target: '10' }, cc: 0, target: 7, total: 10 },
    { name: 'target capped at cc', ann: { target: '50' }, cc: 20, target: 14, total: 20 },
    { name: 'target-utilization-percentage', ann: { target: '10', 'target-utilization-percentage': '100' }, cc: 0, target: 10, total: 10 },
    { name: 'rps default 200 × 70 %', ann: { metric: 'rps' }, cc: 0, target: 140, total: 200 },
    { name: 'tiny target clamps to 0.01', ann: { target: '0.01' }, cc: 0, target: 0.01, total: 0.01 },
  ])('$name', ({ ann, cc, target, total }) => {
    const s = spec(ann, cc);
    expect(s.targetValue).toBeCloseTo(target, 9);
    expect(s.totalValue).toBe(total);
  });

  it('derives the panic window from the stable window and reads durations like Go', () => {
    expect(spec().stableWindowMs).toBe(60_000);
    expect(spec().panicWindowMs).toBe(6_000);
    expect(spec({ window: '6s' }).panicWindowMs).toBe(1_000);
    expect(spec({ window: '2m', 'panic-window-percentage': '25' }).panicWindowMs).toBe(30_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('soon')).toBeNaN();
  });

  it('warns and falls back on invalid values', () => {
    const warnings: string[] = [];
    const cfg = parseAutoscalerConfig({ 'stable-window': '2s', 'max-scale-down-rate': '1', 'enable-scale-to-zero': 'maybe' }, (m) => warnings.push(m));
    expect(cfg.stableWindowMs).toBe(60_000);
    expect(cfg.maxScaleDownRate).toBe(2);
    expect(cfg.enableScaleToZero).toBe(true);
    expect(warnings).toHaveLength(3);
    expect(warnings.some((w) => /^config-autoscaler stable-window: "2s"/.test(w))).toBe(true);
    const w2: string[] = [];
    const s = scalingSpecFor({ [A + 'window']: '1s', [A + 'min-scale']: '-1', [A + 'minScale']: '2' }, 0, DEFAULT_AUTOSCALER_CONFIG, (m) => w2.push(m));
    expect(s.stableWindowMs).toBe(60_000);
    expect(s.minScale).toBe(0);
    expect(w2.some((m) => m.includes('autoscaling.knative.dev/window'))).toBe(true);
    expect(scalingSpecFor({ [A + 'minScale']: '2' }, 0, DEFAULT_AUTOSCALER_CONFIG).minScale).toBe(2);
  });

  it('reads booleans as Knative does (strconv.ParseBool)', () => {
    expect(parseAutoscalerConfig({ 'enable-scale-to-zero': 'F' }).enableScaleToZero).toBe(false);
    expect(parseAutoscalerConfig({ 'enable-scale-to-zero': '0', 'allow-zero-initial-scale': 'True' }).allowZeroInitialScale).toBe(true);
    const warnings: string[] = [];
    expect(parseAutoscalerConfig({ 'enable-scale-to-zero': 'fAlse' }, (m) => warnings.push(m)).enableScaleToZero).toBe(true);
    expect(warnings).toHaveLength(1);
  });
});

describe('KPA decider (Knative autoscaler.go formulas)', () => {
  const S = spec();
  it.each([
    { name: 'stable 350 → ceil(350/70) = 5', ready: 5, stable: 350, panic: 350, want: 5, panicking: false },
    { name: 'at most halving per decision: 10 pods at stable 70 → 5', ready: 10, stable: 70, panic: 70, want: 5, panicking: false },
    { name: 'one pod idle → 0', ready: 1, stable: 0, panic: 0, want: 0, panicking: false },
    { name: 'zero pods, a poke of 1 → 1', ready: 0, stable: 1, panic: 1, want: 1, panicking: false },
    { name: 'panic: dppc/ready ≥ 200 % → max(stable, panic)', ready: 2, stable: 100, panic: 700, want: 10, panicking: true },
    { name: 'just under the threshold', ready: 5, stable: 350, panic: 630, want: 5, panicking: false },
  ])('$name', ({ ready, stable, panic, want, panicking }) => {
    const d = decide(S, initialDeciderState(), { now: 0, readyPods: ready, stable, panic });
    expect(d.desired).toBe(want);
    expect(d.panicking).toBe(panicking);
  });

  it('limits scale-up by max-scale-up-rate and scale-down by max-scale-down-rate', () => {
    const s = spec({}, 0, { 'max-scale-up-rate': '2', 'max-scale-down-rate': '4' });
    expect(decide(s, initialDeciderState(), { now: 0, readyPods: 3, stable: 7000, panic: 0 }).desired).toBe(6);
    expect(decide(s, initialDeciderState(), { now: 0, readyPods: 0, stable: 7000, panic: 0 }).desired).toBe(2);
    expect(decide(s, initialDeciderState(), { now: 0, readyPods: 12, stable: 0, panic: 0 }).desired).toBe(3);
    expect(decide(S, initialDeciderState(), { now: 0, readyPods: 1, stable: 70_000_000, panic: 0 }).desired).toBe(1000);
  });

  it('holds the panic peak until a stable window after the last threshold crossing', () => {
    let st: DeciderState = initialDeciderState();
    const step = (now: number, ready: number, stable: number, panic: number) => {
      const d = decide(S, st, { now, readyPods: ready, stable, panic });
      st = d.state;
      return d;
    };
    expect(step(0, 2, 100, 700)).toMatchObject({ desired: 10, panicking: true });
    // Load drops: still panicking, never below the peak.
    expect(step(2_000, 10, 100, 70)).toMatchObject({ desired: 10, panicking: true });
    expect(step(59_000, 10, 70, 70)).toMatchObject({ desired: 10, panicking: true });
    // A new crossing extends panic; a higher panic value raises the peak.
    expect(step(30_000, 4, 100, 1400)).toMatchObject({ desired: 20, panicking: true });
    expect(step(89_000, 20, 70, 70)).toMatchObject({ desired: 20, panicking: true });
    // One stable window after the last crossing (30 s + 60 s): back to the stable value, rate limited.
    expect(step(90_001, 20, 70, 70)).toMatchObject({ desired: 10, panicking: false });
  });

  it('applies scale-down-delay as a max over the delay window', () => {
    const s = spec({ 'scale-down-delay': '10s' });
    let st = initialDeciderState();
    const at = (now: number, stable: number, ready: number) => {
      const d = decide(s, st, { now, readyPods: ready, stable, panic: stable });
      st = d.state;
      return d.desired;
    };
    expect(at(0, 350, 5)).toBe(5);
    expect(at(5_000, 140, 5)).toBe(5); // would be 2
    expect(at(9_000, 140, 5)).toBe(5);
    expect(at(10_500, 140, 5)).toBe(2); // the 5 has left the window
    expect(at(21_000, 70, 3)).toBe(1);
  });

  it('honours activation-scale and computes excess burst capacity', () => {
    expect(decide(spec({ 'activation-scale': '3' }), initialDeciderState(), { now: 0, readyPods: 0, stable: 1, panic: 1 }).desired).toBe(3);
    expect(decide(spec({ 'activation-scale': '3' }), initialDeciderState(), { now: 0, readyPods: 1, stable: 0, panic: 0 }).desired).toBe(0);
    expect(decide(S, initialDeciderState(), { now: 0, readyPods: 1, stable: 0, panic: 0 }).excessBurstCapacity).toBe(-111);
    expect(decide(S, initialDeciderState(), { now: 0, readyPods: 3, stable: 50, panic: 50 }).excessBurstCapacity).toBe(39);
    expect(decide(spec({ 'target-burst-capacity': '-1' }), initialDeciderState(), { now: 0, readyPods: 3, stable: 0, panic: 0 }).excessBurstCapacity).toBe(-1);
  });
});

describe('bounds and scale to zero (Knative scaler.go)', () => {
  const S = spec(); // window 60 s, grace 30 s
  const active = { activeSince: 0, inactiveSince: null, initialized: true };

  it('holds one instance for the first stable window, then waits out the grace period before zero', () => {
    let st = { ...active } as { activeSince: number | null; inactiveSince: number | null; initialized: boolean };
    const at = (now: number, want: number, current: number, busy = false) => {
      const b = boundScale(S, st, { now, want, current, busy });
      st = b.state;
      return b.scale;
    };
    expect(at(30_000, 0, 2)).toBe(1); // active for less than a stable window
    expect(at(61_000, 0, 1)).toBe(1); // inactive from now
    expect(at(90_000, 0, 1)).toBe(1);
    expect(at(91_000, 0, 1)).toBe(0); // 30 s inactive
    expect(st.activeSince).toBeNull();
    expect(at(95_000, 0, 0)).toBe(0);
    expect(at(96_000, 1, 0)).toBe(1); // scale from zero
    expect(st.activeSince).toBe(96_000);
  });

  it('does not scale to zero under queued or in-flight requests; demand resets the inactive clock', () => {
    let st = { activeSince: 0, inactiveSince: 61_000, initialized: true } as { activeSince: number | null; inactiveSince: number | null; initialized: boolean };
    const b = boundScale(S, st, { now: 200_000, want: 0, current: 1, busy: true });
    expect(b.scale).toBe(1);
    st = b.state;
    expect(boundScale(S, st, { now: 201_000, want: 0, current: 1, busy: false }).scale).toBe(1);
  });

  it('uses the longer of grace and pod retention', () => {
    const s = spec({ 'scale-to-zero-pod-retention-period': '2m' });
    const st = { activeSince: 0, inactiveSince: 100_000, initialized: true };
    expect(boundScale(s, st, { now: 219_000, want: 0, current: 1, busy: false }).scale).toBe(1);
    expect(boundScale(s, st, { now: 220_000, want: 0, current: 1, busy: false }).scale).toBe(0);
  });

  it('applies min-scale, max-scale, initial-scale and enable-scale-to-zero', () => {
    expect(boundScale(spec({ 'min-scale': '2' }), active, { now: 500_000, want: 0, current: 2, busy: false }).scale).toBe(2);
    expect(boundScale(spec({ 'max-scale': '3' }), active, { now: 0, want: 10, current: 1, busy: false }).scale).toBe(3);
    expect(boundScale(spec({}, 0, { 'enable-scale-to-zero': 'false' }), active, { now: 500_000, want: 0, current: 1, busy: false }).scale).toBe(1);
    const init = { activeSince: 0, inactiveSince: null, initialized: false };
    expect(boundScale(spec({ 'initial-scale': '3' }), init, { now: 1000, want: 1, current: 3, busy: false }).scale).toBe(3);
    expect(boundScale(spec({ 'initial-scale': '3' }), { ...init, initialized: true }, { now: 1000, want: 1, current: 3, busy: false }).scale).toBe(1);
  });
});

describe('metric window (1 s buckets, linear average)', () => {
  it('averages over the filled part of a window and forgets a fully stale one', () => {
    const w = new MetricWindow(60);
    w.record(1_000, 10);
    w.record(1_400, 2); // same second: summed
    w.record(2_000, 6);
    expect(w.average(2_500, 60)).toBe(9); // (12 + 6) / 2 buckets
    expect(w.average(2_500, 1)).toBe(6);
    expect(w.average(4_000, 60)).toBe(6); // now 4 (no data): (12+6)/ (4-1) seconds
    // The current second has no data yet: the window ends at the last full second instead of counting an empty
    // bucket (Knative bucketing.go); a 1 s window with nothing in the current second is 0, as there.
    expect(w.average(3_200, 1)).toBe(0);
    expect(w.average(3_200, 2)).toBe(9); // seconds 1 and 2
    expect(w.average(4_200, 2)).toBe(0); // nothing for a whole window
    expect(w.average(4_200, 3)).toBe(6); // seconds 1–3: 18 / 3
    expect(w.average(70_000, 60)).toBe(0);
    w.record(80_000, 3);
    expect(w.average(80_000, 60)).toBe(3);
  });
});
