// Sorts loaded objects by where they go: Knative ConfigMaps (by name), TLS Secrets (decoded to PEM text), eventing
// objects (untouched, eventing compiles them) and serving objects (for the route reconciler).
import type { KObject, Problem } from '../../model/objects.js';
import { CONFIG_MAP_NAMES, TLS_SECRET_TYPE, lookupKind } from './kinds.js';
import { objectLabel, type Loaded } from './load.js';

export interface Classified {
  configMaps: Record<string, Record<string, string>>;
  secrets: KObject[];
  eventing: KObject[];
  serving: Loaded[];
  problems: Problem[];
}

export function classify(objects: readonly Loaded[]): Classified {
  const out: Classified = { configMaps: {}, secrets: [], eventing: [], serving: [], problems: [] };
  for (const l of objects) {
    const lk = lookupKind(l.object.apiVersion, l.object.kind);
    if (!lk.known) continue; // loadFolder already reported and dropped these
    switch (lk.info.cls) {
      case 'configmap':
        readConfigMap(l, out);
        break;
      case 'secret':
        readSecret(l, out);
        break;
      case 'eventing':
        out.eventing.push(l.object);
        break;
      case 'serving':
        out.serving.push(l);
        break;
    }
  }
  return out;
}

function readConfigMap(l: Loaded, out: Classified): void {
  const o = l.object;
  const name = o.metadata.name;
  const object = objectLabel(o);
  if (!CONFIG_MAP_NAMES.has(name)) {
    out.problems.push({ severity: 'warning', origin: l.origin, object, field: 'metadata.name', message: 'not a ConfigMap wharf reads; ignored' });
    return;
  }
  const data: Record<string, string> = {};
  const raw = o.data as unknown;
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      out.problems.push({ severity: 'error', origin: l.origin, object, field: 'data', message: 'must be a mapping of strings' });
      return;
    }
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v === 'string') data[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean' || v === null) {
        // `rollout-duration: 60` or `autocreate-cluster-domain-claims: true` unquoted: an API server rejects them;
        // here we read the obvious string and say how to write it.
        data[k] = v === null ? '' : String(v);
        out.problems.push({ severity: 'warning', origin: l.origin, object, field: `data.${k}`, message: `must be a string; read as "${data[k]}" (quote it)` });
      } else {
        out.problems.push({ severity: 'error', origin: l.origin, object, field: `data.${k}`, message: 'must be a string' });
      }
    }
  }
  out.configMaps[name] = data;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function readSecret(l: Loaded, out: Classified): void {
  const o = l.object;
  const object = objectLabel(o);
  const type = o.type ?? 'Opaque';
  if (type !== TLS_SECRET_TYPE) {
    out.problems.push({ severity: 'warning', origin: l.origin, object, field: 'type', message: `${type} Secrets are not read (only ${TLS_SECRET_TYPE}); ignored` });
    return;
  }
  const err = (field: string, message: string): void => {
    out.problems.push({ severity: 'error', origin: l.origin, object, field, message });
  };
  const data: Record<string, string> = {};
  let ok = true;
  for (const section of ['data', 'stringData'] as const) {
    const map = o[section] as unknown;
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object' || Array.isArray(map)) {
      err(section, 'must be a mapping of strings');
      ok = false;
      continue;
    }
    for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
      if (typeof v !== 'string') {
        err(`${section}.${k}`, 'must be a string');
        ok = false;
        continue;
      }
      if (section === 'stringData') {
        data[k] = v; // read after data: stringData wins, as the API server merges them
        continue;
      }
      const compact = v.replace(/\s+/g, '');
      if (!BASE64.test(compact) || compact.length % 4 !== 0) {
        err(`data.${k}`, 'must be base64 (use stringData for PEM text)');
        ok = false;
        continue;
      }
      data[k] = Buffer.from(compact, 'base64').toString('utf8');
    }
  }
  for (const key of ['tls.crt', 'tls.key']) {
    if (!(key in data)) {
      if (ok) err(`data.${key}`, 'required for a kubernetes.io/tls Secret');
      ok = false;
    } else if (!/-----BEGIN [A-Z0-9 ]+-----/.test(data[key]!)) {
      err(`data.${key}`, 'is not PEM (expected "-----BEGIN ...-----" after base64 decoding)');
      ok = false;
    }
  }
  if (!ok) return;
  const { stringData: _drop, ...rest } = o as KObject & { stringData?: unknown };
  out.secrets.push({ ...rest, type: TLS_SECRET_TYPE, data });
}
