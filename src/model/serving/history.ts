// The reconciler's memory between runs, as plain JSON: which revisions each Configuration has had (so names and
// generations are stable across restarts and an old revision can still take pinned traffic), each route's rollout
// state, and when each object was first seen (its age, for conflict resolution when manifests carry no
// creationTimestamp). The manifest source persists it in the data dir; the reconciler never trusts its shape.
import type { Rollout } from './rollout.js';

export interface RevisionRecord {
  name: string;
  /** The Configuration generation that created it (the 5-digit suffix of a generated name). */
  generation: number;
  /** Hash of the canonical JSON of `template`. */
  templateHash: string;
  /** The Configuration's `spec.template` as it was, so the revision can run after the template changed. */
  template: unknown;
  /** Epoch ms when the revision was created. */
  createdAt: number;
}

export interface ConfigurationHistory {
  /** Oldest first; the last one is the latest (standalone: latest created = latest ready). */
  revisions: RevisionRecord[];
}

export interface RevisionHistory {
  version: 1;
  /** By `ns/name` of the Configuration (a Service's Configuration has the Service's name). */
  configurations: Record<string, ConfigurationHistory>;
  /** By `ns/name` of the Route: the rollout state last written (Knative keeps it in an Ingress annotation). */
  rollouts: Record<string, Rollout>;
  /** By "Kind ns/name": epoch ms when the object first appeared. */
  firstSeen: Record<string, number>;
}

export function emptyHistory(): RevisionHistory {
  return { version: 1, configurations: {}, rollouts: {}, firstSeen: {} };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a stored history defensively: anything malformed is dropped, never thrown. */
export function readHistory(raw: unknown): RevisionHistory {
  const h = emptyHistory();
  if (!isObj(raw) || raw.version !== 1) return h;
  if (isObj(raw.configurations)) {
    for (const [k, v] of Object.entries(raw.configurations)) {
      if (!isObj(v) || !Array.isArray(v.revisions)) continue;
      const revisions: RevisionRecord[] = [];
      for (const r of v.revisions) {
        if (!isObj(r) || typeof r.name !== 'string' || typeof r.generation !== 'number' || typeof r.templateHash !== 'string') continue;
        revisions.push({ name: r.name, generation: r.generation, templateHash: r.templateHash, template: r.template, createdAt: typeof r.createdAt === 'number' ? r.createdAt : 0 });
      }
      revisions.sort((a, b) => a.generation - b.generation);
      h.configurations[k] = { revisions };
    }
  }
  if (isObj(raw.rollouts)) {
    for (const [k, v] of Object.entries(raw.rollouts)) {
      const ro = readRollout(v);
      if (ro) h.rollouts[k] = ro;
    }
  }
  if (isObj(raw.firstSeen)) {
    for (const [k, v] of Object.entries(raw.firstSeen)) if (typeof v === 'number' && Number.isFinite(v)) h.firstSeen[k] = v;
  }
  return h;
}

function readRollout(v: unknown): Rollout | null {
  if (!isObj(v) || !Array.isArray(v.configurations)) return null;
  const out: Rollout = { configurations: [] };
  for (const c of v.configurations) {
    if (!isObj(c) || typeof c.configurationName !== 'string' || typeof c.percent !== 'number' || !Array.isArray(c.revisions)) return null;
    const revisions = [];
    let total = 0;
    for (const r of c.revisions) {
      if (!isObj(r) || typeof r.revisionName !== 'string' || typeof r.percent !== 'number') return null;
      revisions.push({ revisionName: r.revisionName, percent: r.percent });
      total += r.percent;
    }
    // Like Knative's Rollout.Validate: inconsistent state is discarded, not repaired.
    if (c.percent > 100 || total !== c.percent) return null;
    const sp = isObj(c.stepParams) ? c.stepParams : {};
    const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
    out.configurations.push({
      configurationName: c.configurationName,
      tag: typeof c.tag === 'string' ? c.tag : '',
      percent: c.percent,
      revisions,
      stepParams: { startTime: num(sp.startTime), nextStepTime: num(sp.nextStepTime), stepDuration: num(sp.stepDuration), stepSize: num(sp.stepSize) },
    });
  }
  return out;
}
