// Cluster backends: a revision's private endpoint addresses (ready ones trusted, not-ready ones probed with
// the spec's readiness check until they pass) or an ExternalName host. Updated in place on every snapshot.
import type { Logger } from 'pino';
import type { BackendSpec } from '../model/snapshot.js';
import { BackendEndpoint, originOf, type EndpointOwner } from './endpoint.js';
import { ProbeLoop } from './probe.js';
import type { EndpointSink } from './process-runner.js';

interface Entry {
  ep: BackendEndpoint;
  host: string;
  port: number;
  probe: ProbeLoop | null;
}

export class AddressList implements EndpointOwner {
  private entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    private spec: BackendSpec,
    private readonly sink: EndpointSink,
    private readonly log: Logger,
  ) {
    this.update(spec);
  }

  update(spec: BackendSpec): void {
    this.spec = spec;
    const src = spec.source;
    const want = new Map<string, { host: string; port: number; ready: boolean }>();
    if (src.kind === 'addresses') {
      for (const a of src.notReady) add(want, a, src.port, false);
      for (const a of src.addresses) add(want, a, src.port, true);
    } else if (src.kind === 'dns') {
      want.set(`http://${src.host}:${src.port}`, { host: src.host, port: src.port, ready: true });
    }
    for (const [origin, e] of this.entries) {
      if (!want.has(origin)) {
        e.probe?.stop();
        this.entries.delete(origin);
        this.sink.removeEndpoint(e.ep);
      }
    }
    for (const [origin, w] of want) {
      const e = this.entries.get(origin);
      if (e) {
        if (w.ready && !e.ep.ready && !e.probe) this.sink.setReady(e.ep, true);
        continue;
      }
      const ep = new BackendEndpoint(origin, spec.protocol, this);
      ep.ready = w.ready;
      const entry: Entry = { ep, host: w.host, port: w.port, probe: null };
      this.entries.set(origin, entry);
      this.sink.addEndpoint(ep);
      if (!w.ready) this.probe(entry);
    }
    if (this.entries.size === 0) this.log.debug({ backend: spec.key }, 'backend has no addresses');
  }

  private probe(e: Entry): void {
    if (this.stopped || e.probe) return;
    e.probe = new ProbeLoop({ host: e.host, port: e.port }, this.spec.readiness.kind === 'queue' ? { kind: 'queue' } : { kind: 'tcp' }, () => {
      e.probe = null;
      this.sink.setReady(e.ep, true);
    }, 50, 200);
    e.probe.start();
  }

  endpointFailed(ep: BackendEndpoint): void {
    const e = this.entries.get(ep.origin);
    if (e && e.ep === ep) this.probe(e);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) {
      e.probe?.stop();
      this.sink.removeEndpoint(e.ep);
    }
    this.entries.clear();
  }
}

function add(want: Map<string, { host: string; port: number; ready: boolean }>, addr: string, port: number, ready: boolean): void {
  let host = addr;
  let p = port;
  // Accept "ip", "ip:port" and "[v6]:port".
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? (/^([^:]+):(\d+)$/.exec(addr) as RegExpExecArray | null);
  if (m) {
    host = m[1]!;
    if (m[2]) p = Number(m[2]);
  }
  want.set(originOf('http:', host, p), { host, port: p, ready });
}
