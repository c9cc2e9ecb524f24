// PingSource: emits `dev.knative.sources.ping` events on a cron schedule (croner parses the schedule and handles
// time zones; a 6-field schedule with seconds is accepted as an extension). Each tick schedules only the NEXT
// future run from the current time, so after downtime or a stalled event loop missed ticks are skipped rather than
// fired in a burst.
import { randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import type { PingModel } from '../model/eventing.js';
import { child } from '../observability/logger.js';
import type { CloudEvent } from './event.js';
import { pingEvents } from './metrics.js';

const log = child('eventing-ping');

export const PING_EVENT_TYPE = 'dev.knative.sources.ping';

/** Build the event Knative's ping adapter sends for a tick at `time`. */
export function pingEvent(p: PingModel, time: Date): CloudEvent {
  const attrs: CloudEvent['attrs'] = {
    specversion: '1.0',
    id: randomUUID(),
    source: p.source,
    type: PING_EVENT_TYPE,
    time: time.toISOString(),
  };
  const data = p.dataBase64 !== null ? Buffer.from(p.dataBase64, 'base64') : null;
  if (data && p.contentType) attrs.datacontenttype = p.contentType;
  return { attrs, data: data && data.length > 0 ? data : null, headers: null };
}

/** Validate a schedule the way the runtime will run it; returns an error message or null. */
export function checkSchedule(schedule: string, timezone: string | null): string | null {
  try {
    new Cron(schedule, { paused: true, timezone: timezone ?? undefined });
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

interface Job {
  model: PingModel;
  cron: Cron;
  timer: NodeJS.Timeout | null;
  fingerprint: string;
}

export type PingEmit = (p: PingModel, ev: CloudEvent) => Promise<boolean>;

export class PingScheduler {
  private jobs = new Map<string, Job>();
  private running = false;
  /** Ticks fired, for /debug/eventing. */
  readonly ticks = new Map<string, { sent: number; failed: number; last: string | null; next: string | null }>();

  constructor(private readonly emit: PingEmit, private readonly now: () => number = Date.now) {}

  apply(pings: readonly PingModel[]): void {
    const seen = new Set<string>();
    for (const p of pings) {
      if (!p.ready || !p.sink) continue;
      seen.add(p.key);
      const fp = JSON.stringify([p.schedule, p.timezone]);
      const job = this.jobs.get(p.key);
      if (job && job.fingerprint === fp) {
        job.model = p; // data/sink changes apply from the next tick
        continue;
      }
      if (job) this.clear(job);
      let cron: Cron;
      try {
        cron = new Cron(p.schedule, { paused: true, timezone: p.timezone ?? undefined });
      } catch (e) {
        log.error({ pingsource: p.key, schedule: p.schedule, err: (e as Error).message }, 'invalid schedule; PingSource not started');
        continue;
      }
      const j: Job = { model: p, cron, timer: null, fingerprint: fp };
      this.jobs.set(p.key, j);
      if (!this.ticks.has(p.key)) this.ticks.set(p.key, { sent: 0, failed: 0, last: null, next: null });
      if (this.running) this.schedule(j);
    }
    for (const [k, j] of this.jobs) {
      if (!seen.has(k)) {
        this.clear(j);
        this.jobs.delete(k);
        this.ticks.delete(k);
      }
    }
  }

  start(): void {
    this.running = true;
    for (const j of this.jobs.values()) if (!j.timer) this.schedule(j);
  }

  stop(): void {
    this.running = false;
    for (const j of this.jobs.values()) this.clear(j);
  }

  private clear(j: Job): void {
    if (j.timer) clearTimeout(j.timer);
    j.timer = null;
  }

  private schedule(j: Job): void {
    const next = j.cron.nextRun(new Date(this.now()));
    const t = this.ticks.get(j.model.key);
    if (t) t.next = next ? next.toISOString() : null;
    if (!next) return;
    const delay = Math.max(0, next.getTime() - this.now());
    // Long delays are re-checked every hour so a clock change cannot leave a job sleeping for days.
    j.timer = setTimeout(() => this.fire(j, next), Math.min(delay, 3_600_000));
    j.timer.unref?.();
  }

  private fire(j: Job, at: Date): void {
    j.timer = null;
    if (!this.running || this.jobs.get(j.model.key) !== j) return;
    if (this.now() + 5 < at.getTime()) {
      this.schedule(j); // woke early (long delay split into hourly checks)
      return;
    }
    // The next run is computed from "now", strictly after this tick, so a late wake-up never fires twice.
    const p = j.model;
    const t = this.ticks.get(p.key);
    this.emit(p, pingEvent(p, at)).then(
      (ok) => {
        if (t) {
          if (ok) t.sent++;
          else t.failed++;
          t.last = at.toISOString();
        }
        pingEvents.labels(p.key, ok ? 'sent' : 'failed').inc();
      },
      () => undefined,
    );
    const saveNow = this.now;
    const next = j.cron.nextRun(new Date(Math.max(saveNow(), at.getTime()) + 1));
    if (!next) return;
    if (t) t.next = next.toISOString();
    j.timer = setTimeout(() => this.fire(j, next), Math.min(Math.max(0, next.getTime() - this.now()), 3_600_000));
    j.timer.unref?.();
  }
}
