// Gradual rollout of a Configuration's new latest revision, with the behaviour of Knative's traffic/rollout.go:
// the new revision starts at 1%, then traffic moves from the older revisions (newest first) to it in equal steps
// of at least 1% spread over rollout-duration. Differences, on purpose: there is no ingress-readiness signal here,
// so the step parameters are computed when the rollout starts, as if the new split were ready 1 s later (Knative
// waits for ObserveReady, at least 1 s, and plans the remaining duration from then); and steps follow a fixed
// schedule rather than "now + step", so the traffic shape is a pure function of (state, now) and a late re-run
// catches up.

export interface RevisionRollout {
  revisionName: string;
  /** Share of the whole route's traffic (not of the configuration's). */
  percent: number;
}

export interface RolloutParams {
  /** Epoch ms when this rollout started. */
  startTime?: number;
  /** Epoch ms of the next step. */
  nextStepTime?: number;
  /** ms between steps. */
  stepDuration?: number;
  /** Percent moved per step. */
  stepSize?: number;
}

export interface ConfigurationRollout {
  configurationName: string;
  /** "" for the default target. */
  tag: string;
  /** Total percent of this configuration target; revisions sum to it. */
  percent: number;
  /** Oldest first; the last one is the newest and ends with all of `percent`. */
  revisions: RevisionRollout[];
  stepParams: RolloutParams;
}

