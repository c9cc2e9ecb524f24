// One pass from loaded objects to a `Desired`: classify, parse the ConfigMaps, run the pure serving reconciler, and
// give every problem the file, document and line it belongs to. No I/O here, so `wharf validate`/`routes` and the
// watching source share it.
import { resolve } from 'node:path';
import { emptyDesired, type Desired } from '../../model/desired.js';
import type { Problem } from '../../model/objects.js';
import { parseConfig } from '../../model/config.js';
import { reconcileServing } from '../../model/serving.js';
import { classify } from './classify.js';
import { fieldLine, objectLabel, type Loaded, type LoadResult } from './load.js';

export interface BuildResult {
  desired: Desired;
  /** False when any problem is an error: such a Desired must not replace a working one. */
  ok: boolean;
  /** The reconciler's revision history after this pass (persist it only when ok). */
  history: unknown;
  /** Epoch ms when a rollout step is due and the reconciler must run again. */
  nextChangeAt?: number;
}

export interface BuildOptions {
  /** The manifest folder; local processes run there and relative commands resolve against it. */
  dir: string;
  history: unknown;
  now: number;
}

export const hasErrors = (problems: readonly Problem[]): boolean => problems.some((p) => p.severity === 'error');

export function buildDesired(loaded: LoadResult, opts: BuildOptions): BuildResult {
  const c = classify(loaded.objects);
  const problems: Problem[] = [...loaded.problems, ...c.problems];
  const desired = emptyDesired();
  desired.configMaps = c.configMaps;
  desired.secrets = c.secrets;
  desired.eventing = c.eventing;
  let history = opts.history;
  let nextChangeAt: number | undefined;
  try {
    const { config, problems: configProblems } = parseConfig(c.configMaps);
    problems.push(...configProblems);
    const r = reconcileServing({ objects: c.serving, config, history: opts.history, now: opts.now, baseDir: resolve(opts.dir) });
    desired.ingresses = r.ingresses;
    desired.services = r.services;
    desired.revisions = r.revisions;
    desired.statuses = r.statuses;
    problems.push(...r.problems);
    history = r.history;
    nextChangeAt = r.nextChangeAt;
  } catch (e) {
    // A reconciler bug must not take the process down; it rejects this reload like any other error.
    problems.push({ severity: 'error', message: `internal error while reconciling serving objects: ${(e as Error).stack ?? e}` });
  }
  desired.problems = locate(problems, loaded.objects);
  return { desired, ok: !hasErrors(problems), history, nextChangeAt };
}

/**
 * Problems from the reconciler name an object ("Service default/hello") and a field; find the document that object
 * came from and the line of the field, so every message points into a file.
 */
export function locate(problems: readonly Problem[], objects: readonly Loaded[]): Problem[] {
  const byLabel = new Map<string, Loaded>();
  for (const l of objects) {
    byLabel.set(objectLabel(l.object), l);
    // Knative ConfigMaps are named without their namespace ("ConfigMap config-network").
    if (l.object.kind === 'ConfigMap') byLabel.set(`ConfigMap ${l.object.metadata.name}`, l);
  }
  const located = problems.map((p) => {
    if (!p.object) return p;
    const l = byLabel.get(p.object);
    if (!l) return p;
    if (p.origin?.file && p.origin.file !== l.origin.file) return p;
    const line = (p.field ? fieldLine(l, p.field) : undefined) ?? p.origin?.line ?? l.origin.line;
    return { ...p, origin: { ...l.origin, ...p.origin, line } };
  });
  // In file order, so `wharf validate` reads top to bottom; problems without a place come last.
  const rank = (p: Problem): [string, number, number] => [p.origin?.file ?? '\uffff', p.origin?.doc ?? -1, p.origin?.line ?? 0];
  return located
    .map((p, i) => ({ p, i, r: rank(p) }))
    .sort((a, b) => (a.r[0] < b.r[0] ? -1 : a.r[0] > b.r[0] ? 1 : a.r[1] - b.r[1] || a.r[2] - b.r[2] || a.i - b.i))
    .map((x) => x.p);
}
