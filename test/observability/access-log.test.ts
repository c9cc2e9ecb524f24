// The access log is serialized by a fixed template, not by pino's object walk: its lines must be byte-for-byte what
// pino itself writes for the same record, escapes and all.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { logAccess, type AccessEntry } from '../../src/observability/access-log.js';
import { configureLogger } from '../../src/observability/logger.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

const base: AccessEntry = {
  method: 'GET',
  authority: 'hello.default.example.com',
  path: '/a?b=c',
  protocol: 'HTTP/1.1',
  response_code: 200,
  response_flags: '-',
  bytes_received: 0,
  bytes_sent: 12,
  duration_ms: 0.734,
  upstream_host: 'http://127.0.0.1:8080',
  namespace: 'default',
  service: 'hello',
  revision: 'hello-00001',
  plane: 'external',
  request_id: '6f1c4a57-1b2e-4a1e-9a55-0b1f0f5c2d3e',
  x_forwarded_for: '10.0.0.1, 10.0.0.2',
  downstream_remote_address: '127.0.0.1',
  user_agent: 'curl/8.5.0',
};

const cases: [string, Partial<AccessEntry>][] = [
  ['a plain request', {}],
  ['quotes and backslashes', { path: '/"quoted"\\path', user_agent: 'a "b" \\ c' }],
  ['control characters', { path: '/tab\there\nnewline\u0001\u001f', user_agent: '\u0000' }],
  ['non-ASCII', { authority: 'bücher.example', path: '/\ud83d\ude00/ü' }],
  ['non-finite numbers', { duration_ms: Number.NaN, bytes_sent: Number.POSITIVE_INFINITY }],
  ['empty strings', { upstream_host: '', namespace: '', service: '', revision: '', request_id: '' }],
];

describe('access log line', () => {
  afterEach(() => configureLogger({ level: 'silent' }));

  it.each(cases)('matches what pino writes for %s', (_name, over) => {
    const entry = { ...base, ...over };
    const fixedTime = () => ',"time":"2026-11-21T00:00:00.000Z"';
    const ours = sink();
    configureLogger({ level: 'info', destination: ours.stream });
    // Same root options as configureLogger, but the time pinned, so the two lines can be compared whole.
    const reference = sink();
    const ref = pino({ level: 'info', base: { name: 'wharf' }, timestamp: fixedTime }, reference.stream).child({ component: 'access' });
    ref.info(entry);
    logAccess(entry);
    const ourLine = ours.text().replace(/,"time":"[^"]*"/, fixedTime());
    expect(ourLine).toBe(reference.text());
    expect(JSON.parse(ourLine)).toMatchObject({ level: 30, name: 'wharf', component: 'access', path: entry.path });
  });

  it('escapes lone surrogates, so the line stays valid UTF-8 and parses back to the same strings', () => {
    // pino writes short strings with lone surrogates raw (they turn into U+FFFD on the way out); JSON.stringify's
    // \udXXX escape keeps the value.
    const out = sink();
    configureLogger({ level: 'info', destination: out.stream });
    const entry = { ...base, path: '/\ud800x', user_agent: '\udfff' };
    logAccess(entry);
    expect(out.text()).toContain('"path":"/\\ud800x"');
    expect(JSON.parse(out.text())).toMatchObject({ path: entry.path, user_agent: entry.user_agent });
  });

  it('follows the logger level: nothing below info is written', () => {
    const out = sink();
    configureLogger({ level: 'warn', destination: out.stream });
    logAccess(base);
    expect(out.text()).toBe('');
    configureLogger({ level: 'debug', destination: out.stream });
    logAccess(base);
    expect(out.text().split('\n').filter(Boolean)).toHaveLength(1);
  });
});
