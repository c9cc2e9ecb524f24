// wharf in cluster mode, in-process: N replicas (Runtime + KubernetesCluster each) against the fake API server, every
// replica probing all replicas' listeners as its gateway pods; plus loopback backends that behave like Knative's
// conformance `runtime` image (JSON echo of the request).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Runtime } from '../../src/runtime.js';
import { compile } from '../../src/model/compile.js';
import { createBackends } from '../../src/backends/index.js';
import { KubernetesCluster } from '../../src/sources/kubernetes/cluster.js';
import { clusterCompile } from '../../src/sources/kubernetes/compile-policy.js';
import { Eventing } from '../../src/eventing/runtime.js';
import { TlsRuntime } from '../../src/tls/tls-runtime.js';
import { attachEventing, withEventing } from '../../src/eventing/wire.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProbeTarget } from '../../src/sources/kubernetes/prober.js';
import type { FakeApiServer } from './fake-apiserver/index.js';
import { KINGRESS_API, endpointSlice, service, until } from './k8s-fixtures.js';

export interface ClusterReplica {
  runtime: Runtime;
  eventing: Eventing | null;
  cluster: KubernetesCluster;
  external: number;
  internal: number;
  admin: number;
  /** TLS listener ports (opened once the config has a certificate); 0 until then or without `tls`. */
  https(): number;
  internalHttps(): number;
}

export interface ClusterWharf {
  replicas: ClusterReplica[];
  /** The first replica's ports (what a client dials). */
  external: number;
  internal: number;
  stop(): Promise<void>;
}

export async function startClusterWharf(
  api: FakeApiServer,
  opts: { replicas?: number; ingressClass?: string; backends?: (replica: number) => Parameters<typeof createBackends>[0]; eventing?: boolean; tls?: boolean } = {},
): Promise<ClusterWharf> {
  const replicas: ClusterReplica[] = [];
  const dirs: string[] = [];
  const targets = (): ProbeTarget[] => replicas.map((r) => ({ ip: '127.0.0.1', externalPort: r.external, internalPort: r.internal }));
  for (let i = 0; i < (opts.replicas ?? 1); i++) {
    const cluster = new KubernetesCluster({
      kubeConfig: api.kubeConfig(),
      identity: `wharf-${i}`,
      namespace: 'wharf-system',
      ingressClass: opts.ingressClass,
      debounceMs: 20,
      probeTargets: targets,
      leaseDurationSeconds: 2,
      leaseRetryMs: 200,
      probeInitialDelayMs: 20,
      probeMaxDelayMs: 200,
    });
    const dataDir = opts.eventing || opts.tls ? mkdtempSync(join(tmpdir(), 'wharf-k8s-')) : null;
    if (dataDir) dirs.push(dataDir);
    const eventing = opts.eventing && dataDir ? new Eventing({ dataDir, tickMs: 50 }) : null;
    const tls = opts.tls && dataDir ? new TlsRuntime({ dataDir }) : null;
    const runtime = new Runtime({
      source: cluster.source,
      backends: createBackends({ drainTimeoutMs: 1000, ...(opts.backends?.(i) ?? {}) }),
      compile: clusterCompile(opts.eventing ? withEventing(compile) : compile),
      external: { port: 0, host: '127.0.0.1' },
      internal: { port: 0, host: '127.0.0.1' },
      admin: { port: 0, host: '127.0.0.1' },
      ...(tls ? { tls, https: { port: 0, host: '127.0.0.1' }, internalHttps: { port: 0, host: '127.0.0.1' } } : {}),
      drainDelayMs: 0,
      drainTimeoutMs: 1000,
    });
    if (eventing) attachEventing(runtime, eventing);
    cluster.attach(runtime);
    await runtime.start();
    const a = runtime.addresses();
    if (eventing) {
      eventing.setInternalOrigin(`http://127.0.0.1:${a.internal!.port}`);
      await eventing.start();
    }
    replicas.push({
      runtime,
      eventing,
      cluster,
      external: a.external!.port,
      internal: a.internal!.port,
      admin: a.admin!.port,
      https: () => runtime.addresses().https?.port ?? 0,
      internalHttps: () => runtime.addresses().internalHttps?.port ?? 0,
    });
  }
  for (const r of replicas) r.cluster.start();
  return {
    replicas,
    external: replicas[0].external,
    internal: replicas[0].internal,
    async stop() {
      for (const r of replicas) {
        await r.cluster.stop();
        await r.runtime.stop();
        await r.eventing?.stop();
        r.runtime.tls?.stop();
      }
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A loopback backend that answers like Knative's `runtime` test image: 200 + JSON of what it received. */
export class EchoBackend {
  readonly server: Server;
  requests = 0;
  constructor(readonly name: string, handler?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean) {
    this.server = createServer((req, res) => {
      this.requests++;
      if (handler?.(req, res)) return;
      const body = JSON.stringify({ backend: this.name, request: { host: req.headers.host, url: req.url, headers: req.headers, protoMajor: req.httpVersionMajor } });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return this;
  }
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** A ClusterIP Service `name` port 80 → the backend, with its EndpointSlice (as the endpoint controller would make). */
export function exposeBackend(api: FakeApiServer, ns: string, name: string, b: EchoBackend, portName = 'http'): void {
  api.apply(service(ns, name, [{ name: portName, port: 80, targetPort: b.port }]));
  api.apply(endpointSlice(ns, name, `${name}-abc`, [{ ip: '127.0.0.1' }], [{ name: portName, port: b.port }]));
}

/** Wait until the KIngress is Ready (observedGeneration == generation and Ready True), as the conformance suite does. */
export async function waitReady(api: FakeApiServer, ns: string, name: string, ms = 8000): Promise<any> {
  let o: any;
  await until(
    () => {
      o = api.tryGet(KINGRESS_API, 'Ingress', ns, name);
      return !!o && o.status?.observedGeneration === o.metadata.generation && o.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
    },
    ms,
    `Ingress ${ns}/${name} Ready`,
  );
  return o;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json?: any;
}

/** GET through a wharf listener with a Host header (no redirects followed). */
export async function get(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<Reply> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
