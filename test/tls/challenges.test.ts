import { describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChallengeResponder, isAcmeChallengePath } from '../../src/tls/acme/challenges.js';
import { parseTlsSettings, TLS_CONFIG_KEYS } from '../../src/tls/config.js';

describe('ChallengeResponder', () => {
  it('answers pending HTTP-01 tokens over a real HTTP listener and leaves every other path to routing', async () => {
    const r = new ChallengeResponder();
    r.addHttp('tok1', 'tok1.thumb');
    const server = http.createServer((req, res) => {
      if (r.handle(req, res)) return;
      res.writeHead(418).end('routed');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return [res.status, await res.text()] as const;
    };
    try {
      expect(await get('/.well-known/acme-challenge/tok1')).toEqual([200, 'tok1.thumb']);
      expect(await get('/.well-known/acme-challenge/tok1?x=1')).toEqual([200, 'tok1.thumb']);
      expect(await get('/.well-known/acme-challenge/other')).toEqual([418, 'routed']);
      expect(await get('/tok1')).toEqual([418, 'routed']);
      r.removeHttp('tok1');
      expect(await get('/.well-known/acme-challenge/tok1')).toEqual([418, 'routed']);
    } finally {
      server.close();
    }
  });

  it('marks every challenge path (pending or not) so the HTTPS redirect can skip it', () => {
    expect(isAcmeChallengePath('/.well-known/acme-challenge/abc')).toBe(true);
    expect(isAcmeChallengePath('/.well-known/other')).toBe(false);
    expect(isAcmeChallengePath(undefined)).toBe(false);
  });
});

describe('parseTlsSettings', () => {
  it('reads every documented key', () => {
    const { settings, problems } = parseTlsSettings({
      'default-certificate': 'ns/default',
      'tls-min-version': '1.3',
      'tls-cipher-suites': 'ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256',
      'auto-tls': 'true',
      'acme-directory-url': 'https://acme.example/dir',
      'acme-email': 'ops@example.com',
      'acme-ca-root': '/etc/ca.pem',
      'acme-challenge-types': 'tls-alpn-01,http-01',
      'acme-issuance': 'on-demand',
      'acme-on-demand-per-minute': '5',
      'acme-on-demand-per-domain-per-hour': '7',
      'acme-negative-cache': '90s',
    });
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      defaultCertificate: 'ns/default',
      minVersion: 'TLSv1.3',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
      acme: {
        enabled: true,
        directoryUrl: 'https://acme.example/dir',
        email: 'ops@example.com',
        caRootFile: '/etc/ca.pem',
        challenges: ['tls-alpn-01', 'http-01'],
        issuance: 'on-demand',
        onDemandPerMinute: 5,
        onDemandPerDomainPerHour: 7,
        negativeCacheMs: 90_000,
      },
    });
    expect(TLS_CONFIG_KEYS.map((k) => k.key).sort()).toEqual(
      ['default-certificate', 'tls-min-version', 'tls-cipher-suites', 'auto-tls', 'acme-directory-url', 'acme-email', 'acme-ca-root', 'acme-challenge-types', 'acme-issuance', 'acme-on-demand-per-minute', 'acme-on-demand-per-domain-per-hour', 'acme-negative-cache'].sort(),
    );
  });

  it('reports bad values by key and falls back to safe defaults', () => {
    const { settings, problems } = parseTlsSettings({ 'auto-tls': 'yes', 'acme-challenge-types': 'dns-01', 'acme-negative-cache': 'soon', 'default-certificate': 'nons' });
    expect(problems.map((p) => p.field)).toEqual(['data.default-certificate', 'data.acme-challenge-types', 'data.acme-negative-cache', 'data.auto-tls']);
    expect(settings.acme.enabled).toBe(false);
    expect(settings.acme.challenges).toEqual(['http-01']);
    expect(settings.defaultCertificate).toBeNull();
    // auto-tls is read like every other config-wharf boolean.
    expect(parseTlsSettings({ 'auto-tls': 'TRUE' }).settings.acme.enabled).toBe(true);
    expect(parseTlsSettings({ 'auto-tls': '1' }).settings.acme.enabled).toBe(true);
  });
});
