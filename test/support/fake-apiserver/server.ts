// An in-process fake Kubernetes API server on 127.0.0.1: the REST paths, list/watch protocol (chunked JSON lines,
// 410 Expired as an ERROR event, BOOKMARKs), selectors, the status subresource, merge/JSON patches, finalizers and
// optimistic concurrency, backed by store.ts. @kubernetes/client-node's KubeConfig can point at it (kubeConfig()).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import fjp from 'fast-json-patch';
import { KubeConfig } from '@kubernetes/client-node';
import { RESOURCE_TYPES, apiVersionOf, findType, typeOfObject, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';
import { ApiError, Store, type Obj, type Watcher } from './store.js';
import { loadCrdSchemas, prune } from './schemas.js';

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  body?: unknown;
}

interface Target {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeApiServer {
  readonly store: Store;
  readonly requests: RequestRecord[] = [];
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private up = false;
  /** API groups this server does not serve (a CRD not installed): every path under them is 404. */
  readonly missingGroups = new Set<string>();

  /** TLS serving certificate (https) and a bearer token every request must carry (401 otherwise). */
  private readonly tls: { cert: string; key: string } | undefined;
  private readonly token: string | undefined;

  constructor(opts: FakeApiServerOptions = {}) {
    this.tls = opts.tls;
    this.token = opts.token;
    this.store = new Store(opts.historyLimit ?? 1000);
    if (opts.validate !== false) {
      const schemas = loadCrdSchemas();
      this.store.admit = (t, o) => {
        const s = schemas.get(`${apiVersionOf(t)} ${t.kind}`);
        if (!s) return o;
        const pruned = prune(structuredClone(o), s.schema, true) as Obj;
        if (!s.validate(pruned)) {
          const causes = (s.validate.errors ?? []).map((e) => `${e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '<root>'}: ${e.message}`);
          throw new ApiError(422, 'Invalid', `${t.kind}.${t.group} "${o.metadata?.name}" is invalid: ${causes.join(', ')}`, { name: o.metadata?.name, group: t.group, kind: t.kind, causes });
        }
        return pruned;
      };
    }
    this.server = this.makeServer();
  }

