// The conf/ eventing demo compiles cleanly, and its event-display app logs the CloudEvents it receives.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/model/config.js';
import { compileEventing } from '../../src/model/eventing.js';
import type { KObject } from '../../src/model/objects.js';
import { sleep } from './helpers.js';

const conf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../conf');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('conf eventing demo', () => {
  it('compiles: one broker, two triggers with different filters to two event-display services, two ping sources', () => {
    const objects: KObject[] = [];
    for (const f of fs.readdirSync(path.join(conf, 'eventing'))) {
      for (const d of parseAllDocuments(fs.readFileSync(path.join(conf, 'eventing', f), 'utf8'))) objects.push(d.toJS() as KObject);
    }
    const eventingKinds = new Set(['Broker', 'Trigger', 'PingSource']);
    const { model, problems } = compileEventing(objects.filter((o) => eventingKinds.has(o.kind)), parseConfig({}).config);
    expect(problems).toEqual([]);
    expect([...model.brokers.keys()]).toEqual(['default/default']);
    expect(model.subscribers.map((s) => [s.name, s.subscriber!.url, s.ready])).toEqual([
      ['alerts-only', 'http://event-display-alerts.default.svc.cluster.local', true],
      ['all-pings', 'http://event-display-all.default.svc.cluster.local', true],
    ]);
    expect(model.pings.map((p) => [p.name, p.ready])).toEqual([
      ['alerts', true],
      ['heartbeat', true],
    ]);
    const services = objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name);
    expect(services.sort()).toEqual(['event-display-alerts', 'event-display-all']);
  });

  it('event-display logs a binary and a structured event and answers 202', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['apps/event-display.js'], { cwd: conf, env: { ...process.env, PORT: String(port), DISPLAY_NAME: 'test-display' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 100; i++) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        if (ok) break;
        await sleep(50);
      }
      const r1 = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': 'd1', 'ce-source': '/demo', 'ce-type': 'demo.binary', 'content-type': 'text/plain' },
        body: 'hello binary',
      });
      expect(r1.status).toBe(202);
      const r2 = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: JSON.stringify({ specversion: '1.0', id: 'd2', source: '/demo', type: 'demo.structured', data: { x: 1 } }),
      });
      expect(r2.status).toBe(202);
      for (let i = 0; i < 50 && !out.includes('demo.structured'); i++) await sleep(20);
      expect(out).toContain('test-display: cloudevents.Event (binary mode)');
      expect(out).toContain('type=demo.binary');
      expect(out).toContain('data=hello binary');
      expect(out).toContain('type=demo.structured');
      expect(out).toContain('data={"x":1}');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
