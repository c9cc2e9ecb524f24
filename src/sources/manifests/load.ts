// Reads a folder of multi-document YAML into Kubernetes-shaped objects, each with the file, document index and line
// it came from, and checks the envelope (apiVersion, kind, metadata) the way an API server would before anything
// looks at a spec. Everything else (spec validation, defaults) belongs to the reconciler and the compiler.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { KObject, Origin, Problem } from '../../model/objects.js';
import { isDnsLabel } from '../../model/hosts.js';
import { apiVersionsOf, lookupKind, splitApiVersion, CONFIG_MAP_NAMES } from './kinds.js';

export interface Loaded {
  object: KObject;
  origin: Origin;
}

export interface LoadResult {
  objects: Loaded[];
  problems: Problem[];
  /** Every manifest file read, in load order. */
  files: string[];
  /** Hash of the file names and contents read: equal fingerprints mean nothing a reload reads has changed. */
  fingerprint: string;
}

/** The parsed document behind each Loaded, to find the line of a field named in a later problem. */
const documents = new WeakMap<Loaded, { doc: Document; lines: LineCounter }>();

const MANIFEST = /\.ya?ml$/i;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Every `*.yaml`/`*.yml` under `dir`, recursively and sorted, skipping dot-entries and node_modules. */
export function listManifestFiles(dir: string): { files: string[]; problems: Problem[] } {
  const files: string[] = [];
  const problems: Problem[] = [];
  // Kubernetes ConfigMap mounts are symlink farms (`..data/`), so symlinks are followed, but each real directory
  // is visited once to survive loops.
  const seen = new Set<string>();
  const walk = (d: string): void => {
    let real: string;
    let entries: string[];
    try {
      real = realpathSync(d);
      if (seen.has(real)) return;
      seen.add(real);
      entries = readdirSync(d).sort();
    } catch (e) {
      problems.push({ severity: 'error', origin: { file: d }, message: `cannot read folder: ${(e as Error).message}` });
      return;
    }
    for (const name of entries) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue; // dangling symlink or a file removed mid-scan; the watcher will bring us back
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && MANIFEST.test(name)) files.push(p);
    }
  };
  walk(dir);
  return { files, problems };
}

/** Reads and validates every manifest under `dir`. Never throws: everything wrong becomes a Problem. */
export function loadFolder(dir: string): LoadResult {
  const { files, problems } = listManifestFiles(dir);
  const objects: Loaded[] = [];
  const hash = createHash('sha256');
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      problems.push({ severity: 'error', origin: { file }, message: `cannot read file: ${(e as Error).message}` });
      hash.update(`${file}\0!unreadable\0`);
      continue;
    }
    hash.update(`${file}\0${text.length}\0`).update(text);
    const r = parseManifests(text, file);
    objects.push(...r.objects);
    problems.push(...r.problems);
  }
  problems.push(...findDuplicates(objects));
  for (const p of problems) if (p.origin?.doc === undefined) hash.update(`!${p.origin?.file}`);
  return { objects: objects.filter((l) => !duplicates.has(l)), problems, files, fingerprint: hash.digest('hex') };
}