  private makeServer(): Server {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const s: Server = this.tls ? (createTlsServer({ cert: this.tls.cert, key: this.tls.key }, handler) as unknown as Server) : createServer(handler);
    s.on('connection', (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    return s;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    this.up = true;
    return this;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get listenPort(): number {
    return this.port;
  }

  /** A KubeConfig pointing at this server (plain HTTP needs skipTLSVerify in client-node 1.x). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Simulate the API becoming unreachable: close the listener and every connection (watches included). */
  async goDown(): Promise<void> {
    if (!this.up) return;
    this.up = false;
    for (const w of this.store.watchers) w.close();
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Bring the API back on the same port. */
  async comeUp(): Promise<void> {
    if (this.up) return;
    this.server = this.makeServer();
    await this.start();
  }

  /** End every open watch stream (clients must re-watch from their last resourceVersion). */
  closeWatches(): void {
    for (const w of this.store.watchers) w.close();
  }

  async close(): Promise<void> {
    await this.goDown();
  }

  // ---- direct access for tests (same semantics as the REST calls) ----

  private typeFor(o: { apiVersion?: string; kind?: string }): ResourceType {
    const t = typeOfObject(o.apiVersion ?? '', o.kind ?? '');
    if (!t) throw new Error(`fake apiserver: unknown type ${o.apiVersion} ${o.kind}`);
    return t;
  }
  create<T extends Obj>(o: T): T {
    return this.store.create(this.typeFor(o), o.metadata.namespace, o) as T;
  }
  get<T extends Obj = Obj>(apiVersion: string, kind: string, namespace: string | undefined, name: string): T {
    return this.store.get(this.typeFor({ apiVersion, kind }), namespace, name) as T;
  }
  tryGet<T extends Obj = Obj>(apiVersion: string, kind: string, namespace: string | undefined, name: string): T | undefined {
    try {
      return this.get<T>(apiVersion, kind, namespace, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }
  /** Unconditional update of the main resource (status kept when the type has a status subresource). */
  update<T extends Obj>(o: T): T {
    const cur = this.store.get(this.typeFor(o), o.metadata.namespace, o.metadata.name);
    return this.store.update(this.typeFor(o), o.metadata.namespace, o.metadata.name, { ...o, metadata: { ...o.metadata, resourceVersion: cur.metadata.resourceVersion } }) as T;
  }
  /** Create or update (main resource). */
  apply<T extends Obj>(o: T): T {
    return this.tryGet(o.apiVersion!, o.kind!, o.metadata.namespace, o.metadata.name) ? this.update(o) : this.create(o);
  }
  updateStatus<T extends Obj>(o: T): T {
    return this.store.update(this.typeFor(o), o.metadata.namespace, o.metadata.name, { ...o, metadata: { ...o.metadata, resourceVersion: undefined } }, { status: true }) as T;
  }
  delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj {
    return this.store.delete(this.typeFor({ apiVersion, kind }), namespace, name);
  }
  list(apiVersion: string, kind: string, namespace?: string): Obj[] {
    return this.store.list(this.typeFor({ apiVersion, kind }), namespace, () => true, () => true).items;
  }
  /** Write requests (anything but GET) the server received, optionally for one path prefix. */
  writes(pathIncludes = ''): RequestRecord[] {
    return this.requests.filter((r) => r.method !== 'GET' && r.path.includes(pathIncludes));
  }

  // ---- HTTP ----

  private parse(path: string): Target | 'discovery' | null {
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (seg[0] === 'api') {
      if (seg.length < 2) return 'discovery';
      group = '';
      version = seg[1];
      rest = seg.slice(2);
    } else if (seg[0] === 'apis') {
      if (seg.length < 3) return 'discovery';
      group = seg[1];
      version = seg[2];
      rest = seg.slice(3);
    } else return null;
    if (rest.length === 0) return 'discovery';
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = findType(group, version, rest[0]);
    if (!type || this.missingGroups.has(group)) return null;
    if (namespace !== undefined && !type.namespaced) return null;
    return { type, namespace, name: rest[1], subresource: rest[2] };
  }

  private async readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (!chunks.length) return undefined;
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(400, 'BadRequest', 'the body of the request was in an unknown format');
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams.entries());
    const rec: RequestRecord = { method: req.method ?? 'GET', path: url.pathname, query, contentType: req.headers['content-type'] };
    this.requests.push(rec);
    try {
      if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const body = await this.readBody(req);
      rec.body = body;
      if (url.pathname === '/version') return send(res, 200, { major: '1', minor: '33', gitVersion: 'v1.33.0-fake' });
      const target = this.parse(url.pathname);
      if (target === 'discovery') return send(res, 200, this.discovery(url.pathname));
      if (!target) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      const { type, namespace, name, subresource } = target;
      if (subresource && subresource !== 'status') throw new ApiError(404, 'NotFound', `subresource ${subresource} not found`);
      if (subresource === 'status' && !type.statusSubresource) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      if (type.namespaced && name && namespace === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      const labels = parseLabelSelector(query.labelSelector);
      const fields = parseFieldSelector(query.fieldSelector);
      switch (req.method) {
        case 'GET':
          if (name) return send(res, 200, this.store.get(type, namespace, name));
          if (query.watch === 'true' || query.watch === '1') return this.serveWatch(req, res, type, namespace, labels, fields, query);
          {
            const { items, resourceVersion } = this.store.list(type, namespace, labels, fields);
            // Built-in list items carry no apiVersion/kind on the wire; CRD lists do.
            const wire = type.crd ? items : items.map(({ apiVersion: _a, kind: _k, ...o }) => o);
            return send(res, 200, { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion }, items: wire });
          }
        case 'POST':
          if (name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
          return send(res, 201, this.store.create(type, namespace, this.checkKind(type, body)));
        case 'PUT':
          if (!name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
          return send(res, 200, this.store.update(type, namespace, name, this.checkKind(type, body), { status: subresource === 'status', requireRv: type.crd }));
        case 'PATCH': {
          if (!name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
          const cur = this.store.get(type, namespace, name);
          const next = this.applyPatch(type, cur, body, String(req.headers['content-type'] ?? ''));
          return send(res, 200, this.store.update(type, namespace, name, next, { status: subresource === 'status' }));
        }
        case 'DELETE':
          if (!name) throw new ApiError(405, 'MethodNotAllowed', 'collection delete is not supported by the fake');
          return send(res, 200, this.store.delete(type, namespace, name, (body as { preconditions?: { resourceVersion?: string } })?.preconditions?.resourceVersion));
        default:
          throw new ApiError(405, 'MethodNotAllowed', `method ${req.method} not allowed`);
      }
    } catch (e) {
      if (e instanceof ApiError) return send(res, e.code, e.status());
      if (e instanceof SelectorError) return send(res, 400, new ApiError(400, 'BadRequest', e.message).status());
      return send(res, 500, new ApiError(500, 'InternalError', String((e as Error)?.message ?? e)).status());
    }
  }

  private checkKind(type: ResourceType, body: unknown): Obj {
    const o = body as Obj;
    if (!o || typeof o !== 'object') throw new ApiError(400, 'BadRequest', 'missing body');
    if ((o.kind && o.kind !== type.kind) || (o.apiVersion && o.apiVersion !== apiVersionOf(type)))
      throw new ApiError(400, 'BadRequest', `the API version in the data (${o.apiVersion}) does not match the expected API version (${apiVersionOf(type)})`);
    return o;
  }

  private applyPatch(type: ResourceType, cur: Obj, patch: unknown, contentType: string): Obj {
    const ct = contentType.split(';')[0].trim();
    if (ct === 'application/merge-patch+json') return mergePatch(cur, patch) as Obj;
    if (ct === 'application/json-patch+json') {
      if (!Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'json patch must be an array');
      try {
        return fjp.applyPatch(structuredClone(cur), patch as fjp.Operation[], true, false).newDocument as Obj;
      } catch (e) {
        // A failed `test` op and a bad path are both 422 on a real server.
        throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${(e as Error).message}`);
      }
    }
    if (ct === 'application/strategic-merge-patch+json') {
      // CRDs do not support strategic merge; built-ins are approximated by a merge patch (lists replace).
      if (type.crd) throw new ApiError(415, 'UnsupportedMediaType', 'strategic merge patch is not supported for custom resources');
      return mergePatch(cur, patch) as Obj;
    }
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
  }

  private serveWatch(req: IncomingMessage, res: ServerResponse, type: ResourceType, namespace: string | undefined, labels: ReturnType<typeof parseLabelSelector>, fields: (o: Obj) => boolean, query: Record<string, string>): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    let timer: NodeJS.Timeout | undefined;
    const w: Watcher = {
      type,
      namespace,
      labels,
      fields,
      bookmarks: query.allowWatchBookmarks === 'true',
      send: (t, obj) => {
        if (!res.writableEnded) res.write(JSON.stringify({ type: t, object: obj }) + '\n');
      },
      close: () => {
        this.store.watchers.delete(w);
        if (timer) clearTimeout(timer);
        if (!res.writableEnded) res.end();
      },
    };
    res.on('close', () => w.close());
    try {
      this.store.watch(w, query.resourceVersion);
    } catch (e) {
      // A too-old resourceVersion on a watch is a 200 stream carrying one ERROR event (Status 410), then EOF.
      if (e instanceof ApiError) {
        w.send('ERROR', e.status());
        w.close();
        return;
      }
      throw e;
    }
    const timeout = Number(query.timeoutSeconds);
    if (timeout > 0) timer = setTimeout(() => w.close(), timeout * 1000);
  }

  private discovery(path: string): unknown {
    if (path === '/api') return { kind: 'APIVersions', versions: ['v1'] };
    if (path === '/apis') {
      const groups = [...new Set(RESOURCE_TYPES.filter((r) => r.group).map((r) => `${r.group}/${r.version}`))];
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((gv) => ({ name: gv.split('/')[0], versions: [{ groupVersion: gv, version: gv.split('/')[1] }], preferredVersion: { groupVersion: gv, version: gv.split('/')[1] } })) };
    }
    const gv = path.replace(/^\/apis?\//, '').replace(/\/$/, '');
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv,
      resources: RESOURCE_TYPES.filter((r) => apiVersionOf(r) === gv).flatMap((r) => [
        { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
        ...(r.statusSubresource ? [{ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] }] : []),
      ]),
    };
  }
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export interface FakeApiServerOptions {
  historyLimit?: number;
  /** Prune and validate CRD objects against Knative's CRD schemas, as a real server does (default true). */
  validate?: boolean;
  tls?: { cert: string; key: string };
  token?: string;
}

export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  return new FakeApiServer(opts).start();
}
