// Two views of a compiled snapshot's route table: plain JSON for /debug/routes, and the text table `wharf routes`
// prints. Both are read-only renderings; nothing here decides anything.
import type { Plane, Route, Snapshot, VirtualHost } from '../model/snapshot.js';
import { formatProblem } from '../model/objects.js';

interface SplitView {
  percent: number;
  backend: string;
  namespace?: string;
  revision?: string;
  appendHeaders: Record<string, string>;
}

interface RouteView {
  prefix: string;
  headers: Record<string, string>;
  appendHeaders: Record<string, string>;
  rewriteHost: string | null;
  handler: string | null;
  ingress: string;
  splits: SplitView[];
}

function routeView(s: Snapshot, r: Route): RouteView {
  return {
    prefix: r.prefix || '/',
    headers: Object.fromEntries(r.headers),
    appendHeaders: Object.fromEntries(r.appendHeaders),
    rewriteHost: r.rewriteHost,
    handler: r.handler,
    ingress: r.ingress,
    splits: r.splits.map((sp) => {
      const b = s.backends.get(sp.backend);
      return {
        percent: sp.percent,
        backend: sp.backend,
        namespace: b?.namespace,
        revision: b?.revision,
        appendHeaders: Object.fromEntries(sp.appendHeaders),
      };
    }),
  };
}

function hostView(s: Snapshot, v: VirtualHost) {
  return { host: v.host, visibility: v.visibility, httpOption: v.httpOption, tlsSecret: v.tlsSecret, routes: v.routes.map((r) => routeView(s, r)) };
}

/** The whole table as JSON-friendly data. */
export function routesJSON(s: Snapshot | null): unknown {
  if (s === null) return { ready: false };
  const planes: Record<string, unknown> = {};
  for (const plane of ['external', 'internal'] as Plane[]) {
    const t = s.planes[plane];
    planes[plane] = {
      hosts: [...t.hosts.values()].sort((a, b) => a.host.localeCompare(b.host)).map((v) => hostView(s, v)),
      wildcard: t.wildcard ? hostView(s, t.wildcard) : null,
    };
  }
  return {
    version: s.version,
    planes,
    backends: [...s.backends.values()].map((b) => ({
      key: b.key,
      namespace: b.namespace,
      service: b.service,
      revision: b.revision,
      protocol: b.protocol,
      source: b.source,
      activator: b.activator,
      containerConcurrency: b.containerConcurrency,
      timeoutMs: b.timeoutMs,
    })),
    problems: s.problems.map((p) => ({ ...p, text: formatProblem(p) })),
    statuses: s.statuses,
  };
}

function pad(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

function conditions(r: Route): string {
  if (r.headers.length === 0) return '-';
  return r.headers.map(([n, v]) => (v === '' ? `${n} present` : `${n}=${v}`)).join(' ');
}

function splitsText(s: Snapshot, r: Route): string {
  if (r.handler !== null) return `handler ${r.handler}`;
  if (r.splits.length === 0) return '(no backend)';
  return r.splits
    .map((sp) => {
      const b = s.backends.get(sp.backend);
      return `${sp.percent}% → ${b?.revision || b?.service || sp.backend}`;
    })
    .join(', ');
}

/** The `wharf routes` text table: one line per host × route, then backends, then objects that are not served. */
export function routesTable(s: Snapshot): string {
  const rows: string[][] = [['HOST', 'PLANE', 'PATH', 'HEADERS', 'SPLITS']];
  // A host served on both planes (external visibility) is shown once, as "external+internal".
  const seen = new Map<string, Plane[]>();
  for (const plane of ['external', 'internal'] as Plane[]) {
    for (const host of s.planes[plane].hosts.keys()) {
      const l = seen.get(host) ?? [];
      l.push(plane);
      seen.set(host, l);
    }
  }
  const hosts = [...seen.keys()].sort();
  for (const host of hosts) {
    const planes = seen.get(host)!;
    const v = s.planes[planes.includes('internal') ? 'internal' : 'external'].hosts.get(host)!;
    const planeText = planes.length === 2 ? 'external+internal' : planes[0];
    for (const r of v.routes) {
      rows.push([host, planeText, r.prefix || '/', conditions(r), splitsText(s, r)]);
    }
  }
  for (const plane of ['external', 'internal'] as Plane[]) {
    const w = s.planes[plane].wildcard;
    if (w) for (const r of w.routes) rows.push(['*', plane, r.prefix || '/', conditions(r), splitsText(s, r)]);
  }
  const out = [pad(rows)];
  if (s.backends.size > 0) {
    const b: string[][] = [['BACKEND', 'REVISION', 'SOURCE', 'TIMEOUT']];
    for (const spec of [...s.backends.values()].sort((x, y) => x.key.localeCompare(y.key))) {
      const src =
        spec.source.kind === 'static'
          ? spec.source.urls.join(',')
          : spec.source.kind === 'process'
            ? `process: ${[...spec.source.process.command, ...spec.source.process.args].join(' ')}`
            : spec.source.kind === 'dns'
              ? `dns ${spec.source.host}:${spec.source.port}`
              : `${spec.source.addresses.length} addresses`;
      b.push([spec.key, spec.revision || '-', src, spec.timeoutMs > 0 ? `${spec.timeoutMs / 1000}s` : '-']);
    }
    out.push('', pad(b));
  }
  const notServed = s.statuses.filter((st) => !st.ready);
  if (notServed.length > 0) {
    out.push('', 'NOT SERVED');
    for (const st of notServed) out.push(`  ${st.object}: ${st.reason ?? 'NotReady'}${st.message ? ` — ${st.message}` : ''}`);
  }
  const warnings = s.problems.filter((p) => p.severity === 'warning');
  if (warnings.length > 0) {
    out.push('', 'WARNINGS');
    for (const p of warnings) out.push(`  ${formatProblem(p)}`);
  }
  return out.join('\n') + '\n';
}
