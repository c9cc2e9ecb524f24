// Typed object storage with etcd-like semantics: one global resourceVersion counter, a bounded event history for
// watches (too-old resourceVersions are "Expired"/410), status subresource rules, generation bumps, finalizers and
// optimistic concurrency. The HTTP layer (server.ts) and tests both drive it.
import { randomUUID } from 'node:crypto';
import { apiVersionOf, type ResourceType } from './resources.js';
import type { LabelPredicate } from './selectors.js';

export type Obj = { apiVersion?: string; kind?: string; metadata: Meta; [k: string]: any };
export interface Meta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [k: string]: any;
}
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  status(): Record<string, unknown> {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, details: this.details, code: this.code };
  }
}

interface StoredEvent {
  rv: number;
  type: EventType;
  typeKey: string;
  obj: Obj;
  /** The object before this change (MODIFIED), for selector transitions. */
  prev?: Obj;
}

export interface WatchSpec {
  type: ResourceType;
  namespace?: string;
  labels: LabelPredicate;
  fields: (o: Obj) => boolean;
}

export interface Watcher extends WatchSpec {
  send(type: EventType | 'BOOKMARK' | 'ERROR', obj: unknown): void;
  close(): void;
  bookmarks: boolean;
}

const typeKey = (t: ResourceType): string => `${apiVersionOf(t)}/${t.plural}`;
const clone = <T>(v: T): T => structuredClone(v);
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export class Store {
  private rv = 1;
  private readonly objects = new Map<string, Map<string, Obj>>(); // typeKey → ns/name → obj
  private history: StoredEvent[] = [];
  /** Watches from a resourceVersion older than this get 410 Expired. */
  private compactedRv = 0;
  readonly watchers = new Set<Watcher>();

  /**
   * Called on every CRD write with the object about to be stored: returns it pruned, or throws a 422 ApiError.
   * (server.ts installs the CRD schema check.)
   */
  admit: ((t: ResourceType, o: Obj) => Obj) | null = null;

  constructor(private readonly historyLimit = 1000) {}

  currentRv(): string {
    return String(this.rv);
  }

  private bucket(t: ResourceType): Map<string, Obj> {
    let b = this.objects.get(typeKey(t));
    if (!b) this.objects.set(typeKey(t), (b = new Map()));
    return b;
  }

  private key(t: ResourceType, ns: string | undefined, name: string): string {
    return t.namespaced ? `${ns ?? ''}/${name}` : name;
  }

  private decorate(t: ResourceType, o: Obj): Obj {
    return { apiVersion: apiVersionOf(t), kind: t.kind, ...o };
  }

  get(t: ResourceType, ns: string | undefined, name: string): Obj {
    const o = this.bucket(t).get(this.key(t, ns, name));
    if (!o) throw notFound(t, name);
    return clone(o);
  }

  list(t: ResourceType, ns: string | undefined, labels: LabelPredicate, fields: (o: Obj) => boolean): { items: Obj[]; resourceVersion: string } {
    const items: Obj[] = [];
    for (const o of this.bucket(t).values()) {
      if (t.namespaced && ns && o.metadata.namespace !== ns) continue;
      if (!labels(o.metadata.labels) || !fields(o)) continue;
      items.push(clone(o));
    }
    items.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
    return { items, resourceVersion: this.currentRv() };
  }

  create(t: ResourceType, ns: string | undefined, body: Obj): Obj {
    if (!body || typeof body !== 'object' || !body.metadata) throw new ApiError(400, 'BadRequest', 'object has no metadata');
    const o: Obj = clone(body);
    const m = o.metadata;
    if (!m.name && m.generateName) m.name = m.generateName + Math.random().toString(36).slice(2, 7);
    if (!m.name) throw invalid(t, '', 'metadata.name: Required value: name or generateName is required');
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(m.name) || m.name.length > 253) throw invalid(t, m.name, `metadata.name: Invalid value: "${m.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    if (t.namespaced) {
      if (m.namespace && ns && m.namespace !== ns) throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      m.namespace = ns ?? m.namespace;
      if (!m.namespace) throw new ApiError(400, 'BadRequest', 'namespace is required');
    } else delete m.namespace;
    const k = this.key(t, m.namespace, m.name);
    if (this.bucket(t).has(k)) throw new ApiError(409, 'AlreadyExists', `${t.plural}${t.group ? '.' + t.group : ''} "${m.name}" already exists`, { name: m.name, group: t.group, kind: t.plural });
    if (t.statusSubresource) delete o.status;
    m.uid = randomUUID();
    m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    if (t.crd || 'spec' in o) m.generation = 1;
    else delete m.generation;
    let stored = this.decorate(t, o);
    if (this.admit && t.crd) stored = this.admit(t, stored);
    stored.metadata.resourceVersion = String(++this.rv);
    this.bucket(t).set(k, stored);
    this.record(t, 'ADDED', stored);
    return clone(stored);
  }

  /**
   * PUT. `status` = true for the /status subresource (only status changes); otherwise status is kept from the stored
   * object when the type has a status subresource. `conditional`: the body's resourceVersion must match.
   */
  update(t: ResourceType, ns: string | undefined, name: string, body: Obj, opts: { status?: boolean; requireRv?: boolean } = {}): Obj {
    const b = this.bucket(t);
    const k = this.key(t, ns, name);
    const old = b.get(k);
    if (!old) throw notFound(t, name);
    if (!body?.metadata) throw new ApiError(400, 'BadRequest', 'object has no metadata');
    if (body.metadata.name && body.metadata.name !== name) throw new ApiError(400, 'BadRequest', `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    const rvIn = body.metadata.resourceVersion;
    if (!rvIn && opts.requireRv) throw invalid(t, name, 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
    if (rvIn && rvIn !== old.metadata.resourceVersion)
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${t.plural}${t.group ? '.' + t.group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: t.group, kind: t.plural });
    let next: Obj;
    if (opts.status) {
      // Status writes ignore everything but status (apiserver status strategies copy the old object).
      next = clone(old);
      if ('status' in body) next.status = clone(body.status);
      else delete next.status;
    } else {
      next = clone(body);
      const m = next.metadata;
      // System-owned metadata cannot be changed by a client.
      m.name = old.metadata.name;
      if (t.namespaced) m.namespace = old.metadata.namespace;
      m.uid = old.metadata.uid;
      m.creationTimestamp = old.metadata.creationTimestamp;
      if (old.metadata.deletionTimestamp) {
        m.deletionTimestamp = old.metadata.deletionTimestamp;
        m.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
        const added = (m.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
        if (added.length) throw invalid(t, name, `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`);
      } else {
        delete m.deletionTimestamp;
        delete m.deletionGracePeriodSeconds;
      }
      if (t.statusSubresource) {
        if ('status' in old) next.status = clone(old.status);
        else delete next.status;
      }
      m.generation = old.metadata.generation;
      const strip = (o: Obj): Obj => {
        const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
        return rest as Obj;
      };
      const changed = t.crd ? !sameJson(strip(old), strip(next)) : !sameJson(old.spec, next.spec);
      if (changed && m.generation !== undefined) m.generation += 1;
      if (m.generation === undefined) delete m.generation;
      if (!m.finalizers?.length) delete m.finalizers;
    }
    next = this.decorate(t, next);
    if (this.admit && t.crd) next = this.admit(t, next);
    // A no-op write does not bump the resourceVersion or emit an event, as in the real apiserver.
    const { resourceVersion: _r, ...oldMeta } = old.metadata;
    const { resourceVersion: _n, ...nextMeta } = next.metadata;
    if (sameJson({ ...old, metadata: oldMeta }, { ...next, metadata: nextMeta })) return clone(old);
    next.metadata.resourceVersion = String(++this.rv);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      b.delete(k);
      this.record(t, 'DELETED', next, old);
      return clone(next);
    }
    b.set(k, next);
    this.record(t, 'MODIFIED', next, old);
    return clone(next);
  }

  delete(t: ResourceType, ns: string | undefined, name: string, preconditionRv?: string): Obj {
    const b = this.bucket(t);
    const k = this.key(t, ns, name);
    const old = b.get(k);
    if (!old) throw notFound(t, name);
    if (preconditionRv && preconditionRv !== old.metadata.resourceVersion) throw new ApiError(409, 'Conflict', `Precondition failed: ResourceVersion: ${preconditionRv}`);
    if (old.metadata.finalizers?.length) {
      if (old.metadata.deletionTimestamp) return clone(old);
      const next = clone(old);
      next.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.resourceVersion = String(++this.rv);
      b.set(k, next);
      this.record(t, 'MODIFIED', next, old);
      return clone(next);
    }
    b.delete(k);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.record(t, 'DELETED', gone, old);
    return clone(gone);
  }

  private record(t: ResourceType, type: EventType, obj: Obj, prev?: Obj): void {
    const ev: StoredEvent = { rv: this.rv, type, typeKey: typeKey(t), obj: clone(obj), prev: prev && clone(prev) };
    this.history.push(ev);
    while (this.history.length > this.historyLimit) this.compactedRv = this.history.shift()!.rv;
    for (const w of this.watchers) this.deliver(w, ev);
  }

  /** Drop all history up to now: every watch resuming from an older resourceVersion gets 410 Expired. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /**
   * Register a watch. `fromRv` undefined/"0"/"": synthetic ADDED for current objects, then live events.
   * Otherwise replays history after fromRv, or throws 410 if it was compacted.
   */
  watch(w: Watcher, fromRv: string | undefined): void {
    if (!fromRv || fromRv === '0') {
      for (const o of this.list(w.type, w.namespace, w.labels, w.fields).items) w.send('ADDED', o);
    } else {
      const from = Number(fromRv);
      if (!Number.isInteger(from)) throw new ApiError(400, 'BadRequest', `invalid resourceVersion ${fromRv}`);
      if (from < this.compactedRv) throw new ApiError(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`);
      for (const ev of this.history) if (ev.rv > from) this.deliver(w, ev);
    }
    this.watchers.add(w);
  }

  bookmark(): void {
    for (const w of this.watchers) {
      if (w.bookmarks) w.send('BOOKMARK', { kind: w.type.kind, apiVersion: apiVersionOf(w.type), metadata: { resourceVersion: this.currentRv() } });
    }
  }

  private deliver(w: Watcher, ev: StoredEvent): void {
    if (ev.typeKey !== typeKey(w.type)) return;
    const matches = (o: Obj | undefined): boolean =>
      !!o && (!w.type.namespaced || !w.namespace || o.metadata.namespace === w.namespace) && w.labels(o.metadata.labels) && w.fields(o);
    const now = matches(ev.obj);
    const before = ev.type === 'MODIFIED' ? matches(ev.prev) : now;
    // Selector transitions look like adds/deletes to a filtered watch, as the apiserver's cacher does.
    if (ev.type === 'MODIFIED' && now !== before) w.send(now ? 'ADDED' : 'DELETED', clone(ev.obj));
    else if (now) w.send(ev.type, clone(ev.obj));
  }
}

function notFound(t: ResourceType, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${t.plural}${t.group ? '.' + t.group : ''} "${name}" not found`, { name, group: t.group, kind: t.plural });
}

function invalid(t: ResourceType, name: string, msg: string): ApiError {
  return new ApiError(422, 'Invalid', `${t.kind} "${name}" is invalid: ${msg}`, { name, group: t.group, kind: t.kind });
}
