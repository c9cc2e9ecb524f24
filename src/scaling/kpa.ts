// The KPA as pure functions, following Knative's formulas (serving pkg/autoscaler/scaling/autoscaler.go for the
// decider, pkg/reconciler/autoscaling/kpa/scaler.go for bounds and scale-to-zero). The caller owns the state
// and the clock; the functions return a new state, so every decision is table-testable.
import type { ScalingSpec } from './autoscaler-config.js';

export interface DeciderState {
  /** ms of the last panic-threshold crossing; null when not panicking. */
  panicTime: number | null;
  maxPanicPods: number;
  /** scale-down-delay: recent desired values, for a max over the delay window. */
  delay: readonly { t: number; v: number }[];
}

export const initialDeciderState = (): DeciderState => ({ panicTime: null, maxPanicPods: 0, delay: [] });

export interface DecideInput {
  now: number;
  /** Ready instances right now. */
  readyPods: number;
  /** Window averages of the metric (concurrency or rps). */
  stable: number;
  panic: number;
  /** Knative: min-scale and maxScaleDown apply only while the revision is routable. */
  reachable?: boolean;
}

export interface Decision {
  desired: number;
  panicking: boolean;
  /** Excess burst capacity (Knative: decides whether the activator stays in the path). */
  excessBurstCapacity: number;
  state: DeciderState;
}

export function decide(spec: ScalingSpec, st: DeciderState, input: DecideInput): Decision {
  const { now } = input;
  const ready = Math.max(1, input.readyPods);
  const maxScaleUp = Math.ceil(spec.maxScaleUpRate * ready);
  const maxScaleDown = input.reachable === false ? 0 : Math.floor(ready / spec.maxScaleDownRate);

  const dspc = Math.ceil(input.stable / spec.targetValue);
  const dppc = Math.ceil(input.panic / spec.targetValue);
  let stablePods = Math.min(Math.max(dspc, maxScaleDown), maxScaleUp);
  let panicPods = Math.min(Math.max(dppc, maxScaleDown), maxScaleUp);
  if (spec.activationScale > 1) {
    if (dspc > 0 && spec.activationScale > stablePods) stablePods = spec.activationScale;
    if (dppc > 0 && spec.activationScale > panicPods) panicPods = spec.activationScale;
  }

  const overThreshold = dppc / ready >= spec.panicThreshold;
  let panicTime = st.panicTime;
  let maxPanicPods = st.maxPanicPods;
  if (overThreshold) {
    panicTime = now; // start, or extend, panic mode
  } else if (panicTime !== null && panicTime + spec.stableWindowMs < now) {
    // The surge has made its way into the stable window: stop panicking.
    panicTime = null;
    maxPanicPods = 0;
  }

  let desired = stablePods;
  if (panicTime !== null) {
    if (desired < panicPods) desired = panicPods;
    // Never scale down while panicking.
    if (desired > maxPanicPods) maxPanicPods = desired;
    else if (desired < maxPanicPods) desired = maxPanicPods;
  }

  let delay = st.delay;
  if (spec.scaleDownDelayMs > 0) {
    const kept = st.delay.filter((e) => e.t > now - spec.scaleDownDelayMs);
    kept.push({ t: now, v: desired });
    delay = kept;
    for (const e of kept) if (e.v > desired) desired = e.v;
  }

  let ebc: number;
  if (spec.targetBurstCapacity === 0) ebc = 0;
  else if (spec.targetBurstCapacity === -1) ebc = -1;
  else ebc = Math.floor(input.readyPods * spec.totalValue - input.panic - spec.targetBurstCapacity);

  return { desired, panicking: panicTime !== null, excessBurstCapacity: ebc, state: { panicTime, maxPanicPods, delay } };
}

/** Lifecycle the scale-to-zero rules need (Knative's PA Active/Inactive conditions). */
export interface ActivityState {
  /** ms when the revision last went from 0 to > 0 instances (PA became active); null while at zero. */
  activeSince: number | null;
  /** ms when the decider first wanted 0 after being active (PA inactive); null otherwise. */
  inactiveSince: number | null;
  /** initial-scale has been reached once (Knative: the PA has been initialized). */
  initialized: boolean;
}

export interface BoundInput {
  now: number;
  /** The decider's desired count. */
  want: number;
  /** Instances currently running or starting. */
  current: number;
  /** Requests queued or in flight right now: never scale to zero under them. */
  busy: boolean;
}

/**
 * Applies min/max/initial scale and the scale-to-zero rules: zero only when enabled, after the revision has been
 * active for a stable window, and after it has been inactive for max(grace period, pod retention period).
 */
export function boundScale(spec: ScalingSpec, st: ActivityState, input: BoundInput): { scale: number; state: ActivityState } {
  const { now } = input;
  let want = input.want;
  let { activeSince, inactiveSince } = st;
  const min = st.initialized ? spec.minScale : Math.max(spec.minScale, spec.initialScale);
  const max = spec.maxScale > 0 ? spec.maxScale : Infinity;

  if (want <= 0 && min === 0) {
    if (!spec.enableScaleToZero) {
      want = 1;
    } else if (input.busy) {
      want = Math.max(1, input.current);
      inactiveSince = null;
    } else if (input.current === 0) {
      want = 0;
    } else if (activeSince !== null && now - activeSince < spec.stableWindowMs) {
      want = 1; // hold one instance for the rest of the first stable window
    } else {
      if (inactiveSince === null) inactiveSince = now;
      const wait = Math.max(spec.scaleToZeroGracePeriodMs, spec.scaleToZeroPodRetentionPeriodMs);
      // Until then keep one instance (the decider only wants 0 once it has driven the count down to ≤ 1).
      want = now - inactiveSince >= wait ? 0 : 1;
    }
  } else if (want > 0) {
    inactiveSince = null;
  }

  const scale = Math.min(Math.max(want, min), max);
  if (scale > 0 && input.current === 0) activeSince = now;
  if (scale === 0) {
    activeSince = null;
    inactiveSince = null;
  }
  return { scale, state: { activeSince, inactiveSince, initialized: st.initialized } };
}
