// Revisions: naming and generations (Knative: `spec.template.metadata.name`, else `<configuration>-<00001>` where the
// number is the Configuration generation that changed the template), and the RevisionInfo a revision's template
// describes for standalone wharf (static upstreams, or a local process from the first container).
import { createHash } from 'node:crypto';
import type { ClusterConfig } from '../config.js';
import type { ProcessSpec, ReadinessCheck, RevisionInfo, UpstreamProtocol } from '../desired.js';
import type { Problem } from '../objects.js';
import type { ConfigurationHistory, RevisionRecord } from './history.js';

export const UPSTREAM_ANNOTATION = 'wharf.dev/upstream';

/** JSON with object keys sorted, so equal templates hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  const keys = Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson((v as Record<string, unknown>)[k])).join(',') + '}';
}

export function templateHash(template: unknown): string {
  return createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, 16);
}

export const generatedRevisionName = (configuration: string, generation: number): string =>
  `${configuration}-${String(generation).padStart(5, '0')}`;

/**
 * The Configuration's latest revision for `template`, creating a new history record when the template changed.
 * Returns the updated history (a new object) and the latest record, or an error message for the name field.
 */
export function advanceConfiguration(
  configuration: string,
  template: unknown,
  prev: ConfigurationHistory | undefined,
  now: number,
  nameTaken: (name: string) => boolean,
): { history: ConfigurationHistory; latest: RevisionRecord | undefined; error?: string } {
  const revisions = prev ? [...prev.revisions] : [];
  const hash = templateHash(template);
  const last = revisions[revisions.length - 1];
  if (last && last.templateHash === hash) return { history: { revisions }, latest: last };
  const byo = byoName(template);
  if (byo !== undefined) {
    const same = revisions.find((r) => r.name === byo);
    if (same) {
      if (same.templateHash !== hash) {
        return {
          history: { revisions },
          latest: last,
          error: `revision "${byo}" already exists with a different template; give the changed template a new name`,
        };
      }
      // The template went back to a named earlier revision: Knative would refuse to recreate it; reuse it.
      return { history: { revisions }, latest: same };
    }
    if (nameTaken(byo)) return { history: { revisions }, latest: last, error: `revision name "${byo}" is already used by another revision` };
  }
  const generation = revisions.reduce((m, r) => Math.max(m, r.generation), 0) + 1;
  const name = byo ?? generatedRevisionName(configuration, generation);
  if (byo === undefined && nameTaken(name)) return { history: { revisions }, latest: last, error: `revision name "${name}" is already used by another revision` };
  const rec: RevisionRecord = { name, generation, templateHash: hash, template, createdAt: now };
  revisions.push(rec);
  return { history: { revisions }, latest: rec };
}

function byoName(template: unknown): string | undefined {
  const n = (template as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  return typeof n === 'string' && n !== '' ? n : undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface RevisionSource {
  namespace: string;
  name: string;
  service?: string;
  configuration?: string;
  /** `{metadata, spec}` of the revision (a Configuration's template, or a Revision object). */
  template: unknown;
}

/**
 * Builds the RevisionInfo for a revision. Problems are reported against `object` with field names under
 * `prefix` (e.g. "spec.template" for a Service, "" for a Revision object); pass report=false for revisions
 * rebuilt from history, whose template is no longer in any file.
 */
export function revisionInfo(
  src: RevisionSource,
  config: ClusterConfig,
  baseDir: string,
  problems: Problem[],
  object: string,
  prefix: string,
  report: boolean,
): RevisionInfo | undefined {
  const f = (field: string): string => (prefix ? `${prefix}.${field}` : field);
  const err = (field: string, message: string): void => {
    if (report) problems.push({ severity: 'error', object, field: f(field), message });
  };
  const warn = (field: string, message: string): void => {
    if (report) problems.push({ severity: 'warning', object, field: f(field), message });
  };
  const t = isObj(src.template) ? src.template : {};
  const meta = isObj(t.metadata) ? t.metadata : {};
  const spec = isObj(t.spec) ? t.spec : undefined;
  let ok = true;
  if (!spec) {
    err('spec', 'a revision template needs a spec with containers');
    return undefined;
  }
  const annotations: Record<string, string> = {};
  if (isObj(meta.annotations)) for (const [k, v] of Object.entries(meta.annotations)) annotations[k] = String(v);

  let containerConcurrency = config.defaults.containerConcurrency;
  if (spec.containerConcurrency !== undefined && spec.containerConcurrency !== null) {
    const cc = spec.containerConcurrency;
    const max = config.defaults.containerConcurrencyMaxLimit ?? 1000;
    if (typeof cc !== 'number' || !Number.isInteger(cc) || cc < 0 || cc > max) {
      err('spec.containerConcurrency', `must be an integer between 0 and ${max}`);
      ok = false;
    } else containerConcurrency = cc;
  }
  let timeoutSeconds = config.defaults.revisionTimeoutSeconds;
  if (spec.timeoutSeconds !== undefined && spec.timeoutSeconds !== null) {
    const ts = spec.timeoutSeconds;
    const max = config.defaults.maxRevisionTimeoutSeconds ?? 600;
    if (typeof ts !== 'number' || !Number.isInteger(ts) || ts < 0 || ts > max) {
      err('spec.timeoutSeconds', `must be an integer between 0 and ${max}`);
      ok = false;
    } else timeoutSeconds = ts;
  }

  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0 || !containers.every(isObj)) {
    err('spec.containers', 'needs at least one container');
    return undefined;
  }
  // Knative's serving container is the one with a port (multi-container); else the only one.
  let idx = containers.findIndex((c) => Array.isArray((c as Record<string, unknown>).ports) && ((c as Record<string, unknown>).ports as unknown[]).length > 0);
  if (idx < 0) idx = 0;
  const c = containers[idx] as Record<string, unknown>;
  const cf = `spec.containers[${idx}]`;
  if (containers.length > 1) warn('spec.containers', `only the serving container (${cf}) is run by standalone wharf`);

  let protocol: UpstreamProtocol = 'http1';
  if (Array.isArray(c.ports) && isObj(c.ports[0]) && (c.ports[0] as Record<string, unknown>).name === 'h2c') protocol = 'h2c';

  const readiness = readinessOf(c.readinessProbe, `${cf}.readinessProbe`, err);

  const info: RevisionInfo = {
    namespace: src.namespace,
    name: src.name,
    ...(src.service ? { service: src.service } : {}),
    ...(src.configuration ? { configuration: src.configuration } : {}),
    containerConcurrency,
    timeoutSeconds,
    annotations,
    protocol,
    readiness,
  };

  const upstream = annotations[UPSTREAM_ANNOTATION];
  if (upstream !== undefined) {
    const urls = upstream.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (urls.length === 0) {
      err('metadata.annotations', `${UPSTREAM_ANNOTATION} is empty; give comma-separated http:// URLs`);
      ok = false;
    }
    for (const u of urls) {
      const bad = checkUpstream(u);
      if (bad) {
        err('metadata.annotations', `${UPSTREAM_ANNOTATION}: "${u}" ${bad}`);
        ok = false;
      }
    }
    info.upstreams = urls;
  } else {
    const proc = processOf(c, cf, baseDir, err, warn);
    if (!proc) ok = false;
    else info.process = proc;
  }
  return ok ? info : undefined;
}

function checkUpstream(u: string): string | null {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be http:// or https://';
  if (!url.hostname) return 'has no host';
  if (url.username || url.password) return 'must not carry credentials';
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) return 'must not have a path, query or fragment';
  return null;
}

