// Time-weighted concurrency for one revision, as Knative's RequestStats (networking pkg/http/stats): on every
// arrival/completion and at report time, computed += concurrency × Δt and secondsInUse += Δt; a report is
// computed / secondsInUse, then the window resets while the current concurrency carries over.

export interface StatReport {
  averageConcurrency: number;
  requestCount: number;
}

export class RequestStats {
  concurrency = 0;
  private requestCount = 0;
  private computed = 0;
  private secondsInUse = 0;
  private lastChange: number;

  /** `now` in milliseconds from the injected clock. */
  constructor(now: number) {
    this.lastChange = now;
  }

  private compute(now: number): void {
    const dt = now - this.lastChange;
    if (dt > 0) {
      const secs = dt / 1000;
      this.secondsInUse += secs;
      this.computed += this.concurrency * secs;
      this.lastChange = now;
    }
  }

  /** A fresh entry (Knative creates a new one for the first request after an idle tick deleted the old). */
  restart(now: number): void {
    this.requestCount = 0;
    this.computed = 0;
    this.secondsInUse = 0;
    this.lastChange = now;
  }

  reqIn(now: number): void {
    this.compute(now);
    this.requestCount++;
    this.concurrency++;
  }

  reqOut(now: number): void {
    this.compute(now);
    if (this.concurrency > 0) this.concurrency--;
  }

  report(now: number): StatReport {
    this.compute(now);
    const r: StatReport = {
      averageConcurrency: this.secondsInUse > 0 ? this.computed / this.secondsInUse : 0,
      requestCount: this.requestCount,
    };
    this.computed = 0;
    this.secondsInUse = 0;
    this.requestCount = 0;
    return r;
  }
}
