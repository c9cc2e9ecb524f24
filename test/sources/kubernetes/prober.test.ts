import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IngressProber, probeOnce } from '../../../src/sources/kubernetes/prober.js';
import { until } from '../../support/k8s-fixtures.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

describe('probeOnce verdicts (Knative prober rules)', () => {
  it('ok on 200 + our hash, 200 without hash, or other codes; retry on another hash, 404, 503, errors', async () => {
    let reply: { code: number; hash?: string } = { code: 200, hash: 'h' };
    let seen: Record<string, unknown> = {};
    const port = await serve((req, res) => {
      seen = { url: req.url, host: req.headers.host, ua: req.headers['user-agent'], probe: req.headers['k-network-probe'], hash: req.headers['k-network-hash'] };
      res.writeHead(reply.code, reply.hash ? { 'k-network-hash': reply.hash } : {}).end();
    });
    expect(await probeOnce('127.0.0.1', port, 'a.example.com', 'h', 1000)).toBe('ok');
    expect(seen).toEqual({ url: '/healthz', host: 'a.example.com', ua: 'Knative-Ingress-Probe', probe: 'probe', hash: 'override' });
    reply = { code: 200, hash: 'other' };
    expect(await probeOnce('127.0.0.1', port, 'a', 'h', 1000)).toBe('retry');
    reply = { code: 200 };
    expect(await probeOnce('127.0.0.1', port, 'a', 'h', 1000)).toBe('ok');
    reply = { code: 404 };
    expect(await probeOnce('127.0.0.1', port, 'a', 'h', 1000)).toBe('retry');
    reply = { code: 503 };
    expect(await probeOnce('127.0.0.1', port, 'a', 'h', 1000)).toBe('retry');
    reply = { code: 301 };
    expect(await probeOnce('127.0.0.1', port, 'a', 'h', 1000)).toBe('ok');
    const closed = await serve(() => {});
    servers.pop()!.close();
    expect(await probeOnce('127.0.0.1', closed, 'a', 'h', 300)).toBe('retry');
  });
});

describe('IngressProber', () => {
  it('probes every pod × host on the plane of its rule, at most maxInFlight at once, and a new hash cancels the old', async () => {
    let inFlight = 0;
    let peak = 0;
    const hits: string[] = [];
    const serving = new Map<number, string>(); // port → hash it serves
    const pod = async (): Promise<number> => {
      const port: number = await serve((req, res) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        hits.push(`${port} ${req.headers.host}`);
        setTimeout(() => {
          inFlight--;
          const h = serving.get(port);
          res.writeHead(h ? 200 : 503, h ? { 'k-network-hash': h } : {}).end();
        }, 20);
      });
      return port;
    };
    const ext = [await pod(), await pod()];
    const int = [await pod(), await pod()];
    const ready: string[] = [];
    const prober = new IngressProber({
      targets: () => [0, 1].map((i) => ({ ip: '127.0.0.1', externalPort: ext[i], internalPort: int[i] })),
      onReady: (k, h) => ready.push(`${k} ${h}`),
      initialDelayMs: 10,
      maxDelayMs: 50,
      maxInFlight: 3,
    });
    const spec = (hosts: string[]) => ({ rules: [{ hosts, visibility: 'ExternalIP' as const, http: { paths: [] } }, { hosts: ['x.ns.svc.cluster.local'], visibility: 'ClusterLocal' as const, http: { paths: [] } }] });
    prober.probe({ key: 'ns/x', namespace: 'ns', name: 'x', generation: 1, hash: 'h1', spec: spec(['a.example.com', 'b.example.com']) });
    await until(() => hits.length >= 12);
    prober.probe({ key: 'ns/x', namespace: 'ns', name: 'x', generation: 2, hash: 'h2', spec: spec(['a.example.com', 'b.example.com']) });
    for (const p of [...ext, ...int]) serving.set(p, 'h2');
    await until(() => ready.length > 0, 5000, 'ready');
    expect(ready).toEqual(['ns/x h2']); // h1 never completes
    expect(prober.isReady('ns/x', 'h2')).toBe(true);
    expect(prober.isReady('ns/x', 'h1')).toBe(false);
    expect(peak).toBeLessThanOrEqual(3);
    // ExternalIP hosts went to the external ports, the ClusterLocal host to the internal ones
    for (const h of hits) {
      const [port, host] = h.split(' ');
      expect(host.endsWith('svc.cluster.local') ? int : ext).toContain(Number(port));
    }
    prober.stop();
  });
});