function readinessOf(probe: unknown, field: string, err: (f: string, m: string) => void): ReadinessCheck {
  if (!isObj(probe)) return { kind: 'tcp' };
  if (isObj(probe.httpGet)) {
    const path = probe.httpGet.path;
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) {
      err(`${field}.httpGet.path`, 'must be a path starting with "/"');
      return { kind: 'tcp' };
    }
    // The probe port is the container's port in Knative; wharf gives the process its PORT, so it is not copied.
    return { kind: 'http', path: (path as string | undefined) ?? '/' };
  }
  if (isObj(probe.tcpSocket)) return { kind: 'tcp' };
  if (probe.exec !== undefined || probe.grpc !== undefined) {
    err(field, 'only httpGet and tcpSocket probes are supported by standalone wharf');
  }
  return { kind: 'tcp' };
}

function stringList(v: unknown): string[] | null {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return null;
  const out: string[] = [];
  for (const x of v) {
    if (typeof x === 'string') out.push(x);
    else if (typeof x === 'number' || typeof x === 'boolean') out.push(String(x));
    else return null;
  }
  return out;
}

function processOf(
  c: Record<string, unknown>,
  cf: string,
  baseDir: string,
  err: (f: string, m: string) => void,
  warn: (f: string, m: string) => void,
): ProcessSpec | undefined {
  const command = stringList(c.command);
  const args = stringList(c.args);
  if (command === null) err(`${cf}.command`, 'must be a list of strings');
  if (args === null) err(`${cf}.args`, 'must be a list of strings');
  if (command === null || args === null) return undefined;
  if (command.length === 0 && args.length === 0) {
    err(`${cf}.command`, `standalone wharf runs the container as a local process: set command (and args), or the ${UPSTREAM_ANNOTATION} annotation`);
    return undefined;
  }
  const env: Record<string, string> = {};
  if (c.env !== undefined && c.env !== null) {
    if (!Array.isArray(c.env)) {
      err(`${cf}.env`, 'must be a list of {name, value}');
      return undefined;
    }
    let ok = true;
    c.env.forEach((e, i) => {
      if (!isObj(e) || typeof e.name !== 'string' || e.name === '') {
        err(`${cf}.env[${i}].name`, 'is required');
        ok = false;
        return;
      }
      if (e.valueFrom !== undefined) {
        warn(`${cf}.env[${i}].valueFrom`, 'valueFrom is not supported by standalone wharf; the variable is not set');
        return;
      }
      env[e.name] = e.value === undefined || e.value === null ? '' : String(e.value);
    });
    if (!ok) return undefined;
  }
  // Knative runs `command` as the entrypoint with `args`; with only args, the image entrypoint would run them,
  // which here means the args are the command line.
  const cmd = command.length > 0 ? command : args;
  const rest = command.length > 0 ? args : [];
  return { command: cmd, args: rest, env, cwd: baseDir };
}
