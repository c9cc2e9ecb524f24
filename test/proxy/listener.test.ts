import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, startBackend, get, type Backend } from '../support/http.js';
import { fixtureSnapshot } from '../support/snapshot.js';
import { startWharfWith, type TestWharf } from '../support/wharf.js';

let be: Backend;
let w: TestWharf;

beforeAll(async () => {
  be = await startBackend('a');
  w = await startWharfWith(
    fixtureSnapshot({
      hosts: [{ hosts: ['hello.example.com'], routes: [{ splits: [{ backend: 'a', percent: 100 }] }] }],
      backends: [{ key: 'a', urls: [be.origin] }],
      config: { accessLog: false },
    }),
  );
});

afterAll(async () => {
  await w?.stop();
  await be?.close();
});

describe('hostile or broken requests get a 4xx and the process keeps serving', () => {
  it('malformed request line → 400', async () => {
    for (const line of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\nHost: hello.example.com\r\n\r\n', 'GET  /  HTTP/1.1 extra\r\n\r\n', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03']) {
      const r = await raw(w.external, line);
      expect(r.status, JSON.stringify(line)).toBe(400);
      expect(r.text).toMatch(/Connection: close/i);
    }
  });

  it('Content-Length together with Transfer-Encoding → 400', async () => {
    const r = await raw(
      w.external,
      'POST / HTTP/1.1\r\nHost: hello.example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    expect(r.status).toBe(400);
    expect(be.seen.length).toBe(0);
  });

  it('oversized headers → 431', async () => {
    const big = 'x'.repeat(20 * 1024);
    const r = await raw(w.external, `GET / HTTP/1.1\r\nHost: hello.example.com\r\nX-Big: ${big}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(r.text).toMatch(/Request Header Fields Too Large/);
  });

  it('invalid header characters → 400', async () => {
    const r = await raw(w.external, 'GET / HTTP/1.1\r\nHost: hello.example.com\r\nBad Header: x\r\n\r\n');
    expect(r.status).toBe(400);
  });

  it('a connection reset mid-request is ignored quietly', async () => {
    const net = await import('node:net');
    const s = net.connect(w.external, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write('GET / HTTP/1.1\r\nHost: hello.exa');
    s.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
  });

  it('still serves normal requests afterwards', async () => {
    const r = await get(w.external, 'hello.example.com');
    expect(r.status).toBe(200);
  });
});
