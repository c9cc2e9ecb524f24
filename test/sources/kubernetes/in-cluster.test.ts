// The service-account path a pod uses: KubeConfig.loadFromCluster (KUBERNETES_SERVICE_HOST/PORT, the mounted CA and
// token), over TLS with bearer-token auth, against the fake API server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Desired } from '../../../src/model/desired.js';
import { KubernetesSource } from '../../../src/sources/kubernetes/kubernetes-source.js';
import { KubeClient } from '../../../src/sources/kubernetes/client.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { kingress, simpleSpec, until } from '../../support/k8s-fixtures.js';
import { makeCa } from '../../support/tls-certs.js';

let api: FakeApiServer;
let prefix: string;
const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };

beforeAll(async () => {
  const ca = await makeCa('fake cluster CA');
  const serving = await ca.issue({ names: ['kubernetes.default.svc'], ips: ['127.0.0.1'] });
  api = await startFakeApiServer({ tls: serving, token: 'sa-token' });
  prefix = mkdtempSync(join(tmpdir(), 'wharf-sa-'));
  const dir = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ca.crt'), ca.cert);
  writeFileSync(join(dir, 'token'), 'sa-token');
  writeFileSync(join(dir, 'namespace'), 'wharf-system');
  process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
  process.env.KUBERNETES_SERVICE_PORT = String(api.listenPort);
});
afterAll(async () => {
  process.env.KUBERNETES_SERVICE_HOST = saved.host;
  process.env.KUBERNETES_SERVICE_PORT = saved.port;
  if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
  if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
  await api?.close();
  if (prefix) rmSync(prefix, { recursive: true, force: true });
});

describe('in-cluster config', () => {
  it('lists and watches over TLS with the service account token', async () => {
    api.create(kingress('ns', 'a', simpleSpec('ns', 'a.example.com', 'svc')));
    const kc = new KubeConfig();
    kc.loadFromCluster(prefix);
    const got: Desired[] = [];
    const source = new KubernetesSource({ kubeConfig: kc, debounceMs: 10 });
    try {
      await source.start((d) => got.push(d));
      expect(got.at(-1)!.ingresses.map((i) => i.metadata.name)).toEqual(['a']);
      api.create(kingress('ns', 'b', simpleSpec('ns', 'b.example.com', 'svc')));
      await until(() => got.at(-1)!.ingresses.length === 2, 5000, 'watch over TLS');
    } finally {
      await source.stop();
    }
  });

  it('is refused without the token, and a wrong CA fails the TLS handshake', async () => {
    const noToken = new KubeConfig();
    noToken.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, caFile: join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount/ca.crt') }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await expect(new KubeClient(noToken).list({ group: '', version: 'v1', plural: 'services' })).rejects.toMatchObject({ statusCode: 401 });
    const otherCa = await makeCa('someone else');
    const wrongCa = new KubeConfig();
    wrongCa.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, caData: Buffer.from(otherCa.cert).toString('base64') }],
      users: [{ name: 'u', token: 'sa-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await expect(new KubeClient(wrongCa).list({ group: '', version: 'v1', plural: 'services' })).rejects.toThrow(/certificate/i);
  });
});
