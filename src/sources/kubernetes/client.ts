// A thin Kubernetes REST client over @kubernetes/client-node's KubeConfig (in-cluster config, KUBECONFIG, auth
// plugins, TLS) and its Watch. Objects stay plain JSON exactly as the API sends them (no typed-model conversion),
// so what wharf hashes and patches is byte-for-byte what the server stored.
import http from 'node:http';
import https from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { KObject } from '../../model/objects.js';
import type { Verb } from './constants.js';

export interface ResourceRef {
  group: string; // '' = core
  version: string;
  plural: string;
  /** Namespace for namespaced calls; undefined = all namespaces (or a cluster-scoped resource). */
  namespace?: string;
}

export interface ListResult {
  items: KObject[];
  resourceVersion: string;
}

export class ApiStatusError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export function resourcePath(r: ResourceRef, name?: string, subresource?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : '';
  return `${base}${ns}/${r.plural}${name ? '/' + encodeURIComponent(name) : ''}${subresource ? '/' + subresource : ''}`;
}

export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault(); // KUBECONFIG, ~/.kube/config, else the in-cluster service account
  return kc;
}

export class KubeClient {
  private agent: http.Agent | undefined;
  private readonly watcher: Watch;
  /** Every (group, resource, verb) this client has called, for the RBAC coverage test. */
  readonly used = new Set<string>();

  constructor(readonly kc: KubeConfig) {
    this.watcher = new Watch(kc);
  }

  get server(): string {
    const c = this.kc.getCurrentCluster();
    if (!c) throw new Error('kubeconfig has no current cluster');
    return c.server;
  }

  private note(r: ResourceRef, verb: Verb, subresource?: string): void {
    this.used.add(`${r.group}|${r.plural}${subresource ? '/' + subresource : ''}|${verb}`);
  }

  /** One REST call; the body is JSON. Non-2xx → ApiStatusError with the server's Status reason. */
  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<any> {
    const opts: https.RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(opts); // auth headers (tokens may rotate) + an agent with the cluster's TLS
    // Keep one agent so connections are reused; its TLS material does not change while we run.
    this.agent ??= opts.agent as http.Agent;
    const url = new URL(this.server.replace(/\/$/, '') + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = { ...(opts.headers as http.OutgoingHttpHeaders), accept: 'application/json' };
    if (opts.auth) headers.authorization = 'Basic ' + Buffer.from(opts.auth).toString('base64');
    if (payload) {
      headers['content-type'] = contentType;
      headers['content-length'] = payload.length;
    }
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(parsed);
          else reject(new ApiStatusError(code, parsed?.reason ?? 'Unknown', `${method} ${path}: ${code} ${parsed?.message ?? text.slice(0, 200)}`));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async list(r: ResourceRef, q: { labelSelector?: string; fieldSelector?: string } = {}): Promise<ListResult> {
    this.note(r, 'list');
    const qs = new URLSearchParams();
    if (q.labelSelector) qs.set('labelSelector', q.labelSelector);
    if (q.fieldSelector) qs.set('fieldSelector', q.fieldSelector);
    const s = qs.toString();
    const res = await this.request('GET', resourcePath(r) + (s ? '?' + s : ''));
    return { items: res?.items ?? [], resourceVersion: res?.metadata?.resourceVersion ?? '' };
  }

  async get(r: ResourceRef, name: string): Promise<KObject> {
    this.note(r, 'get');
    return this.request('GET', resourcePath(r, name));
  }

  async create(r: ResourceRef, obj: unknown): Promise<KObject> {
    this.note(r, 'create');
    return this.request('POST', resourcePath(r), obj);
  }

  async replace(r: ResourceRef, name: string, obj: unknown): Promise<KObject> {
    this.note(r, 'update');
    return this.request('PUT', resourcePath(r, name), obj);
  }

  /** RFC 7386 merge patch; `subresource: 'status'` writes only status. */
  async mergePatch(r: ResourceRef, name: string, patch: unknown, subresource?: string): Promise<KObject> {
    this.note(r, 'patch', subresource);
    return this.request('PATCH', resourcePath(r, name, subresource), patch, 'application/merge-patch+json');
  }

  /** RFC 6902 JSON patch (with `test` ops as preconditions). */
  async jsonPatch(r: ResourceRef, name: string, ops: unknown[], subresource?: string): Promise<KObject> {
    this.note(r, 'patch', subresource);
    return this.request('PATCH', resourcePath(r, name, subresource), ops, 'application/json-patch+json');
  }

  /**
   * Open a watch from `resourceVersion`. `onEvent` gets every event; `onDone` is called once when the stream ends
   * (err = null for a clean close). Returns a handle whose abort() ends it.
   */
  async watch(
    r: ResourceRef,
    q: { resourceVersion: string; labelSelector?: string; fieldSelector?: string; timeoutSeconds?: number },
    onEvent: (type: WatchEventType, obj: any) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }> {
    this.note(r, 'watch');
    const params: Record<string, string | number | boolean> = { resourceVersion: q.resourceVersion, allowWatchBookmarks: true };
    if (q.labelSelector) params.labelSelector = q.labelSelector;
    if (q.fieldSelector) params.fieldSelector = q.fieldSelector;
    if (q.timeoutSeconds) params.timeoutSeconds = q.timeoutSeconds;
    return this.watcher.watch(resourcePath(r), params, (type: string, obj: any) => onEvent(type as WatchEventType, obj), onDone);
  }
}
