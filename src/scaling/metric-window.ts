// Per-second buckets of a metric with window averages as Knative's TimedFloat64Buckets (linear): values
// recorded in the same second are summed; a window that is still filling is averaged over the seconds since
// the first write only; nothing recorded for a whole window → 0 and the buckets start over.

export class MetricWindow {
  private readonly buckets = new Map<number, number>();
  private firstWrite = -1;
  private lastWrite = -1;

  constructor(private readonly maxWindowSec: number) {}

  /** `nowMs` wall clock. */
  record(nowMs: number, value: number): void {
    const sec = Math.floor(nowMs / 1000);
    if (this.lastWrite >= 0 && sec - this.lastWrite > this.maxWindowSec) {
      this.buckets.clear();
      this.firstWrite = -1;
    }
    if (this.firstWrite < 0) this.firstWrite = sec;
    if (sec > this.lastWrite) this.lastWrite = sec;
    this.buckets.set(sec, (this.buckets.get(sec) ?? 0) + value);
    // Forget buckets that can no longer fall in any window.
    if (this.buckets.size > this.maxWindowSec + 2) {
      for (const k of this.buckets.keys()) if (k <= this.lastWrite - this.maxWindowSec) this.buckets.delete(k);
    }
  }

  /**
   * Average over the last `windowSec` seconds ending at `nowMs`. As Knative: when the current second has no data
   * yet (stats arrive once a second, out of phase with decisions), the window ends at the previous second instead
   * of counting the unfilled current bucket as a zero.
   */
  average(nowMs: number, windowSec: number): number {
    if (this.firstWrite < 0) return 0;
    const now = Math.floor(nowMs / 1000);
    const since = now - this.lastWrite;
    if (since >= windowSec) return 0;
    const end = since <= 0 ? now : now - 1;
    let sum = 0;
    for (const [k, v] of this.buckets) if (k > end - windowSec && k <= end) sum += v;
    const filled = since <= 0 ? this.lastWrite - this.firstWrite + 1 : now - this.firstWrite;
    const n = Math.min(windowSec, Math.max(1, filled));
    return sum / n;
  }
}
