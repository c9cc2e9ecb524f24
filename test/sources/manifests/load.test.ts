import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fieldLine, loadFolder, parseManifests } from '../../../src/sources/manifests/load.js';
import { formatProblem } from '../../../src/model/objects.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-load-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const svc = (name: string, ns?: string) => `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ${name}
${ns ? `  namespace: ${ns}\n` : ''}spec:
  template:
    spec:
      containers:
        - image: x
`;

describe('parseManifests', () => {
  it('reads multi-document YAML with document index and line, and defaults the namespace', () => {
    const text = `# leading comment\n${svc('a')}---\n${svc('b', 'prod')}---\n`;
    const r = parseManifests(text, 'conf/x.yaml');
    expect(r.problems).toEqual([]);
    expect(r.objects.map((l) => [l.object.metadata.namespace, l.object.metadata.name, l.origin])).toEqual([
      ['default', 'a', { file: 'conf/x.yaml', doc: 0, line: 2 }],
      ['prod', 'b', { file: 'conf/x.yaml', doc: 1, line: 12 }],
    ]);
  });

  it('finds the line of a field, or of its nearest parent when the field is missing', () => {
    const text = `${svc('a')}---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: b\nspec:\n  traffic:\n    - percent: 50\n    - percent: 150\n`;
    const r = parseManifests(text, 'f.yaml');
    const b = r.objects[1]!;
    expect(fieldLine(b, 'spec.traffic[1].percent')).toBe(18);
    expect(fieldLine(b, 'spec.traffic[1].tag')).toBe(18);
    expect(fieldLine(b, 'spec.template')).toBe(15);
  });

  it('names file, document, kind/name and field for envelope errors', () => {
    const text = [
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {}\n',
      'kind: Service\nmetadata: {name: x}\n',
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: Bad_Name\n',
      'apiVersion: serving.knative.dev/v2\nkind: Service\nmetadata: {name: y}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: "NS!"}\n',
      '- just\n- a list\n',
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: z, labels: {a: {b: c}}}\n',
    ].join('---\n');
    const r = parseManifests(text, 'conf/bad.yaml');
    expect(r.objects).toEqual([]);
    const msgs = r.problems.map(formatProblem);
    expect(msgs).toEqual([
      'error: conf/bad.yaml#0:1 Service metadata.name: required',
      'error: conf/bad.yaml#1:5 apiVersion: required',
      expect.stringMatching(/^error: conf\/bad.yaml#2:8 Service default\/Bad_Name metadata.name: "Bad_Name" must be a lowercase RFC 1123 subdomain/),
      'error: conf/bad.yaml#3:13 Service default/y apiVersion: serving.knative.dev/v2 does not serve Service (use serving.knative.dev/v1)',
      expect.stringMatching(/^error: conf\/bad.yaml#4:17 ConfigMap NS!\/cm metadata.namespace: "NS!" must be a lowercase RFC 1123 label/),
      'error: conf/bad.yaml#5:21: a document must be a mapping (one Kubernetes object)',
      'error: conf/bad.yaml#6:24 Service default/z metadata.labels.a: must be a string',
    ]);
  });

  it('reports YAML syntax errors with their line and keeps the other documents', () => {
    const text = `${svc('ok')}---\nkind: Service\nmetadata:\n  name: [unclosed\n---\n${svc('ok2')}`;
    const r = parseManifests(text, 'y.yaml');
    expect(r.objects.map((l) => l.object.metadata.name)).toEqual(['ok', 'ok2']);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems.every((p) => p.severity === 'error' && p.origin?.file === 'y.yaml' && p.origin.doc === 1)).toBe(true);
    expect(r.problems[0]!.message).toMatch(/^YAML: /);
    expect(r.problems[0]!.origin!.line).toBeGreaterThanOrEqual(11);
  });

  it('rejects duplicate keys (as a strict API client does)', () => {
    const r = parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-network}\ndata: {a: "1", a: "2"}\n', 'd.yaml');
    expect(r.problems.some((p) => p.severity === 'error' && /unique|duplicate/i.test(p.message))).toBe(true);
  });

  it('warns about unknown kinds and drops them; cluster-scoped kinds lose their namespace', () => {
    const text = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n' +
      'apiVersion: networking.internal.knative.dev/v1alpha1\nkind: ClusterDomainClaim\nmetadata: {name: a.example.org, namespace: x}\nspec: {namespace: default}\n';
    const r = parseManifests(text, 'k.yaml');
    expect(r.problems.map((p) => [p.severity, p.object, p.field])).toEqual([
      ['warning', 'Deployment default/d', 'kind'],
      ['warning', 'ClusterDomainClaim a.example.org', 'metadata.namespace'],
    ]);
    expect(r.objects).toHaveLength(1);
    expect(r.objects[0]!.object.metadata).toEqual({ name: 'a.example.org' });
  });

  it('hints at the right apiVersion for a Knative kind under a foreign group', () => {
    const r = parseManifests('apiVersion: v1\nkind: Service\nmetadata: {name: s}\n', 'v.yaml');
    expect(r.objects).toEqual([]);
    expect(r.problems.map(formatProblem)).toEqual([
      'warning: v.yaml#0:1 Service default/s kind: v1 Service is not a kind wharf reads; ignored (did you mean apiVersion serving.knative.dev/v1?)',
    ]);
  });

  it('coerces unquoted annotation values with a warning', () => {
    const r = parseManifests('apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    autoscaling.knative.dev/min-scale: 1\n', 'a.yaml');
    expect(r.objects[0]!.object.metadata.annotations).toEqual({ 'autoscaling.knative.dev/min-scale': '1' });
    expect(r.problems).toMatchObject([{ severity: 'warning', field: 'metadata.annotations.autoscaling.knative.dev/min-scale' }]);
  });

  it('expands kind: List items with their own positions', () => {
    const text = `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: serving.knative.dev/v1\n    kind: Route\n    metadata: {name: r1}\n  - apiVersion: serving.knative.dev/v1\n    kind: Route\n    metadata: {}\n`;
    const r = parseManifests(text, 'l.yaml');
    expect(r.objects.map((l) => [l.object.metadata.name, l.origin.line])).toEqual([['r1', 4]]);
    expect(r.problems.map(formatProblem)).toEqual(['error: l.yaml#0:7 Route items[1].metadata.name: required']);
  });
});

