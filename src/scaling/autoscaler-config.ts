// KPA settings: Knative's config-autoscaler keys (cluster defaults) overridden per revision by the
// autoscaling.knative.dev/* annotations, with Knative's defaults and validation ranges
// (serving pkg/autoscaler/config/config.go, pkg/apis/autoscaling/register.go, reconciler/autoscaling/resources).
// Pure: bad values produce a warning and fall back to the default; they never throw.

import { parseGoBool, parseSecondsOrDuration } from '../model/duration.js';

export const ANN = 'autoscaling.knative.dev/';

export interface AutoscalerConfig {
  enableScaleToZero: boolean;
  containerConcurrencyTargetPercentage: number;
  containerConcurrencyTargetDefault: number;
  requestsPerSecondTargetDefault: number;
  targetBurstCapacity: number;
  stableWindowMs: number;
  panicWindowPercentage: number;
  panicThresholdPercentage: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  scaleToZeroGracePeriodMs: number;
  scaleToZeroPodRetentionPeriodMs: number;
  scaleDownDelayMs: number;
  initialScale: number;
  allowZeroInitialScale: boolean;
  minScale: number;
  maxScale: number;
  maxScaleLimit: number;
}

export const DEFAULT_AUTOSCALER_CONFIG: AutoscalerConfig = {
  enableScaleToZero: true,
  containerConcurrencyTargetPercentage: 70,
  containerConcurrencyTargetDefault: 100,
  requestsPerSecondTargetDefault: 200,
  targetBurstCapacity: 211,
  stableWindowMs: 60_000,
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  scaleToZeroGracePeriodMs: 30_000,
  scaleToZeroPodRetentionPeriodMs: 0,
  scaleDownDelayMs: 0,
  initialScale: 1,
  allowZeroInitialScale: false,
  minScale: 0,
  maxScale: 0,
  maxScaleLimit: 0,
};

/** Everything the decider and the scale-to-zero logic need for one revision. */
export interface ScalingSpec {
  metric: 'concurrency' | 'rps';
  /** Per-instance target after utilization (Knative TargetValue), ≥ 0.01. */
  targetValue: number;
  /** Per-instance capacity (Knative TotalValue). */
  totalValue: number;
  targetBurstCapacity: number;
  stableWindowMs: number;
  panicWindowMs: number;
  /** Ratio (2 = 200 %). */
  panicThreshold: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  activationScale: number;
  scaleDownDelayMs: number;
  minScale: number;
  /** 0 = unlimited. */
  maxScale: number;
  initialScale: number;
  enableScaleToZero: boolean;
  scaleToZeroGracePeriodMs: number;
  scaleToZeroPodRetentionPeriodMs: number;
}

/** Go duration ("60s", "1m30s", "500ms", "1h") or bare seconds → ms; NaN if invalid (the model's one parser). */
export function parseDuration(s: string): number {
  const seconds = parseSecondsOrDuration(s);
  return seconds === null ? NaN : seconds * 1000;
}

type Warn = (msg: string) => void;

function num(raw: string | undefined, name: string, def: number, warn: Warn, ok: (v: number) => boolean, range: string): number {
  if (raw === undefined || raw.trim() === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || !ok(v)) {
    warn(`${name}: "${raw}" is not valid (${range}); using ${def}`);
    return def;
  }
  return v;
}

function dur(raw: string | undefined, name: string, def: number, warn: Warn, ok: (ms: number) => boolean, range: string): number {
  if (raw === undefined || raw.trim() === '') return def;
  const v = parseDuration(raw);
  if (!Number.isFinite(v) || !ok(v)) {
    warn(`${name}: "${raw}" is not valid (${range}); using ${def / 1000}s`);
    return def;
  }
  return v;
}

function bool(raw: string | undefined, name: string, def: boolean, warn: Warn): boolean {
  if (raw === undefined || raw.trim() === '') return def;
  // strconv.ParseBool, as Knative reads config-autoscaler.
  const v = parseGoBool(raw);
  if (v !== null) return v;
  warn(`${name}: "${raw}" is not true or false; using ${def}`);
  return def;
}

const WINDOW_MIN = 6_000;
const WINDOW_MAX = 3_600_000;