export interface Rollout {
  /** Sorted by tag, then configuration name. */
  configurations: ConfigurationRollout[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function sortRollout(r: Rollout): Rollout {
  r.configurations.sort((a, b) => cmp(a.tag, b.tag) || cmp(a.configurationName, b.configurationName));
  return r;
}

export function rolloutsByTag(r: Rollout | undefined, tag: string): ConfigurationRollout[] {
  return r ? r.configurations.filter((c) => c.tag === tag) : [];
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * Merges the desired shape `cur` (each latest-revision target at its full percent on its current revision) with the
 * previous state and steps every rollout that is due at `now`. Returns the new state and the epoch ms of the next
 * step (undefined when nothing is rolling out). `durationSecs` > 0.
 */
export function stepRollout(cur: Rollout, prev: Rollout | undefined, now: number, durationSecs: number): { rollout: Rollout; nextStepTime?: number } {
  if (!prev || prev.configurations.length === 0) return { rollout: cur };
  const prevByKey = new Map<string, ConfigurationRollout>();
  const prevTags = new Set<string>();
  for (const p of prev.configurations) {
    prevByKey.set(p.tag + '\0' + p.configurationName, p);
    prevTags.add(p.tag);
  }
  const out: ConfigurationRollout[] = [];
  let next = Infinity;
  for (const c of cur.configurations) {
    const p = prevByKey.get(c.tag + '\0' + c.configurationName);
    if (!prevTags.has(c.tag) || !p) {
      // A new tag, or a configuration new to this tag: nothing to roll from, it starts at its full share.
      if (c.percent !== 0 || !prevTags.has(c.tag)) out.push(c);
      continue;
    }
    if (c.percent === 0) continue; // no traffic, no rollout
    if (c.percent === 1) {
      out.push(c); // a 1% target cannot be split further
      continue;
    }
    const s = stepConfig(c, clone(p), now, durationSecs);
    out.push(s);
    if (s.stepParams.nextStepTime !== undefined && s.stepParams.nextStepTime < next) next = s.stepParams.nextStepTime;
  }
  return { rollout: sortRollout({ configurations: out }), nextStepTime: next === Infinity ? undefined : next };
}

/** The configuration's total changed: give an increase to the newest revision, take a decrease from the oldest. */
function adjustPercentage(goal: number, cr: ConfigurationRollout): void {
  const diff = goal - cr.percent;
  if (goal === 0) {
    cr.revisions = [];
  } else if (diff > 0) {
    cr.revisions[cr.revisions.length - 1]!.percent += diff;
  } else if (diff < 0) {
    let left = -diff;
    let i = 0;
    while (left > 0 && i < cr.revisions.length) {
      const r = cr.revisions[i]!;
      if (r.percent > left) {
        r.percent -= left;
        break;
      }
      left -= r.percent;
      i++;
    }
    cr.revisions = cr.revisions.slice(i);
  }
  cr.percent = goal;
}

function stepConfig(goal: ConfigurationRollout, prev: ConfigurationRollout, now: number, durationSecs: number): ConfigurationRollout {
  const ret: ConfigurationRollout = { configurationName: goal.configurationName, tag: goal.tag, percent: goal.percent, revisions: goal.revisions, stepParams: {} };
  const pc = prev.revisions.length;
  const prevLast = pc > 0 ? prev.revisions[pc - 1]!.revisionName : undefined;
  if (pc > 0) adjustPercentage(goal.percent, prev);
  const goalRev = goal.revisions[0]!;
  if (pc === 0 || goalRev.revisionName === prevLast) {
    // No new revision. If a rollout is under way, keep its state and step it as far as `now` says.
    if (prev.revisions.length > 1) {
      ret.revisions = prev.revisions;
      ret.stepParams = prev.stepParams;
      if ((ret.stepParams.stepSize ?? 0) > 0) stepRevisions(ret, now);
      else computeProperties(ret, ret.stepParams.startTime ?? now, durationSecs);
    }
    return ret;
  }
  // A new revision: take 1% from the newest revision that has traffic, and append the new one at 1%.
  for (let i = prev.revisions.length - 1; i >= 0; i--) {
    if (prev.revisions[i]!.percent > 0) {
      prev.revisions[i]!.percent--;
      break;
    }
  }
  ret.revisions = [...prev.revisions.filter((r) => r.percent > 0), { revisionName: goalRev.revisionName, percent: 1 }];
  if (ret.revisions.length > 1) {
    computeProperties(ret, now, durationSecs);
    stepRevisions(ret, now);
  }
  return ret;
}

/** Step size and spacing, as Knative's computeProperties with a 1 s minimum step (the time the first 1% took). */
function computeProperties(c: ConfigurationRollout, start: number, durationSecs: number): void {
  const minStepSec = 1;
  const dur = Math.max(1, durationSecs - minStepSec);
  let numSteps = Math.max(1, dur / minStepSec);
  const remPercent = c.percent - 1;
  if (remPercent < numSteps) numSteps = remPercent;
  if (numSteps <= 0) numSteps = 1;
  const stepSize = Math.max(1, Math.round(remPercent / numSteps));
  const stepDuration = Math.round((dur / numSteps) * 1000);
  c.stepParams = { startTime: start, stepDuration, stepSize, nextStepTime: start + minStepSec * 1000 + stepDuration };
}

/** Applies every step due at `now`: each moves stepSize from the older revisions (newest first) to the newest. */
function stepRevisions(c: ConfigurationRollout, now: number): void {
  const sp = c.stepParams;
  while (c.revisions.length >= 2 && sp.nextStepTime !== undefined && now >= sp.nextStepTime) {
    const revs = c.revisions;
    const last = revs[revs.length - 1]!;
    let remaining = sp.stepSize!;
    let readPos = revs.length - 2;
    let writePos = revs.length - 1;
    while (remaining > 0 && readPos >= 0) {
      const r = revs[readPos]!;
      if (r.percent > remaining) {
        r.percent -= remaining;
        break;
      }
      remaining -= r.percent;
      writePos--;
      readPos--;
    }
    const moved = { revisionName: last.revisionName, percent: Math.min(c.percent, last.percent + sp.stepSize!) };
    c.revisions = [...revs.slice(0, writePos), moved];
    sp.nextStepTime += sp.stepDuration!;
  }
  if (c.revisions.length < 2) c.stepParams = {};
}

/** The rollout state when no rollout is configured: every latest-revision target on its current revision. */
export function baselineRollout(targets: { tag: string; configurationName: string; revisionName: string; percent: number }[]): Rollout {
  return sortRollout({
    configurations: targets.map((t) => ({
      configurationName: t.configurationName,
      tag: t.tag,
      percent: t.percent,
      revisions: [{ revisionName: t.revisionName, percent: t.percent }],
      stepParams: {},
    })),
  });
}
