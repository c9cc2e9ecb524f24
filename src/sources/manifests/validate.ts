// One-shot read of a folder for `wharf validate` and `wharf routes`: the same load and reconcile as `serve`, using the
// stored revision history read-only (nothing is written), so it shows exactly what `serve` would apply.
import type { Desired } from '../../model/desired.js';
import { buildDesired } from './build.js';
import { HistoryStore } from './history-store.js';
import { loadFolder } from './load.js';

export interface ValidateResult {
  desired: Desired;
  /** False when any problem is an error (then `serve` would refuse this folder). */
  ok: boolean;
}

export function validateFolder(opts: { dir: string; dataDir?: string; now?: number }): ValidateResult {
  const history = opts.dataDir ? new HistoryStore(opts.dataDir).peek() : undefined;
  const r = buildDesired(loadFolder(opts.dir), { dir: opts.dir, history, now: opts.now ?? Date.now() });
  return { desired: r.desired, ok: r.ok };
}
