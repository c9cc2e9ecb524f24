// DomainMapping end to end: a claimed domain routes to the Service; a domain whose ClusterDomainClaim belongs to
// another namespace is not served, and the reason is shown (status, `wharf routes`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, get, echoed, type Backend } from '../support/http.js';
import { startWharfFolder, writeManifest, tempDir, configMaps, type TestWharf } from '../support/wharf.js';
import { routesTable } from '../../src/admin/routes-view.js';

let app: Backend;
let w: TestWharf;

const service = (ns: string, upstream: string) => `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: app
  namespace: ${ns}
spec:
  template:
    metadata:
      annotations:
        wharf.dev/upstream: ${upstream}
    spec:
      containers:
        - image: test/app
`;

const mapping = (domain: string, ns: string) => `apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: ${domain}
  namespace: ${ns}
spec:
  ref:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: app
`;

const claim = (domain: string, ns: string) => `apiVersion: networking.internal.knative.dev/v1alpha1
kind: ClusterDomainClaim
metadata:
  name: ${domain}
spec:
  namespace: ${ns}
`;

beforeAll(async () => {
  app = await startBackend('app');
  const dir = tempDir();
  writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false' } }));
  writeManifest(
    dir,
    'apps.yaml',
    [
      service('default', app.origin),
      service('other', app.origin),
      claim('app.example.org', 'default'),
      mapping('app.example.org', 'default'),
      // Claimed by "default", mapped from "other": DomainClaimNotOwned.
      claim('taken.example.org', 'default'),
      mapping('taken.example.org', 'other'),
    ].join('---\n'),
  );
  w = await startWharfFolder(dir);
});

afterAll(async () => {
  await w?.stop();
  await app?.close();
});

describe('DomainMapping', () => {
  it('serves the mapped domain from the referenced Service, on every spelling', async () => {
    for (const h of ['app.example.org', 'APP.example.org', 'app.example.org.', 'app.example.org:8080']) {
      const r = await get(w.external, h);
      expect(r.status, h).toBe(200);
      expect(echoed(r).backend).toBe('app');
    }
  });

  it('does not serve a domain whose claim belongs to another namespace, and says why', async () => {
    const r = await get(w.external, 'taken.example.org');
    expect(r.status).toBe(404);
    const snap = w.runtime.snapshot()!;
    const st = snap.statuses.find((s) => s.object.includes('taken.example.org'));
    expect(st?.ready).toBe(false);
    expect(st?.reason).toBe('DomainClaimNotOwned');
    const table = routesTable(snap);
    expect(table).toMatch(/NOT SERVED[\s\S]*taken\.example\.org: DomainClaimNotOwned/);
    expect(table).toMatch(/app\.example\.org\s+external\+internal/);
  });
});
