import { describe, it, expect } from 'vitest';
import { normalizeHost, expandedHosts, selectDomain, hostnameForTag, domainFromTemplate, isFullyQualifiedDomainName } from '../../src/model/hosts.js';
import { parseConfig } from '../../src/model/config.js';
import { parseTemplate, renderTemplate, TemplateError } from '../../src/model/gotemplate.js';

describe('normalizeHost', () => {
  it.each([
    ['hello.default.example.com', 'hello.default.example.com'],
    ['Hello.Default.Example.COM', 'hello.default.example.com'],
    ['hello.default.example.com:8080', 'hello.default.example.com'],
    ['hello.default.example.com.', 'hello.default.example.com'],
    ['HELLO.default.example.com.:80', 'hello.default.example.com'],
    ['localhost', 'localhost'],
    ['127.0.0.1:8080', '127.0.0.1'],
    ['[::1]:8080', '::1'],
    ['[::1]', '::1'],
    ['[FE80::1%25eth0]', 'fe80::1%25eth0'],
    ['a_b.example.com', 'a_b.example.com'],
    ['host:', 'host'],
    ['', null],
    [':80', null],
    ['.', null],
    ['host:abc', null],
    ['ho st', null],
    ['host/path', null],
    ['user@host', null],
    ['[::1', null],
    ['[]', null],
    ['[::1]x', null],
    ['a:b:c', null],
    ['hé.com', null],
  ])('%j → %j', (raw, want) => expect(normalizeHost(raw)).toBe(want));

  it('returns the same string when already normal (no allocation needed)', () => {
    const s = 'abc.def';
    expect(normalizeHost(s)).toBe(s);
  });
});

describe('expandedHosts', () => {
  it.each([
    [['hello.default.svc.cluster.local'], 'cluster.local', ['hello.default', 'hello.default.svc', 'hello.default.svc.cluster.local']],
    [['a.ns.svc.corp.internal'], 'corp.internal', ['a.ns', 'a.ns.svc', 'a.ns.svc.corp.internal']],
    [['hello.default.example.com'], 'cluster.local', ['hello.default.example.com']],
    [['x.10.svc.cluster.local'], 'cluster.local', ['x.10.svc', 'x.10.svc.cluster.local']],
    [['svc.cluster.local'], 'cluster.local', ['svc', 'svc.cluster.local']],
  ])('%j (%s)', (hosts, cd, want) => expect(expandedHosts(hosts, cd)).toEqual(want));
});

describe('selectDomain', () => {
  const { config } = parseConfig({
    'config-domain': { 'example.com': '', 'prod.example.com': 'selector:\n  app: prod', 'prodteam.example.com': 'selector:\n  app: prod\n  team: a', 'aaa.example.com': 'selector:\n  app: prod' },
  });
  it.each([
    [{}, 'example.com'],
    [{ app: 'prod' }, 'aaa.example.com'], // tie on specificity → lexically smaller domain
    [{ app: 'prod', team: 'a' }, 'prodteam.example.com'],
    [{ app: 'dev' }, 'example.com'],
    [{ 'networking.knative.dev/visibility': 'cluster-local' }, 'svc.cluster.local'],
  ])('%j → %s', (labels, want) => expect(selectDomain(config, labels)).toBe(want));

  it('no config-domain → svc.<cd>', () => expect(selectDomain(parseConfig({}).config, {})).toBe('svc.cluster.local'));
});

describe('templates', () => {
  const base = parseConfig({ 'config-domain': { 'example.com': '' } }).config;
  const custom = parseConfig({
    'config-domain': { 'example.com': '' },
    'config-network': { 'domain-template': '{{.Name}}-{{.Namespace}}.{{index .Annotations "sub"}}.{{.Domain}}', 'tag-template': '{{.Name}}--{{.Tag}}' },
  }).config;
  const meta = { namespace: 'default', annotations: { sub: 'zone1' }, labels: {} };
  it.each([
    [base, 'hello', '', false, 'hello.default.example.com'],
    [base, 'hello', 'canary', false, 'canary-hello.default.example.com'],
    [base, 'hello', '', true, 'hello.default.svc.cluster.local'],
    [base, 'hello', 'canary', true, 'canary-hello.default.svc.cluster.local'],
    [custom, 'hello', '', false, 'hello-default.zone1.example.com'],
    [custom, 'hello', 'v2', false, 'hello--v2-default.zone1.example.com'],
    [custom, 'hello', '', true, 'hello.default.svc.cluster.local'], // cluster-local ignores the custom template
  ])('%#', (config, name, tag, local, want) => {
    expect(domainFromTemplate(config, meta, hostnameForTag(config, name, tag), local)).toBe(want);
  });

  it('Go template subset', () => {
    const t = parseTemplate('{{- .Name -}} . {{/* c */}}{{index .Labels `a/b`}}{{ .Name }}', ['Name'], ['Labels']);
    expect(renderTemplate(t, { fields: { Name: 'n' }, maps: { Labels: { 'a/b': 'L' } } })).toBe('n. Ln');
    expect(renderTemplate(t, { fields: { Name: 'n' }, maps: {} })).toBe('n. n');
    expect(() => parseTemplate('{{.Nope}}', ['Name'])).toThrow(TemplateError);
    expect(() => parseTemplate('{{.Name | printf "%s"}}', ['Name'])).toThrow(TemplateError);
    expect(() => parseTemplate('{{index .Labels "x"}}', ['Name'])).toThrow(TemplateError);
  });

  it.each([
    ['a.b', true], ['a', false], ['A.b', false], ['a..b', false], ['-a.b', false], ['a.b-', false],
  ])('isFullyQualifiedDomainName(%j) = %j', (h, want) => expect(isFullyQualifiedDomainName(h)).toBe(want));
});
