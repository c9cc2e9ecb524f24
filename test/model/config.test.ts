import { describe, it, expect } from 'vitest';
import { parseConfig, CONFIG_KEYS, defaultConfig } from '../../src/model/config.js';
import { parseGoDuration, parseSecondsOrDuration } from '../../src/model/duration.js';

describe('parseConfig defaults', () => {
  it('gives Knative defaults for an empty input', () => {
    const { config, problems } = parseConfig({});
    expect(problems).toEqual([]);
    expect(config.clusterDomain).toBe('cluster.local');
    expect(config.domains).toEqual([{ domain: 'svc.cluster.local', selector: {} }]);
    expect(config.network).toEqual({
      domainTemplate: '{{.Name}}.{{.Namespace}}.{{.Domain}}',
      tagTemplate: '{{.Tag}}-{{.Name}}',
      autocreateClusterDomainClaims: false,
      rolloutDurationSeconds: 0,
      httpProtocol: 'enabled',
      ingressClass: 'wharf.ingress.networking.knative.dev',
    });
    expect(config.features.tagHeaderBasedRouting).toBe(false);
    expect(config.defaults.revisionTimeoutSeconds).toBe(300);
    expect(config.defaults.containerConcurrency).toBe(0);
    expect(config.wharf).toEqual({ accessLog: true, drainTimeoutMs: 30_000, drainDelayMs: 1000 });
  });

  it('every documented key has a doc line and a default that parses cleanly', () => {
    const maps: Record<string, Record<string, string>> = {};
    for (const k of CONFIG_KEYS) {
      expect(k.doc.length).toBeGreaterThan(10);
      if (k.default !== '') (maps[k.configMap] ??= {})[k.key] = k.default;
    }
    const { config, problems } = parseConfig(maps);
    expect(problems).toEqual([]);
    expect(config.network).toEqual(defaultConfig().network);
  });
});

describe('parseConfig values', () => {
  const cases: { name: string; maps: Record<string, Record<string, string>>; check: (c: ReturnType<typeof parseConfig>['config']) => void }[] = [
    { name: 'config-domain default domain', maps: { 'config-domain': { 'example.com': '' } }, check: (c) => expect(c.domains).toEqual([{ domain: 'example.com', selector: {} }]) },
    {
      name: 'config-domain selector formats',
      maps: { 'config-domain': { 'example.com': '', 'prod.example.com': 'selector:\n  app: prod\n', 'legacy.example.com': 'team: a' } },
      check: (c) =>
        expect(c.domains).toEqual([
          { domain: 'example.com', selector: {} },
          { domain: 'legacy.example.com', selector: { team: 'a' } },
          { domain: 'prod.example.com', selector: { app: 'prod' } },
        ]),
    },
    { name: 'selector only → svc fallback added', maps: { 'config-domain': { 'a.com': 'selector:\n  x: y' } }, check: (c) => expect(c.domains.map((d) => d.domain)).toEqual(['a.com', 'svc.cluster.local']) },
    { name: 'cluster-domain feeds fallback', maps: { 'config-wharf': { 'cluster-domain': 'corp.internal' } }, check: (c) => expect(c.domains[0]!.domain).toBe('svc.corp.internal') },
    { name: 'rollout-duration seconds', maps: { 'config-network': { 'rollout-duration': '120' } }, check: (c) => expect(c.network.rolloutDurationSeconds).toBe(120) },
    { name: 'rollout-duration duration', maps: { 'config-network': { 'rollout-duration': '2m' } }, check: (c) => expect(c.network.rolloutDurationSeconds).toBe(120) },
    { name: 'http-protocol case-insensitive', maps: { 'config-network': { 'http-protocol': 'Redirected' } }, check: (c) => expect(c.network.httpProtocol).toBe('redirected') },
    { name: 'autocreate claims', maps: { 'config-network': { 'autocreate-cluster-domain-claims': 'true' } }, check: (c) => expect(c.network.autocreateClusterDomainClaims).toBe(true) },
    { name: 'legacy ingress.class', maps: { 'config-network': { 'ingress.class': 'x.y' } }, check: (c) => expect(c.network.ingressClass).toBe('x.y') },
    { name: 'tag header routing', maps: { 'config-features': { 'tag-header-based-routing': 'Enabled' } }, check: (c) => expect(c.features.tagHeaderBasedRouting).toBe(true) },
    { name: 'defaults', maps: { 'config-defaults': { 'revision-timeout-seconds': '60', 'container-concurrency': '10' } }, check: (c) => expect(c.defaults).toMatchObject({ revisionTimeoutSeconds: 60, containerConcurrency: 10 }) },
    { name: 'wharf knobs', maps: { 'config-wharf': { 'access-log': 'false', 'drain-timeout': '5', 'drain-delay': '250ms' } }, check: (c) => expect(c.wharf).toEqual({ accessLog: false, drainTimeoutMs: 5000, drainDelayMs: 250 }) },
    { name: 'custom templates', maps: { 'config-network': { 'domain-template': '{{.Name}}-{{.Namespace}}.{{.Domain}}', 'tag-template': '{{.Name}}-{{.Tag}}' } }, check: (c) => expect(c.network.tagTemplate).toBe('{{.Name}}-{{.Tag}}') },
    { name: 'raw kept', maps: { 'config-autoscaler': { 'stable-window': '60s' } }, check: (c) => expect(c.raw['config-autoscaler']).toEqual({ 'stable-window': '60s' }) },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const { config, problems } = parseConfig(tc.maps);
      expect(problems).toEqual([]);
      tc.check(config);
    });
  }
});

