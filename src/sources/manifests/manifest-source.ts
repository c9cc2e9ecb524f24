// The standalone Source: a folder of Knative manifests, watched. Every change (or SIGHUP, via reload()) re-reads the
// folder and re-runs the route reconciler; a reload with any error is refused as a whole, so the last good config
// keeps serving. Rollout steps re-run the reconciler at the time it asks for, without re-reading the folder.
import { statSync, watch, type FSWatcher } from 'node:fs';
import type { Desired } from '../../model/desired.js';
import type { Problem } from '../../model/objects.js';
import { formatProblem } from '../../model/objects.js';
import { child } from '../../observability/logger.js';
import type { Source } from '../source.js';
import { buildDesired, type BuildResult } from './build.js';
import { HistoryStore } from './history-store.js';
import { loadFolder, type LoadResult } from './load.js';

const log = child('manifests');

export interface ManifestSourceOptions {
  /** The manifest folder (every *.yaml / *.yml under it). */
  dir: string;
  /** Where revisions.json (the revision history) lives. */
  dataDir: string;
  /** Quiet time after the last file event before reloading; a burst of writes is one reload. Default 150 ms. */
  debounceMs?: number;
  /**
   * Called instead of onDesired when a reload has error problems (nothing is applied). Without it the problems are
   * logged here.
   */
  onError?: (problems: Problem[]) => void;
  /** Watch the folder for changes (default true). */
  watch?: boolean;
  /** Clock, epoch ms (tests). */
  now?: () => number;
}

export type ReloadOutcome = 'applied' | 'unchanged' | 'error';

/** A burst of events never postpones a reload by more than this, so a change is live within a second. */
const MAX_DEBOUNCE_MS = 400;
const REWATCH_MS = 1000;