/** config-autoscaler ConfigMap → AutoscalerConfig. */
export function parseAutoscalerConfig(data: Readonly<Record<string, string>> | undefined, warn: Warn = () => {}): AutoscalerConfig {
  const d = data ?? {};
  const D = DEFAULT_AUTOSCALER_CONFIG;
  const w = (m: string) => warn(`config-autoscaler ${m}`);
  const c: AutoscalerConfig = {
    enableScaleToZero: bool(d['enable-scale-to-zero'], 'enable-scale-to-zero', D.enableScaleToZero, w),
    containerConcurrencyTargetPercentage: num(d['container-concurrency-target-percentage'], 'container-concurrency-target-percentage', D.containerConcurrencyTargetPercentage, w, (v) => v > 0 && v <= 100, '1–100'),
    containerConcurrencyTargetDefault: num(d['container-concurrency-target-default'], 'container-concurrency-target-default', D.containerConcurrencyTargetDefault, w, (v) => v >= 0.01, '≥ 0.01'),
    requestsPerSecondTargetDefault: num(d['requests-per-second-target-default'], 'requests-per-second-target-default', D.requestsPerSecondTargetDefault, w, (v) => v >= 0.01, '≥ 0.01'),
    targetBurstCapacity: num(d['target-burst-capacity'], 'target-burst-capacity', D.targetBurstCapacity, w, (v) => v >= 0 || v === -1, '≥ 0 or -1'),
    stableWindowMs: dur(d['stable-window'], 'stable-window', D.stableWindowMs, w, (v) => v >= WINDOW_MIN && v <= WINDOW_MAX, '6s–1h'),
    panicWindowPercentage: num(d['panic-window-percentage'], 'panic-window-percentage', D.panicWindowPercentage, w, (v) => v >= 1 && v <= 100, '1–100'),
    panicThresholdPercentage: num(d['panic-threshold-percentage'], 'panic-threshold-percentage', D.panicThresholdPercentage, w, (v) => v >= 110 && v <= 1000, '110–1000'),
    maxScaleUpRate: num(d['max-scale-up-rate'], 'max-scale-up-rate', D.maxScaleUpRate, w, (v) => v > 1, '> 1'),
    maxScaleDownRate: num(d['max-scale-down-rate'], 'max-scale-down-rate', D.maxScaleDownRate, w, (v) => v > 1, '> 1'),
    scaleToZeroGracePeriodMs: dur(d['scale-to-zero-grace-period'], 'scale-to-zero-grace-period', D.scaleToZeroGracePeriodMs, w, (v) => v >= 0, '≥ 0s'),
    scaleToZeroPodRetentionPeriodMs: dur(d['scale-to-zero-pod-retention-period'], 'scale-to-zero-pod-retention-period', D.scaleToZeroPodRetentionPeriodMs, w, (v) => v >= 0, '≥ 0s'),
    scaleDownDelayMs: dur(d['scale-down-delay'], 'scale-down-delay', D.scaleDownDelayMs, w, (v) => v >= 0 && v % 1000 === 0 && v <= WINDOW_MAX, 'whole seconds, ≤ 1h'),
    initialScale: num(d['initial-scale'], 'initial-scale', D.initialScale, w, (v) => Number.isInteger(v) && v >= 0, 'integer ≥ 0'),
    allowZeroInitialScale: bool(d['allow-zero-initial-scale'], 'allow-zero-initial-scale', D.allowZeroInitialScale, w),
    minScale: num(d['min-scale'], 'min-scale', D.minScale, w, (v) => Number.isInteger(v) && v >= 0, 'integer ≥ 0'),
    maxScale: num(d['max-scale'], 'max-scale', D.maxScale, w, (v) => Number.isInteger(v) && v >= 0, 'integer ≥ 0'),
    maxScaleLimit: num(d['max-scale-limit'], 'max-scale-limit', D.maxScaleLimit, w, (v) => Number.isInteger(v) && v >= 0, 'integer ≥ 0'),
  };
  if (c.initialScale === 0 && !c.allowZeroInitialScale) {
    w('initial-scale: 0 needs allow-zero-initial-scale: "true"; using 1');
    c.initialScale = 1;
  }
  return c;
}

/** Annotation value, accepting Knative's legacy camelCase spellings (minScale, maxScale). */
function ann(a: Readonly<Record<string, string>>, key: string, legacy?: string): string | undefined {
  return a[ANN + key] ?? (legacy ? a[ANN + legacy] : undefined);
}

