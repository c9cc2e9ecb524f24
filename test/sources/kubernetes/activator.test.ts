// Cluster activator role: a split that carries Knative-Serving-Revision/-Namespace goes straight to the revision's
// private endpoints (`<rev>-private`), with the queue-proxy probe; at zero pods requests are buffered and released
// as soon as an endpoint appears in the EndpointSlice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { decodeWireStatMessages, type WireStatMessage } from '../../../src/scaling/stat-proto.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { endpointSlice, kingress, revision, service, until } from '../../support/k8s-fixtures.js';
import { EchoBackend, get, startClusterWharf, waitReady, type ClusterWharf } from '../../support/k8s-wharf.js';

const NS = 'default';
let api: FakeApiServer;
let wharf: ClusterWharf;
let pod: EchoBackend;
const seen: Record<string, string | undefined>[] = [];
/** Knative's autoscaler stat server stand-in: every binary frame decoded. */
let statServer: WebSocketServer;
const frames: WireStatMessage[][] = [];

beforeAll(async () => {
  api = await startFakeApiServer();
  // The "pod": a queue-proxy stand-in that answers the activator's readiness probe and serves requests.
  pod = await new EchoBackend('hello-00001', (req, res) => {
    if (req.headers['k-network-probe'] === 'queue') {
      res.writeHead(200).end('queue');
      return true;
    }
    seen.push({ proxy: req.headers['k-proxy-request'] as string | undefined, rev: req.headers['knative-serving-revision'] as string | undefined });
    return false;
  }).start();
  statServer = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => statServer.once('listening', () => r()));
  statServer.on('connection', (ws) => ws.on('message', (data, isBinary) => isBinary && frames.push(decodeWireStatMessages(new Uint8Array(data as Buffer)))));
  const statUrl = `ws://127.0.0.1:${(statServer.address() as AddressInfo).port}`;
  wharf = await startClusterWharf(api, { backends: () => ({ autoscalerUrl: statUrl, podName: 'wharf-0', autoscale: false, statIntervalMs: 100 }) });
});
afterAll(async () => {
  await wharf?.stop();
  statServer?.close();
  pod?.close();
  await api?.close();
});

describe('revision routing in cluster mode', () => {
  it('buffers at zero and releases the request when a private endpoint appears', async () => {
    api.create(revision(NS, 'hello-00001', { containerConcurrency: 1, timeoutSeconds: 30 }));
    // Serving's public revision Service (selector-less; its endpoints would point at the activator) ...
    api.create(service(NS, 'hello-00001', [{ name: 'http', port: 80, targetPort: 8012 }], { labels: { 'serving.knative.dev/revision': 'hello-00001' } }));
    // ... and the private one, with no ready pod yet.
    api.create(service(NS, 'hello-00001-private', [{ name: 'http', port: 80, targetPort: 8012 }]));
    api.create(endpointSlice(NS, 'hello-00001-private', 'hello-00001-private-x', [], [{ name: 'http', port: pod.port }]));
    api.create(
      kingress(NS, 'hello', {
        rules: [
          {
            hosts: ['hello.default.example.com'],
            http: { paths: [{ splits: [{ serviceNamespace: NS, serviceName: 'hello-00001', servicePort: 80, percent: 100, appendHeaders: { 'Knative-Serving-Revision': 'hello-00001', 'Knative-Serving-Namespace': NS } }] }] },
          },
        ],
      }),
    );
    await waitReady(api, NS, 'hello');
    let done = false;
    const pending = get(wharf.external, 'hello.default.example.com').then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 400));
    expect(done).toBe(false); // buffered: no pod yet
    expect(pod.requests).toBe(0);
    // The pod comes up: its address appears in the private EndpointSlice.
    api.update(endpointSlice(NS, 'hello-00001-private', 'hello-00001-private-x', [{ ip: '127.0.0.1' }], [{ name: 'http', port: pod.port }]));
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.json.backend).toBe('hello-00001');
    await until(() => seen.length > 0);
    expect(seen[0]).toEqual({ proxy: 'activator', rev: 'hello-00001' }); // every forwarded request says it came through the activator
  });

  it('streams the revision\'s stats to the autoscaler under the gateway pod\'s name', async () => {
    await until(() => frames.some((f) => f.some((m) => m.name === 'hello-00001' && m.stat.requestCount > 0)), 5000, 'a stat frame with the request');
    const m = frames.flat().find((x) => x.name === 'hello-00001' && x.stat.requestCount > 0)!;
    expect(m.namespace).toBe(NS);
    expect(m.stat.podName).toBe('wharf-0');
    // Knative's activator reports concurrency and request counts (queue-proxy reports the proxied ones).
    expect(m.stat.requestCount).toBeGreaterThanOrEqual(1);
  });
});
