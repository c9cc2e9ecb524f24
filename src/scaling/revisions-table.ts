// `wharf routes`' revision section: live scale, panic mode and queue from a running wharf's /debug/revisions, or,
// when none answers, what the folder says (containerConcurrency, scale bounds) with a note that live state is unknown.
import type { Snapshot } from '../model/snapshot.js';
import type { RevisionDebug } from './revisions-debug.js';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Live revisions as `wharf routes` prints them. */
export function liveRevisionsTable(revs: readonly RevisionDebug[], from: string): string {
  const rows = revs
    .filter((r) => r.key.startsWith('rev:'))
    .map((r) => [
      `${r.namespace}/${r.revision}`,
      r.source,
      String(r.containerConcurrency),
      String(r.desiredScale),
      String(r.actualScale) + (r.starting > 0 ? ` (+${r.starting} starting)` : ''),
      r.panic ? 'yes' : 'no',
      String(r.queueDepth),
      String(r.inFlight),
    ]);
  return `\nREVISIONS (live, from ${from})\n` + table(['REVISION', 'SOURCE', 'CC', 'DESIRED', 'ACTUAL', 'PANIC', 'QUEUED', 'IN-FLIGHT'], rows);
}

/** The folder's revisions without a running wharf: what is configured, not what runs. */
export function staticRevisionsTable(snapshot: Snapshot, note: string): string {
  const rows: string[][] = [];
  for (const spec of snapshot.backends.values()) {
    if (!spec.key.startsWith('rev:')) continue;
    const a = spec.revisionInfo?.annotations ?? {};
    const min = a['autoscaling.knative.dev/min-scale'] ?? '0';
    const max = a['autoscaling.knative.dev/max-scale'] ?? '0';
    rows.push([`${spec.namespace}/${spec.revision}`, spec.source.kind, String(spec.containerConcurrency), `${min}..${max === '0' ? '∞' : max}`]);
  }
  rows.sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  return `\nREVISIONS (${note})\n` + table(['REVISION', 'SOURCE', 'CC', 'SCALE'], rows);
}

/** GET <admin>/debug/revisions with a short timeout; null when nothing (or not a wharf) answers. */
export async function fetchRevisions(adminUrl: string, timeoutMs = 500): Promise<RevisionDebug[] | null> {
  try {
    const res = await fetch(new URL('/debug/revisions', adminUrl), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    const body = (await res.json()) as unknown;
    return Array.isArray(body) ? (body as RevisionDebug[]) : null;
  } catch {
    return null;
  }
}