describe('loadFolder', () => {
  it('reads *.yaml and *.yml recursively, sorted, skipping dot folders, node_modules and other files', () => {
    mkdirSync(join(dir, 'b/deep'), { recursive: true });
    mkdirSync(join(dir, '.git'));
    mkdirSync(join(dir, 'node_modules/x'), { recursive: true });
    writeFileSync(join(dir, 'b/deep/one.yml'), svc('one'));
    writeFileSync(join(dir, 'a.yaml'), svc('a'));
    writeFileSync(join(dir, '.git/c.yaml'), svc('hidden'));
    writeFileSync(join(dir, 'node_modules/x/d.yaml'), svc('nm'));
    writeFileSync(join(dir, 'notes.txt'), 'kind: nope');
    writeFileSync(join(dir, '.#a.yaml'), 'garbage: [');
    const r = loadFolder(dir);
    expect(r.problems).toEqual([]);
    expect(r.objects.map((l) => l.object.metadata.name)).toEqual(['a', 'one']);
    expect(r.files).toEqual([join(dir, 'a.yaml'), join(dir, 'b/deep/one.yml')]);
  });

  it('follows symlinks (ConfigMap volume layout) without looping', () => {
    mkdirSync(join(dir, '..data'));
    writeFileSync(join(dir, '..data/svc.yaml'), svc('linked'));
    symlinkSync('..data/svc.yaml', join(dir, 'svc.yaml'));
    symlinkSync('.', join(dir, 'loop'));
    const r = loadFolder(dir);
    expect(r.problems).toEqual([]);
    expect(r.objects.map((l) => l.object.metadata.name)).toEqual(['linked']);
  });

  it('reports a duplicate object naming both files', () => {
    writeFileSync(join(dir, 'a.yaml'), svc('same'));
    writeFileSync(join(dir, 'b.yaml'), `${svc('other')}---\n${svc('same', 'default')}`);
    const r = loadFolder(dir);
    expect(r.problems.map(formatProblem)).toEqual([
      `error: ${join(dir, 'b.yaml')}#1:11 Service default/same metadata.name: defined twice: also in ${join(dir, 'a.yaml')}#0:1 (Duplicate)`,
    ]);
    expect(r.objects.map((l) => l.object.metadata.name)).toEqual(['same', 'other']);
  });

  it('treats Knative ConfigMaps of one name in two namespaces as duplicates', () => {
    writeFileSync(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-domain, namespace: knative-serving}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-domain}\n');
    const r = loadFolder(dir);
    expect(r.problems).toMatchObject([{ severity: 'error', reason: 'Duplicate', origin: { doc: 1 } }]);
  });

  it('reports a missing folder as an error, and changes the fingerprint only when content changes', () => {
    const missing = loadFolder(join(dir, 'nope'));
    expect(missing.problems).toMatchObject([{ severity: 'error', message: expect.stringMatching(/cannot read folder/) }]);
    writeFileSync(join(dir, 'a.yaml'), svc('a'));
    const f1 = loadFolder(dir).fingerprint;
    writeFileSync(join(dir, 'app.js'), 'console.log(1)');
    expect(loadFolder(dir).fingerprint).toBe(f1);
    writeFileSync(join(dir, 'a.yaml'), svc('b'));
    expect(loadFolder(dir).fingerprint).not.toBe(f1);
    expect(missing.fingerprint).not.toBe(f1);
  });
});