/** Parses one file's text (multi-document YAML) and validates each document's envelope. */
export function parseManifests(text: string, file: string): { objects: Loaded[]; problems: Problem[] } {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, merge: true });
  const objects: Loaded[] = [];
  const problems: Problem[] = [];
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lines.linePos(offset).line;

  docs.forEach((doc, index) => {
    const docLine = lineAt(doc.contents?.range[0] ?? doc.range[0]);
    const origin: Origin = { file, doc: index, line: docLine };
    for (const err of doc.errors) {
      problems.push({ severity: 'error', origin: { file, doc: index, line: lineAt(err.pos[0]) }, message: `YAML: ${err.message}` });
    }
    for (const w of doc.warnings) {
      problems.push({ severity: 'warning', origin: { file, doc: index, line: lineAt(w.pos[0]) }, message: `YAML: ${w.message}` });
    }
    if (doc.errors.length) return;
    if (doc.contents === null) return; // an empty document (e.g. a trailing `---`)
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      problems.push({ severity: 'error', origin, message: `YAML: ${(e as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ severity: 'error', origin, message: 'a document must be a mapping (one Kubernetes object)' });
      return;
    }
    // `kind: List` (what `kubectl get -o yaml` prints) carries its objects in `items`.
    const v = value as Record<string, unknown>;
    if (v.kind === 'List' && v.apiVersion === 'v1' && Array.isArray(v.items)) {
      v.items.forEach((item, i) => {
        const itemLine = lineAt((doc.getIn(['items', i], true) as Node | undefined)?.range?.[0]) ?? docLine;
        const l = checkEnvelope(item, { file, doc: index, line: itemLine }, problems, `items[${i}].`);
        if (l) {
          objects.push(l);
          documents.set(l, { doc, lines });
          itemPrefix.set(l, ['items', i]);
        }
      });
      return;
    }
    const l = checkEnvelope(value, origin, problems, '');
    if (l) {
      objects.push(l);
      documents.set(l, { doc, lines });
    }
  });
  return { objects, problems };
}

const itemPrefix = new WeakMap<Loaded, (string | number)[]>();

/** Validates apiVersion/kind/metadata and applies the namespace default. Returns null when the object is unusable. */
function checkEnvelope(value: unknown, origin: Origin, problems: Problem[], prefix: string): Loaded | null {
  const err = (field: string | undefined, message: string, object?: string): null => {
    problems.push({ severity: 'error', origin, object, field: field && prefix + field, message });
    return null;
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return err(undefined, 'must be a mapping (a Kubernetes object)');
  const o = value as Record<string, any>;
  if (o.apiVersion === undefined || o.apiVersion === null || o.apiVersion === '') return err('apiVersion', 'required');
  if (typeof o.apiVersion !== 'string') return err('apiVersion', 'must be a string');
  if (o.kind === undefined || o.kind === null || o.kind === '') return err('kind', 'required');
  if (typeof o.kind !== 'string') return err('kind', 'must be a string');
  const kind: string = o.kind;
  const m = o.metadata;
  if (m === undefined || m === null) return err('metadata', 'required', kind);
  if (typeof m !== 'object' || Array.isArray(m)) return err('metadata', 'must be a mapping', kind);
  if (m.name === undefined || m.name === null || m.name === '') {
    return err('metadata.name', m.generateName ? 'required (generateName is not supported in a manifest folder)' : 'required', kind);
  }
  if (typeof m.name !== 'string') return err('metadata.name', 'must be a string', kind);
  const lookup = lookupKind(o.apiVersion, kind);
  const clusterScoped = lookup.known && lookup.info.clusterScoped;
  if (m.namespace !== undefined && m.namespace !== null && typeof m.namespace !== 'string') {
    return err('metadata.namespace', 'must be a string', `${kind} ${m.name}`);
  }
  if (clusterScoped) {
    if (m.namespace) {
      problems.push({ severity: 'warning', origin, object: `${kind} ${m.name}`, field: prefix + 'metadata.namespace', message: `ignored: ${kind} is cluster-scoped` });
    }
    delete m.namespace;
  } else if (!m.namespace) {
    m.namespace = 'default';
  }
  const label = clusterScoped ? `${kind} ${m.name}` : `${kind} ${m.namespace}/${m.name}`;
  let ok = true;
  const bad = (field: string, message: string): void => {
    ok = false;
    problems.push({ severity: 'error', origin, object: label, field: prefix + field, message });
  };
  // ClusterDomainClaim names are domains; ConfigMap/Secret names may hold dots too.
  if (m.name.length > 253 || !DNS1123_SUBDOMAIN.test(m.name)) {
    bad('metadata.name', `"${m.name}" must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'; at most 253 characters)`);
  }
  if (!clusterScoped && !isDnsLabel(m.namespace)) {
    bad('metadata.namespace', `"${m.namespace}" must be a lowercase RFC 1123 label (a-z, 0-9, '-'; at most 63 characters)`);
  }
  for (const mapName of ['labels', 'annotations'] as const) {
    const map = m[mapName];
    if (map === undefined || map === null) {
      delete m[mapName];
      continue;
    }
    if (typeof map !== 'object' || Array.isArray(map)) {
      bad(`metadata.${mapName}`, 'must be a mapping of strings');
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      if (typeof v === 'string') continue;
      if (typeof v === 'number' || typeof v === 'boolean' || v === null) {
        // An API server rejects these; a local folder is friendlier, but says so.
        map[k] = v === null ? '' : String(v);
        problems.push({ severity: 'warning', origin, object: label, field: `${prefix}metadata.${mapName}.${k}`, message: `must be a string; read as "${map[k]}" (quote it)` });
      } else {
        bad(`metadata.${mapName}.${k}`, 'must be a string');
      }
    }
  }
  if (!lookup.known) {
    if (lookup.badVersion) {
      const { group } = splitApiVersion(o.apiVersion);
      const use = lookup.badVersion.map((v) => (group ? `${group}/${v}` : v)).join(' or ');
      bad('apiVersion', `${o.apiVersion} does not serve ${kind} (use ${use})`);
    } else {
      const hint = apiVersionsOf(kind);
      const message = `${o.apiVersion} ${kind} is not a kind wharf reads; ignored${hint.length ? ` (did you mean apiVersion ${hint.join(' or ')}?)` : ''}`;
      problems.push({ severity: 'warning', origin, object: label, field: prefix + 'kind', message });
      return null;
    }
  }
  if (!ok) return null;
  return { object: o as KObject, origin };
}

const duplicates = new WeakSet<Loaded>();

/** Two documents for one object: an error on the later one that names both places. */
function findDuplicates(objects: Loaded[]): Problem[] {
  const problems: Problem[] = [];
  const first = new Map<string, Loaded>();
  for (const l of objects) {
    const o = l.object;
    // Knative ConfigMaps are read by name wherever they sit, so two of one name clash across namespaces too.
    const key = o.kind === 'ConfigMap' && CONFIG_MAP_NAMES.has(o.metadata.name)
      ? `ConfigMap ${o.metadata.name}`
      : `${splitApiVersion(o.apiVersion).group} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const prev = first.get(key);
    if (!prev) {
      first.set(key, l);
      continue;
    }
    duplicates.add(l);
    problems.push({
      severity: 'error',
      origin: l.origin,
      object: objectLabel(o),
      field: 'metadata.name',
      message: `defined twice: also in ${originText(prev.origin)}`,
      reason: 'Duplicate',
    });
  }
  return problems;
}

export function objectLabel(o: KObject): string {
  return o.metadata.namespace ? `${o.kind} ${o.metadata.namespace}/${o.metadata.name}` : `${o.kind} ${o.metadata.name}`;
}

export function originText(o: Origin): string {
  return `${o.file ?? '?'}${o.doc !== undefined ? `#${o.doc}` : ''}${o.line ? `:${o.line}` : ''}`;
}

/** Splits a dotted field path with [index] parts: "spec.traffic[0].percent" → ["spec","traffic",0,"percent"]. */
export function fieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(field))) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * The line of `field` inside the object's document (the line of its key), or of its nearest existing parent: a
 * missing field is reported where it should have been. Undefined when the object did not come from a parsed document.
 */
export function fieldLine(l: Loaded, field: string): number | undefined {
  const d = documents.get(l);
  if (!d) return undefined;
  const path = [...(itemPrefix.get(l) ?? []), ...fieldPath(field)];
  let node: unknown = d.doc.contents;
  let at: number | undefined = (node as Node | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      at = (pair.key as Node | null)?.range?.[0] ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
      at = (node as Node | null)?.range?.[0] ?? at;
    } else break;
  }
  return at === undefined ? undefined : d.lines.linePos(at).line;
}
