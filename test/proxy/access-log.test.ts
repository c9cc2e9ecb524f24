import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, get, deadPort, type Backend } from '../support/http.js';
import { fixtureSnapshot } from '../support/snapshot.js';
import { startWharfWith, type TestWharf } from '../support/wharf.js';
import { captureLogs } from '../support/log-capture.js';

let lines: Record<string, unknown>[] = [];
let be: Backend;
let w: TestWharf & { source: import('../support/wharf.js').PushSource };
let accessLog = true;

beforeAll(async () => {
  lines = captureLogs();
  be = await startBackend('a');
  const dead = await deadPort();
  w = await startWharfWith(() =>
    fixtureSnapshot({
      hosts: [
        { hosts: ['hello.example.com'], routes: [{ splits: [{ backend: 'a', percent: 100 }] }] },
        { hosts: ['dead.example.com'], routes: [{ splits: [{ backend: 'dead', percent: 100 }] }] },
      ],
      backends: [
        { key: 'a', urls: [be.origin], namespace: 'default', service: 'hello', revision: 'hello-00001' },
        { key: 'dead', urls: [`http://127.0.0.1:${dead}`], namespace: 'default', service: 'dead', revision: 'dead-00001' },
      ],
      config: { accessLog },
    }),
  );
});

afterAll(async () => {
  await w?.stop();
  await be?.close();
});

const access = () => lines.filter((l) => l.component === 'access');

describe('access log', () => {
  it('writes one JSON line per request with Envoy-like fields', async () => {
    const before = access().length;
    await get(w.external, 'hello.example.com', '/path?q=1', {
      headers: { 'x-request-id': 'rid-1', 'user-agent': 'tester/1', 'x-forwarded-for': '198.51.100.1' },
      method: 'POST',
      body: 'hello',
    });
    await expect.poll(() => access().length).toBe(before + 1);
    const l = access().at(-1)!;
    expect(l).toMatchObject({
      method: 'POST',
      authority: 'hello.example.com',
      path: '/path?q=1',
      protocol: 'HTTP/1.1',
      response_code: 200,
      response_flags: '-',
      bytes_received: 5,
      namespace: 'default',
      service: 'hello',
      revision: 'hello-00001',
      plane: 'external',
      request_id: 'rid-1',
      x_forwarded_for: '198.51.100.1',
      user_agent: 'tester/1',
      upstream_host: be.origin,
    });
    expect(l.bytes_sent).toBeGreaterThan(0);
    expect(typeof l.duration_ms).toBe('number');
  });

  it('flags no-route and upstream failures, and counts upstream errors', async () => {
    await get(w.external, 'nope.example.com');
    await get(w.external, 'dead.example.com');
    await expect.poll(() => access().filter((l) => l.response_flags === 'NR' || l.response_flags === 'UF').length).toBe(2);
    expect(access().find((l) => l.response_flags === 'NR')).toMatchObject({ response_code: 404, authority: 'nope.example.com' });
    expect(access().find((l) => l.response_flags === 'UF')).toMatchObject({ response_code: 502, revision: 'dead-00001' });
    const m = (await get(w.admin, 'localhost', '/metrics')).body;
    expect(m).toMatch(/wharf_upstream_errors_total\{namespace="default",service="dead",revision="dead-00001",kind="connect"\} 1/);
  });

  it('can be switched off in config-wharf', async () => {
    accessLog = false;
    w.source.push();
    const before = access().length;
    await get(w.external, 'hello.example.com');
    await new Promise((r) => setTimeout(r, 100));
    expect(access().length).toBe(before);
  });
});
