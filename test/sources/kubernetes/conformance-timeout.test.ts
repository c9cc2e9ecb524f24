// Knative conformance `timeout`, on its own so its 10 s waits run next to the other scenarios: wharf has no route
// timeout, so a backend that waits 10 s before its headers, or between headers and body, still answers 200.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { kingress, simpleSpec } from '../../support/k8s-fixtures.js';
import { EchoBackend, exposeBackend, get, startClusterWharf, waitReady, type ClusterWharf } from '../../support/k8s-wharf.js';

const NS = 'serving-tests';
let api: FakeApiServer;
let wharf: ClusterWharf;
let slow: EchoBackend;

beforeAll(async () => {
  api = await startFakeApiServer();
  wharf = await startClusterWharf(api);
  slow = await new EchoBackend('slow', (req, res) => {
    if (req.url === '/before') {
      setTimeout(() => res.writeHead(200).end('late'), 10_000);
      return true;
    }
    if (req.url === '/between') {
      res.writeHead(200);
      res.flushHeaders();
      setTimeout(() => res.end('late body'), 10_000);
      return true;
    }
    return false;
  }).start();
  exposeBackend(api, NS, 'slow', slow);
});
afterAll(async () => {
  await wharf?.stop();
  slow?.close();
  await api?.close();
});

describe('ingress conformance (cluster mode)', () => {
  it('timeout (10 s before headers, or between headers and body, still succeeds)', async () => {
    api.create(kingress(NS, 'slow', { ...simpleSpec(NS, 'slow.example.com', 'slow'), httpOption: 'Enabled' }));
    await waitReady(api, NS, 'slow');
    const [a, b, c] = await Promise.all([get(wharf.external, 'slow.example.com', '/'), get(wharf.external, 'slow.example.com', '/before'), get(wharf.external, 'slow.example.com', '/between')]);
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect([b.body, c.body]).toEqual(['late', 'late body']);
  }, 30_000);
});