/** Revision annotations + cluster config + containerConcurrency → the revision's scaling spec. */
export function scalingSpecFor(
  annotations: Readonly<Record<string, string>>,
  containerConcurrency: number,
  cfg: AutoscalerConfig,
  warn: Warn = () => {},
): ScalingSpec {
  const w = (m: string) => warn(`annotation ${ANN}${m}`);
  const a = annotations;
  const metricRaw = ann(a, 'metric');
  let metric: 'concurrency' | 'rps' = 'concurrency';
  if (metricRaw === 'rps') metric = 'rps';
  else if (metricRaw !== undefined && metricRaw !== 'concurrency') w(`metric: "${metricRaw}" is not supported by the KPA (concurrency or rps); using concurrency`);
  const algo = ann(a, 'metric-aggregation-algorithm');
  if (algo !== undefined && algo !== 'linear') w(`metric-aggregation-algorithm: "${algo}" is not supported; using linear`);

  const cc = Math.max(0, containerConcurrency | 0);
  let total: number;
  let utilization: number;
  if (metric === 'rps') {
    total = cfg.requestsPerSecondTargetDefault;
  } else {
    total = cc > 0 ? cc : cfg.containerConcurrencyTargetDefault;
  }
  utilization = cfg.containerConcurrencyTargetPercentage / 100;
  const target = num(ann(a, 'target'), 'target', NaN, w, (v) => v >= 0.01, '≥ 0.01');
  if (!Number.isNaN(target)) total = metric === 'concurrency' && cc > 0 && target > cc ? cc : target;
  const tu = num(ann(a, 'target-utilization-percentage'), 'target-utilization-percentage', NaN, w, (v) => v >= 1 && v <= 100, '1–100');
  if (!Number.isNaN(tu)) utilization = tu / 100;
  const targetValue = Math.max(0.01, total * utilization);

  const stableWindowMs = dur(ann(a, 'window'), 'window', cfg.stableWindowMs, w, (v) => v >= WINDOW_MIN && v <= WINDOW_MAX, '6s–1h');
  const panicPct = num(ann(a, 'panic-window-percentage'), 'panic-window-percentage', cfg.panicWindowPercentage, w, (v) => v >= 1 && v <= 100, '1–100');
  const panicWindowMs = Math.max(1000, Math.round((stableWindowMs * panicPct) / 100 / 1000) * 1000);
  const panicThreshold = num(ann(a, 'panic-threshold-percentage'), 'panic-threshold-percentage', cfg.panicThresholdPercentage, w, (v) => v >= 110 && v <= 1000, '110–1000') / 100;

  const minScale = num(ann(a, 'min-scale', 'minScale'), 'min-scale', cfg.minScale, w, (v) => Number.isInteger(v) && v >= 0, 'integer ≥ 0');
  let maxScale = num(ann(a, 'max-scale', 'maxScale'), 'max-scale', cfg.maxScale, w, (v) => Number.isInteger(v) && v >= 0, 'integer ≥ 0');
  if (cfg.maxScaleLimit > 0 && (maxScale === 0 || maxScale > cfg.maxScaleLimit)) maxScale = cfg.maxScaleLimit;
  let initialScale = num(ann(a, 'initial-scale'), 'initial-scale', cfg.initialScale, w, (v) => Number.isInteger(v) && v >= 0, 'integer ≥ 0');
  if (initialScale === 0 && !cfg.allowZeroInitialScale) {
    w('initial-scale: 0 needs config-autoscaler allow-zero-initial-scale: "true"; using 1');
    initialScale = 1;
  }
  let effMin = minScale;
  if (maxScale > 0 && effMin > maxScale) {
    w(`min-scale ${minScale} is above max-scale ${maxScale}; using ${maxScale}`);
    effMin = maxScale;
  }

  return {
    metric,
    targetValue,
    totalValue: total,
    targetBurstCapacity: num(ann(a, 'target-burst-capacity'), 'target-burst-capacity', cfg.targetBurstCapacity, w, (v) => v >= 0 || v === -1, '≥ 0 or -1'),
    stableWindowMs,
    panicWindowMs,
    panicThreshold,
    maxScaleUpRate: cfg.maxScaleUpRate,
    maxScaleDownRate: cfg.maxScaleDownRate,
    activationScale: num(ann(a, 'activation-scale'), 'activation-scale', 1, w, (v) => Number.isInteger(v) && v >= 1, 'integer ≥ 1'),
    scaleDownDelayMs: dur(ann(a, 'scale-down-delay'), 'scale-down-delay', cfg.scaleDownDelayMs, w, (v) => v >= 0 && v % 1000 === 0 && v <= WINDOW_MAX, 'whole seconds, ≤ 1h'),
    minScale: effMin,
    maxScale,
    initialScale,
    enableScaleToZero: cfg.enableScaleToZero,
    scaleToZeroGracePeriodMs: cfg.scaleToZeroGracePeriodMs,
    scaleToZeroPodRetentionPeriodMs: dur(ann(a, 'scale-to-zero-pod-retention-period'), 'scale-to-zero-pod-retention-period', cfg.scaleToZeroPodRetentionPeriodMs, w, (v) => v >= 0, '≥ 0s'),
  };
}
