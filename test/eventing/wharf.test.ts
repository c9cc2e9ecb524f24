// Eventing inside the real runtime: manifest folder → ManifestSource → withEventing(compile) → router. The broker
// ingress host on the internal listener reaches the broker handler; a Trigger whose subscriber is a Knative
// Service is delivered THROUGH the internal listener (Host = its cluster-local name) to that Service's backend.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ManifestSource } from '../../src/sources/manifests/index.js';
import { compile } from '../../src/model/compile.js';
import { createBackends } from '../../src/backends/index.js';
import { Runtime } from '../../src/runtime.js';
import { Eventing } from '../../src/eventing/runtime.js';
import { attachEventing, withEventing } from '../../src/eventing/wire.js';
import { configMaps, tempDir, writeManifest } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';
import { startSink, type Sink } from './helpers.js';

let sink: Sink;
let runtime: Runtime;
let eventing: Eventing;
let internal: number;
let admin: number;

const manifests = (upstream: string): string => `${upstreamService({ name: 'display', upstream, image: 'test/display' })}---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: default
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: to-display
  namespace: default
spec:
  broker: default
  filter:
    attributes:
      type: demo.event
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: display
`;

beforeAll(async () => {
  sink = await startSink();
  const dir = tempDir();
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-data-'));
  writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false' } }));
  writeManifest(dir, 'eventing.yaml', manifests(sink.url.replace(/\/$/, '')));
  eventing = new Eventing({ dataDir, tickMs: 50 });
  let rt: Runtime | null = null;
  const source = new ManifestSource({ dir, dataDir, debounceMs: 50, onError: (p) => rt?.rejected(p) });
  rt = runtime = new Runtime({
    source,
    backends: createBackends({ dataDir, drainTimeoutMs: 2000 }),
    compile: withEventing(compile),
    external: { port: 0, host: '127.0.0.1' },
    internal: { port: 0, host: '127.0.0.1' },
    admin: { port: 0, host: '127.0.0.1' },
    drainDelayMs: 0,
    drainTimeoutMs: 2000,
  });
  attachEventing(runtime, eventing);
  await runtime.start();
  internal = runtime.addresses().internal!.port;
  admin = runtime.addresses().admin!.port;
  eventing.setInternalOrigin(`http://127.0.0.1:${internal}`);
  await eventing.start();
});

afterAll(async () => {
  await runtime?.stop();
  await eventing?.stop();
  await sink?.close();
});

describe('eventing in the runtime', () => {
  it('accepts on broker-ingress.knative-eventing.svc.cluster.local and delivers to a Knative Service via the internal listener', async () => {
    for (const host of ['broker-ingress.knative-eventing.svc.cluster.local', 'broker-ingress.knative-eventing']) {
      const r = await request(`http://127.0.0.1:${internal}/default/default`, {
        method: 'POST',
        headers: { host, 'ce-specversion': '1.0', 'ce-id': `w-${host}`, 'ce-source': '/t', 'ce-type': 'demo.event', 'content-type': 'text/plain' },
        body: 'hi',
      });
      await r.body.dump();
      expect(r.statusCode, host).toBe(202);
    }
    const got = await sink.waitFor(2);
    expect(got.map((g) => g.body.toString())).toEqual(['hi', 'hi']);
    expect(got[0]!.headers['kn-namespace']).toBe('default');
  });

  it('is not exposed on the external listener unless broker-external-host is set', async () => {
    const ext = runtime.addresses().external!.port;
    const r = await request(`http://127.0.0.1:${ext}/default/default`, {
      method: 'POST',
      headers: { host: 'broker-ingress.knative-eventing.svc.cluster.local', 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/t', 'ce-type': 'demo.event' },
    });
    await r.body.dump();
    expect(r.statusCode).toBe(404);
  });

  it('lists brokers and triggers with address and readiness in the snapshot statuses (wharf routes)', () => {
    const st = runtime.snapshot()!.statuses.filter((s) => /^(Broker|Trigger) /.test(s.object));
    expect(st).toEqual([
      { object: 'Broker default/default', ready: true, reason: undefined, url: 'http://broker-ingress.knative-eventing.svc.cluster.local/default/default' },
      { object: 'Trigger default/to-display', ready: true, reason: undefined, url: 'http://display.default.svc.cluster.local' },
    ]);
  });

  it('serves /debug/eventing on the admin listener', async () => {
    const r = await request(`http://127.0.0.1:${admin}/debug/eventing`);
    const body = (await r.body.json()) as { brokers: { broker: string; ready: boolean }[]; subscribers: { name: string; subscriber: string }[] };
    expect(body.brokers).toEqual([expect.objectContaining({ broker: 'default/default', ready: true })]);
    expect(body.subscribers[0]).toMatchObject({ name: 'default/to-display', subscriber: 'http://display.default.svc.cluster.local' });
  });
});