describe('parseConfig problems', () => {
  const cases: { name: string; maps: Record<string, Record<string, string>>; extra?: Record<string, string[]>; want: { severity: string; object: string; field: string }[] }[] = [
    { name: 'unknown network key warns', maps: { 'config-network': { 'domian-template': 'x' } }, want: [{ severity: 'warning', object: 'ConfigMap config-network', field: 'data.domian-template' }] },
    { name: 'unknown wharf key warns', maps: { 'config-wharf': { nope: '1' } }, want: [{ severity: 'warning', object: 'ConfigMap config-wharf', field: 'data.nope' }] },
    { name: '_example ignored', maps: { 'config-network': { _example: '...' } }, want: [] },
    { name: 'autoscaler keys known', maps: { 'config-autoscaler': { 'stable-window': '60s', bogus: '1' } }, want: [{ severity: 'warning', object: 'ConfigMap config-autoscaler', field: 'data.bogus' }] },
    { name: 'knownExtraKeys silences', maps: { 'config-network': { 'external-domain-tls': 'Enabled' } }, extra: { 'config-network': ['external-domain-tls'] }, want: [] },
    { name: 'knownExtraKeys adds a checked map', maps: { 'config-kourier': { x: '1', 'ok-key': '2' } }, extra: { 'config-kourier': ['ok-key'] }, want: [{ severity: 'warning', object: 'ConfigMap config-kourier', field: 'data.x' }] },
    { name: 'bad bool', maps: { 'config-network': { 'autocreate-cluster-domain-claims': 'yes' } }, want: [{ severity: 'error', object: 'ConfigMap config-network', field: 'data.autocreate-cluster-domain-claims' }] },
    { name: 'bad http-protocol', maps: { 'config-network': { 'http-protocol': 'sometimes' } }, want: [{ severity: 'error', object: 'ConfigMap config-network', field: 'data.http-protocol' }] },
    { name: 'bad rollout', maps: { 'config-network': { 'rollout-duration': '-5' } }, want: [{ severity: 'error', object: 'ConfigMap config-network', field: 'data.rollout-duration' }] },
    { name: 'template with unknown field', maps: { 'config-network': { 'domain-template': '{{.Tag}}.{{.Domain}}' } }, want: [{ severity: 'error', object: 'ConfigMap config-network', field: 'data.domain-template' }] },
    { name: 'template with path', maps: { 'config-network': { 'domain-template': '{{.Name}}.{{.Domain}}/x' } }, want: [{ severity: 'error', object: 'ConfigMap config-network', field: 'data.domain-template' }] },
    { name: 'template unclosed', maps: { 'config-network': { 'tag-template': '{{.Tag' } }, want: [{ severity: 'error', object: 'ConfigMap config-network', field: 'data.tag-template' }] },
    { name: 'bad int', maps: { 'config-defaults': { 'container-concurrency': '-1' } }, want: [{ severity: 'error', object: 'ConfigMap config-defaults', field: 'data.container-concurrency' }] },
    { name: 'bad domain', maps: { 'config-domain': { 'Not A Domain': '' } }, want: [{ severity: 'error', object: 'ConfigMap config-domain', field: 'data.Not A Domain' }] },
    { name: 'bad selector', maps: { 'config-domain': { 'a.com': 'selector: [1, 2]' } }, want: [{ severity: 'error', object: 'ConfigMap config-domain', field: 'data.a.com' }] },
    { name: 'bad feature flag', maps: { 'config-features': { 'tag-header-based-routing': 'on' } }, want: [{ severity: 'error', object: 'ConfigMap config-features', field: 'data.tag-header-based-routing' }] },
    { name: 'bad cluster-domain', maps: { 'config-wharf': { 'cluster-domain': 'a b' } }, want: [{ severity: 'error', object: 'ConfigMap config-wharf', field: 'data.cluster-domain' }] },
    { name: 'bad drain', maps: { 'config-wharf': { 'drain-timeout': 'soon' } }, want: [{ severity: 'error', object: 'ConfigMap config-wharf', field: 'data.drain-timeout' }] },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const { config, problems } = parseConfig(tc.maps, tc.extra);
      expect(problems.map((p) => ({ severity: p.severity, object: p.object, field: p.field }))).toEqual(tc.want);
      expect(config.network.domainTemplate).toContain('{{'); // bad values fall back to defaults
    });
  }
});

