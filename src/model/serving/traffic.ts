// spec.traffic: validation with Knative's rules and field paths (S pkg/apis/serving/v1/route_validation.go,
// traffic_target validation), then flattening to revisions grouped by target name ("" = default, then each tag)
// and consolidated per revision, as S pkg/reconciler/route/traffic/traffic.go does.
import type { Problem } from '../objects.js';
import { isDnsLabel } from '../hosts.js';

export interface TrafficTarget {
  tag: string;
  revisionName: string;
  configurationName: string;
  latestRevision: boolean;
  percent: number;
}

/** A target resolved to a revision. */
export interface RevisionTarget extends TrafficTarget {
  /** Always set after resolution. */
  revisionName: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates and defaults a traffic list. `serviceContext`: the list belongs to a Service, whose targets implicitly
 * name its own Configuration (configurationName is then disallowed). Returns null when there are errors.
 */
export function parseTraffic(raw: unknown, field: string, serviceContext: boolean, object: string, problems: Problem[]): TrafficTarget[] | null {
  const err = (f: string, message: string): void => {
    problems.push({ severity: 'error', object, field: f, message });
  };
  if (!Array.isArray(raw)) {
    err(field, 'must be a list of traffic targets');
    return null;
  }
  const before = problems.length;
  const out: TrafficTarget[] = [];
  const tags = new Map<string, number>();
  let sum = 0;
  raw.forEach((e, i) => {
    const f = `${field}[${i}]`;
    if (!isObj(e)) {
      err(f, 'must be a traffic target object');
      return;
    }
    const str = (k: string): string => {
      const v = e[k];
      if (v === undefined || v === null) return '';
      if (typeof v !== 'string') {
        err(`${f}.${k}`, 'must be a string');
        return '';
      }
      return v;
    };
    const revisionName = str('revisionName');
    const configurationName = str('configurationName');
    const tag = str('tag');
    let latest: boolean | undefined;
    if (e.latestRevision !== undefined && e.latestRevision !== null) {
      if (typeof e.latestRevision !== 'boolean') err(`${f}.latestRevision`, 'must be true or false');
      else latest = e.latestRevision;
    }
    let percent = 0;
    if (e.percent !== undefined && e.percent !== null) {
      const p = e.percent;
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 100) err(`${f}.percent`, `expected 0 <= ${JSON.stringify(p)} <= 100`);
      else percent = p;
      if (typeof p === 'number') sum += p; // Knative sums what was given, so an out-of-range value also breaks the sum
    }
    for (const k of Object.keys(e)) {
      if (!['revisionName', 'configurationName', 'tag', 'latestRevision', 'percent', 'url'].includes(k)) err(`${f}.${k}`, 'unknown field');
    }
    // Knative defaulting: latestRevision follows "no revisionName".
    const latestRevision = latest ?? revisionName === '';
    if (latest !== undefined && latest === (revisionName !== '')) {
      err(`${f}.latestRevision`, `may not set revisionName "${revisionName}" when latestRevision is ${latest}`);
    }
    if (serviceContext && configurationName !== '') {
      err(`${f}.configurationName`, 'must not set the field(s): a Service routes to its own Configuration');
    } else if (revisionName !== '' && configurationName !== '') {
      err(`${f}.revisionName`, 'expected exactly one, got both: revisionName, configurationName');
    } else if (revisionName === '' && configurationName === '' && !serviceContext) {
      err(`${f}.revisionName`, 'expected exactly one, got neither: revisionName, configurationName');
    }
    if (tag !== '') {
      if (!isDnsLabel(tag)) err(`${f}.tag`, `"${tag}" must be a lower-case DNS label`);
      const seen = tags.get(tag);
      if (seen !== undefined) err(`${f}.tag`, `Multiple definitions for "${tag}" (also spec.traffic[${seen}].tag)`);
      else tags.set(tag, i);
    }
    out.push({ tag, revisionName, configurationName, latestRevision, percent });
  });
  if (raw.length > 0 && sum !== 100) err(field, `Traffic targets sum to ${sum}, want 100`);
  if (raw.length === 0) err(field, 'needs at least one traffic target');
  return problems.length === before ? out : null;
}

/** Groups targets by name: every target is in the default group, a tagged one also in its tag's group. */
export function groupTargets(targets: readonly RevisionTarget[]): Map<string, RevisionTarget[]> {
  const groups = new Map<string, RevisionTarget[]>([['', []]]);
  for (const t of targets) {
    groups.get('')!.push(t);
    if (t.tag !== '') groups.set(t.tag, [...(groups.get(t.tag) ?? []), t]);
  }
  for (const [k, v] of groups) groups.set(k, consolidate(v));
  return groups;
}

/** Sums percents per revision (first occurrence keeps its place and flags); a single target gets 100. */
export function consolidate(targets: readonly RevisionTarget[]): RevisionTarget[] {
  const byName = new Map<string, RevisionTarget>();
  for (const t of targets) {
    const cur = byName.get(t.revisionName);
    if (cur) cur.percent += t.percent;
    else byName.set(t.revisionName, { ...t });
  }
  const out = [...byName.values()];
  if (out.length === 1) out[0]!.percent = 100;
  return out;
}