export class ManifestSource implements Source {
  readonly dir: string;
  private readonly store: HistoryStore;
  private readonly debounceMs: number;
  private readonly now: () => number;
  private onDesired: ((d: Desired) => void) | null = null;
  private history: unknown;
  private watcher: FSWatcher | null = null;
  private watchedIno: number | undefined;
  private debounceTimer: NodeJS.Timeout | null = null;
  private firstEventAt = 0;
  private rolloutTimer: NodeJS.Timeout | null = null;
  private rewatchTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Fingerprint of the files behind the last reload attempt: events that changed nothing we read (an app's
   *  source, an editor's temp file) are no-ops. */
  private lastFingerprint = '';
  /** The last loaded folder that reconciled cleanly: rollout steps re-run the reconciler on it. */
  private lastGood: LoadResult | null = null;
  private current: BuildResult | null = null;

  constructor(private readonly opts: ManifestSourceOptions) {
    this.dir = opts.dir;
    this.store = new HistoryStore(opts.dataDir);
    this.debounceMs = opts.debounceMs ?? 150;
    this.now = opts.now ?? Date.now;
  }

  /** Loads, reconciles and calls onDesired (or onError), then watches the folder. */
  async start(onDesired: (d: Desired) => void): Promise<void> {
    this.onDesired = onDesired;
    this.stopped = false;
    this.history = this.store.load();
    if (this.opts.watch !== false) this.startWatching();
    this.reloadNow(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.onDesired = null;
    this.watcher?.close();
    this.watcher = null;
    for (const t of [this.debounceTimer, this.rolloutTimer, this.rewatchTimer]) if (t) clearTimeout(t);
    this.debounceTimer = this.rolloutTimer = this.rewatchTimer = null;
  }

  /** Re-scans the folder now (SIGHUP). Resolves with what happened. */
  async reload(): Promise<ReloadOutcome> {
    return this.reloadNow(true);
  }

  /** The Desired last applied (null before the first good load). */
  get desired(): Desired | null {
    return this.current?.desired ?? null;
  }

  private startWatching(): void {
    if (this.stopped) return;
    try {
      this.watchedIno = statSync(this.dir).ino;
      this.watcher = watch(this.dir, { recursive: true, persistent: true }, () => this.schedule());
      this.watcher.on('error', (err) => {
        log.warn({ err, dir: this.dir }, 'folder watch failed; retrying');
        this.watcher?.close();
        this.watcher = null;
        this.retryWatch();
      });
    } catch (err) {
      log.warn({ err, dir: this.dir }, 'cannot watch folder; retrying');
      this.retryWatch();
    }
  }

  private retryWatch(): void {
    if (this.stopped || this.rewatchTimer) return;
    this.rewatchTimer = setTimeout(() => {
      this.rewatchTimer = null;
      if (this.stopped || this.watcher) return;
      this.startWatching();
      // Whatever happened while we were not watching (the folder was replaced, say) is picked up now.
      if (this.watcher) this.schedule();
    }, REWATCH_MS);
    this.rewatchTimer.unref();
  }

  /** Debounce: wait for a quiet `debounceMs`, but never more than MAX_DEBOUNCE_MS after the first event. */
  private schedule(): void {
    if (this.stopped) return;
    const t = Date.now();
    if (!this.debounceTimer) this.firstEventAt = t;
    else clearTimeout(this.debounceTimer);
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstEventAt + MAX_DEBOUNCE_MS - t));
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.reloadNow(false);
    }, wait);
  }

  private reloadNow(force: boolean): ReloadOutcome {
    if (this.stopped) return 'unchanged';
    try {
      return this.reloadFolder(force);
    } catch (err) {
      // Called from timers and the watcher: a bug here must reject the reload, not crash the process.
      log.error({ err }, 'reload failed');
      this.reportErrors([{ severity: 'error', message: `internal error while reloading: ${(err as Error).message}` }]);
      return 'error';
    }
  }

  /**
   * A watch follows the folder's inode: when the folder is deleted, or replaced (`mv conf.new conf`), it goes quiet
   * for good. Each reload checks, and watches the folder again (at once, or once it reappears).
   */
  private checkWatch(): void {
    if (this.opts.watch === false || this.stopped) return;
    let ino: number | undefined;
    try {
      ino = statSync(this.dir).ino;
    } catch {
      ino = undefined;
    }
    if (this.watcher && ino === this.watchedIno) return;
    if (!this.watcher && this.rewatchTimer) return; // already waiting for the folder
    this.watcher?.close();
    this.watcher = null;
    if (ino === undefined) this.retryWatch();
    else {
      this.startWatching();
      this.schedule(); // pick up what changed between the swap and the new watch
    }
  }

  private reloadFolder(force: boolean): ReloadOutcome {
    this.checkWatch();
    const loaded = loadFolder(this.dir);
    if (!force && loaded.fingerprint === this.lastFingerprint) return 'unchanged';
    this.lastFingerprint = loaded.fingerprint;
    return this.apply(loaded, 'reload');
  }

  /** Reconciles `loaded` and hands the result on, or refuses it. */
  private apply(loaded: LoadResult, why: 'reload' | 'rollout'): ReloadOutcome {
    const result = buildDesired(loaded, { dir: this.dir, history: this.history, now: this.now() });
    if (!result.ok) {
      this.reportErrors(result.desired.problems);
      return 'error';
    }
    try {
      this.store.save(result.history);
    } catch (err) {
      // Availability first: a read-only data dir must not stop wharf from serving. Names stay stable while this
      // process lives (the history is kept in memory and the write is retried on the next reload), and the
      // problem is reported so the operator can fix the folder before a restart.
      log.error({ err, file: this.store.file }, 'cannot save revision history; revision names may change after a restart');
      result.desired.problems.push({
        severity: 'warning',
        origin: { file: this.store.file },
        message: `cannot save revision history (${(err as Error).message}); revision names may change after a restart`,
      });
    }
    this.history = result.history;
    this.lastGood = loaded;
    this.current = result;
    this.armRollout(result.nextChangeAt);
    log.info(
      { why, objects: loaded.objects.length, files: loaded.files.length, ingresses: result.desired.ingresses.length, warnings: result.desired.problems.length },
      'manifests loaded',
    );
    for (const p of result.desired.problems) log.warn(formatProblem(p));
    try {
      this.onDesired?.(result.desired);
    } catch (err) {
      log.error({ err }, 'applying the new config failed');
    }
    return 'applied';
  }

  private reportErrors(problems: Problem[]): void {
    const errors = problems.filter((p) => p.severity === 'error');
    if (this.opts.onError) {
      try {
        this.opts.onError(problems);
      } catch (err) {
        log.error({ err }, 'onError callback failed');
      }
    } else {
      for (const p of errors) log.error(formatProblem(p));
      log.error({ errors: errors.length }, 'config rejected; the last good config keeps serving');
    }
  }

  private armRollout(at: number | undefined): void {
    if (this.rolloutTimer) clearTimeout(this.rolloutTimer);
    this.rolloutTimer = null;
    if (at === undefined || !Number.isFinite(at)) return;
    const delay = Math.max(0, Math.min(at - this.now(), 2 ** 31 - 1));
    this.rolloutTimer = setTimeout(() => {
      this.rolloutTimer = null;
      if (!this.stopped && this.lastGood) this.apply(this.lastGood, 'rollout');
    }, delay);
    this.rolloutTimer.unref();
  }
}