describe('durations', () => {
  it.each([
    ['300ms', 300], ['1m30s', 90_000], ['2h', 7_200_000], ['0', 0], ['1.5s', 1500], ['', null], ['5', null], ['5x', null],
  ])('parseGoDuration(%j) = %j', (s, want) => expect(parseGoDuration(s)).toBe(want));
  it.each([
    ['30', 30], ['30s', 30], ['1m', 60], ['abc', null],
  ])('parseSecondsOrDuration(%j) = %j', (s, want) => expect(parseSecondsOrDuration(s)).toBe(want));
});

describe('registerConfigKeys', () => {
  it('registered keys are known to parseConfig and listed once', async () => {
    const { registerConfigKeys } = await import('../../src/model/config.js');
    const maps = { 'config-wharf': { 'test-only-key': 'x' } };
    expect(parseConfig(maps).problems).toHaveLength(1);
    registerConfigKeys([{ configMap: 'config-wharf', key: 'test-only-key', default: '', doc: 'a key for this test only' }]);
    registerConfigKeys([{ configMap: 'config-wharf', key: 'test-only-key', default: 'y', doc: 'a key for this test only' }]);
    expect(parseConfig(maps).problems).toEqual([]);
    expect(CONFIG_KEYS.filter((k) => k.key === 'test-only-key')).toEqual([{ configMap: 'config-wharf', key: 'test-only-key', default: 'y', doc: 'a key for this test only' }]);
  });
});

describe('configKeysMarkdown', () => {
  it('lists every key with its default', async () => {
    const { configKeysMarkdown } = await import('../../src/model/config.js');
    const md = configKeysMarkdown();
    expect(md).toContain('| config-network | `domain-template` | `{{.Name}}.{{.Namespace}}.{{.Domain}}` |');
    expect(md).toContain('| config-wharf | `drain-timeout` | `30s` |');
    expect(md.split('\n').length).toBe(CONFIG_KEYS.length + 2);
  });
});
