// Standalone `wharf.dev/upstream` backends: comma-separated URLs. Host names are resolved to every address
// (dns.lookup all:true, so /etc/hosts counts) and re-resolved periodically; IP literals are used as is. An
// endpoint that fails mid-flight is re-probed with a TCP connect before it gets traffic again.
import dns from 'node:dns';
import net from 'node:net';
import type { Logger } from 'pino';
import type { BackendSpec } from '../model/snapshot.js';
import { BackendEndpoint, originOf, type EndpointOwner } from './endpoint.js';
import { ProbeLoop } from './probe.js';
import type { EndpointSink } from './process-runner.js';

export type LookupAll = (host: string) => Promise<string[]>;

export const systemLookup: LookupAll = async (host) => {
  const addrs = await dns.promises.lookup(host, { all: true });
  return addrs.map((a) => a.address);
};

interface Upstream {
  scheme: string;
  host: string;
  port: number;
  /** https upstreams keep their host name (certificate checks need it). */
  resolve: boolean;
}

export function parseUpstreams(urls: readonly string[]): { upstreams: Upstream[]; errors: string[] } {
  const upstreams: Upstream[] = [];
  const errors: string[] = [];
  for (const raw of urls) {
    const s = raw.trim();
    if (!s) continue;
    let u: URL;
    try {
      u = new URL(s.includes('://') ? s : `http://${s}`);
    } catch {
      errors.push(`invalid upstream URL "${s}"`);
      continue;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      errors.push(`upstream "${s}": scheme must be http or https`);
      continue;
    }
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    upstreams.push({ scheme: u.protocol, host, port, resolve: u.protocol === 'http:' && net.isIP(host) === 0 });
  }
  return { upstreams, errors };
}

export class StaticUpstreams implements EndpointOwner {
  private upstreams: Upstream[] = [];
  /** origin → endpoint, per upstream index. */
  private current = new Map<string, BackendEndpoint>();
  private resolved: string[][] = [];
  private timer: NodeJS.Timeout | null = null;
  private probes = new Map<BackendEndpoint, ProbeLoop>();
  private stopped = false;
  private generation = 0;

  constructor(
    private spec: BackendSpec,
    private readonly sink: EndpointSink,
    private readonly log: Logger,
    private readonly lookup: LookupAll = systemLookup,
    private readonly refreshMs = 30_000,
  ) {
    this.apply(spec);
  }

  update(spec: BackendSpec): void {
    const before = JSON.stringify(this.spec.source);
    this.spec = spec;
    if (before !== JSON.stringify(spec.source)) this.apply(spec);
  }

  private apply(spec: BackendSpec): void {
    const urls = spec.source.kind === 'static' ? spec.source.urls : [];
    const { upstreams, errors } = parseUpstreams(urls);
    for (const e of errors) this.log.error({ backend: spec.key }, e);
    this.upstreams = upstreams;
    this.resolved = upstreams.map((u) => (u.resolve ? [] : [u.host]));
    this.commit();
    void this.refresh();
  }

  /** Resolve every host name; keep the last good answer when a lookup fails. */
  async refresh(): Promise<void> {
    if (this.stopped) return;
    const gen = ++this.generation;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    let failed = false;
    const ups = this.upstreams;
    await Promise.all(
      ups.map(async (u, i) => {
        if (!u.resolve) return;
        try {
          const addrs = await this.lookup(u.host);
          if (gen === this.generation) this.resolved[i] = [...new Set(addrs)];
        } catch (err) {
          failed = true;
          this.log.warn({ backend: this.spec.key, host: u.host, err: (err as Error).message }, 'cannot resolve upstream host; keeping previous addresses');
        }
      }),
    );
    if (this.stopped || gen !== this.generation) return;
    this.commit();
    if (ups.some((u) => u.resolve)) {
      this.timer = setTimeout(() => void this.refresh(), failed ? Math.min(5000, this.refreshMs) : this.refreshMs);
      this.timer.unref();
    }
  }

  private commit(): void {
    const want = new Set<string>();
    this.upstreams.forEach((u, i) => {
      for (const a of this.resolved[i] ?? []) want.add(u.resolve || net.isIP(a) ? originOf(u.scheme, a, u.port) : `${u.scheme}//${a}:${u.port}`);
    });
    for (const [origin, ep] of this.current) {
      if (!want.has(origin)) {
        this.current.delete(origin);
        this.probes.get(ep)?.stop();
        this.probes.delete(ep);
        this.sink.removeEndpoint(ep);
      }
    }
    for (const origin of want) {
      if (this.current.has(origin)) continue;
      const ep = new BackendEndpoint(origin, this.spec.protocol, this);
      ep.ready = true; // static upstreams are trusted until a request to them fails
      this.current.set(origin, ep);
      this.sink.addEndpoint(ep);
    }
  }

  endpointFailed(ep: BackendEndpoint): void {
    if (this.stopped || this.probes.has(ep)) return;
    const u = new URL(ep.origin);
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
    const loop = new ProbeLoop({ host, port }, { kind: 'tcp' }, () => {
      this.probes.delete(ep);
      this.sink.setReady(ep, true);
    }, 50, 1000);
    this.probes.set(ep, loop);
    loop.start();
  }

  origins(): string[] {
    return [...this.current.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const p of this.probes.values()) p.stop();
    this.probes.clear();
    for (const ep of this.current.values()) this.sink.removeEndpoint(ep);
    this.current.clear();
  }
}
