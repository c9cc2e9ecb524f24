// DomainMapping end to end: a claimed domain routes to the Service; a domain whose ClusterDomainClaim belongs to
// another namespace is not served, and the reason is shown (status, `wharf routes`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, get, echoed, type Backend } from '../support/http.js';
import { startWharfFolder, writeManifest, tempDir, configMaps, type TestWharf } from '../support/wharf.js';
import { upstreamService, domainMapping, domainClaim } from '../support/manifests.js';
import { routesTable } from '../../src/admin/routes-view.js';

let app: Backend;
let w: TestWharf;

beforeAll(async () => {
  app = await startBackend('app');
  const dir = tempDir();
  writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false' } }));
  writeManifest(
    dir,
    'apps.yaml',
    [
      upstreamService({ name: 'app', namespace: 'default', upstream: app.origin }),
      upstreamService({ name: 'app', namespace: 'other', upstream: app.origin }),
      domainClaim('app.example.org', 'default'),
      domainMapping({ domain: 'app.example.org', namespace: 'default', service: 'app' }),
      // Claimed by "default", mapped from "other": DomainClaimNotOwned.
      domainClaim('taken.example.org', 'default'),
      domainMapping({ domain: 'taken.example.org', namespace: 'other', service: 'app' }),
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
