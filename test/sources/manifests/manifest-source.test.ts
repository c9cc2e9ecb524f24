import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Desired } from '../../../src/model/desired.js';
import type { Problem } from '../../../src/model/objects.js';
import { formatProblem } from '../../../src/model/objects.js';
import { ManifestSource } from '../../../src/sources/manifests/manifest-source.js';

let root: string;
let dir: string;
let dataDir: string;
const sources: ManifestSource[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wharf-src-'));
  dir = join(root, 'conf');
  dataDir = join(root, 'data');
  mkdirSync(dir);
});
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
  rmSync(root, { recursive: true, force: true });
});

const service = (name: string, target: string, extra = '') => `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ${name}
spec:
  template:
    spec:
      containers:
        - command: ["node", "app.js"]
          env: [{name: TARGET, value: "${target}"}]
${extra}`;

/** Collects what a source reports, with a way to wait for the next report. */
function recorder() {
  const events: ({ kind: 'desired'; d: Desired } | { kind: 'error'; problems: Problem[] })[] = [];
  let wake: (() => void) | null = null;
  const push = (e: (typeof events)[number]) => {
    events.push(e);
    wake?.();
  };
  return {
    events,
    onDesired: (d: Desired) => push({ kind: 'desired', d }),
    onError: (problems: Problem[]) => push({ kind: 'error', problems }),
    /** Resolves once `n` events have arrived, or rejects after `ms`. */
    async waitFor(n: number, ms = 3000) {
      const deadline = Date.now() + ms;
      while (events.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} events within ${ms} ms, got ${events.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
      return events[n - 1]!;
    },
  };
}

const revisionNames = (d: Desired) => d.revisions.map((r) => `${r.namespace}/${r.name}`).sort();
const hostsOf = (d: Desired) => d.ingresses.flatMap((i) => (i.spec.rules ?? []).flatMap((r) => r.hosts ?? []));

async function startSource(rec: ReturnType<typeof recorder>, opts: { watch?: boolean } = {}) {
  const s = new ManifestSource({ dir, dataDir, onError: rec.onError, watch: opts.watch });
  sources.push(s);
  await s.start(rec.onDesired);
  return s;
}

describe('ManifestSource', () => {
  it('loads, reconciles and hands a complete Desired on start', async () => {
    writeFileSync(join(dir, 'config.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-domain}\ndata: {example.com: ""}\n');
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'World'));
    const rec = recorder();
    await startSource(rec, { watch: false });
    const e = await rec.waitFor(1);
    expect(e.kind).toBe('desired');
    const d = (e as { d: Desired }).d;
    expect(d.configMaps['config-domain']).toEqual({ 'example.com': '' });
    expect(revisionNames(d)).toEqual(['default/hello-00001']);
    expect(hostsOf(d)).toContain('hello.default.example.com');
    const rev = d.revisions[0]!;
    expect(rev.process).toMatchObject({ command: ['node', 'app.js'], cwd: dir, env: { TARGET: 'World' } });
    expect(d.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it('applies a file change within a second, refuses an invalid file, and recovers when it is fixed', async () => {
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'World'));
    const rec = recorder();
    await startSource(rec);
    await rec.waitFor(1);

    // The promise: a change is live within 1 s (debounce 150 ms, capped at 400 ms, plus the reload).
    writeFileSync(join(dir, 'second.yaml'), service('second', 'Two'));
    const added = await rec.waitFor(2, 1000);
    expect(added.kind).toBe('desired');
    expect(revisionNames((added as { d: Desired }).d)).toEqual(['default/hello-00001', 'default/second-00001']);

    const bad = join(dir, 'second.yaml');
    writeFileSync(bad, service('second', 'Two', '  traffic:\n    - latestRevision: true\n      percent: 250\n'));
    const refused = await rec.waitFor(3);
    expect(refused.kind).toBe('error');
    const errors = (refused as { problems: Problem[] }).problems.filter((p) => p.severity === 'error');
    const percent = errors.find((p) => p.field === 'spec.traffic[0].percent');
    expect(percent).toMatchObject({ object: 'Service default/second', origin: { file: bad, doc: 0, line: 13 } });
    expect(formatProblem(percent!)).toContain(`${bad}#0:13 Service default/second spec.traffic[0].percent: `);

    writeFileSync(bad, 'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: [\n');
    const syntax = await rec.waitFor(4);
    expect(syntax.kind).toBe('error');
    expect((syntax as { problems: Problem[] }).problems.find((p) => p.severity === 'error')!.origin!.file).toBe(bad);

    writeFileSync(bad, service('second', 'Fixed'));
    const fixed = await rec.waitFor(5);
    expect(fixed.kind).toBe('desired');
    const rev = (fixed as { d: Desired }).d.revisions.find((r) => r.configuration === 'second' || r.name.startsWith('second-'))!;
    expect(rev.process!.env.TARGET).toBe('Fixed');
  });

  it('turns a burst of writes into one reload, and ignores changes to files it does not read', async () => {
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'World'));
    const rec = recorder();
    await startSource(rec);
    await rec.waitFor(1);
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'hello.yaml'), service('hello', `v${i}`));
    await rec.waitFor(2);
    writeFileSync(join(dir, 'app.js'), '// not a manifest');
    await new Promise((r) => setTimeout(r, 600));
    expect(rec.events.map((e) => e.kind)).toEqual(['desired', 'desired']);
    const d = (rec.events[1] as { d: Desired }).d;
    expect(d.revisions.map((r) => r.process?.env.TARGET)).toEqual(['v19']);
  });

  it('keeps revision names across restarts: a template change gives -00002 while pinned -00001 keeps serving', async () => {
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'blue'));
    const rec1 = recorder();
    const s1 = await startSource(rec1, { watch: false });
    expect(revisionNames(((await rec1.waitFor(1)) as { d: Desired }).d)).toEqual(['default/hello-00001']);
    const stored = JSON.parse(readFileSync(join(dataDir, 'revisions.json'), 'utf8'));
    expect(JSON.stringify(stored)).toContain('hello-00001');
    await s1.stop();

    // A restart with the same folder: same names, and the history file is not rewritten.
    const before = readFileSync(join(dataDir, 'revisions.json'), 'utf8');
    const rec2 = recorder();
    const s2 = await startSource(rec2, { watch: false });
    expect(revisionNames(((await rec2.waitFor(1)) as { d: Desired }).d)).toEqual(['default/hello-00001']);
    expect(readFileSync(join(dataDir, 'revisions.json'), 'utf8')).toBe(before);

    // The blue/green flow: change the template and pin the old revision.
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'green', '  traffic:\n    - revisionName: hello-00001\n      percent: 100\n    - latestRevision: true\n      percent: 0\n      tag: green\n'));
    expect(await s2.reload()).toBe('applied');
    const d2 = (rec2.events[1] as { d: Desired }).d;
    expect(revisionNames(d2)).toEqual(['default/hello-00001', 'default/hello-00002']);
    const byName = new Map(d2.revisions.map((r) => [r.name, r]));
    expect(byName.get('hello-00001')!.process!.env.TARGET).toBe('blue');
    expect(byName.get('hello-00002')!.process!.env.TARGET).toBe('green');
    expect(hostsOf(d2)).toContain('green-hello.default.svc.cluster.local');
    await s2.stop();

    // Another restart: the old revision is still known, so the pin still resolves.
    const rec3 = recorder();
    await startSource(rec3, { watch: false });
    const d3 = ((await rec3.waitFor(1)) as { d: Desired }).d;
    expect(revisionNames(d3)).toEqual(['default/hello-00001', 'default/hello-00002']);
    expect(new Map(d3.revisions.map((r) => [r.name, r.process!.env.TARGET]))).toEqual(new Map([['hello-00001', 'blue'], ['hello-00002', 'green']]));
  });

  it('does not persist history from a refused reload', async () => {
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'one'));
    const rec = recorder();
    const s = await startSource(rec, { watch: false });
    await rec.waitFor(1);
    const before = readFileSync(join(dataDir, 'revisions.json'), 'utf8');
    // A new template (which would bump the generation) together with a broken document.
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'two') + '---\nkind: Service\n');
    expect(await s.reload()).toBe('error');
    expect(readFileSync(join(dataDir, 'revisions.json'), 'utf8')).toBe(before);
    expect(rec.events.map((e) => e.kind)).toEqual(['desired', 'error']);
  });

  it('starts with an error (not a crash) when the folder is broken, and serves once it is fixed', async () => {
    writeFileSync(join(dir, 'hello.yaml'), 'apiVersion: serving.knative.dev/v1\nkind: Service\n');
    const rec = recorder();
    await startSource(rec);
    const first = await rec.waitFor(1);
    expect(first.kind).toBe('error');
    expect((first as { problems: Problem[] }).problems.map(formatProblem)).toContain(`error: ${join(dir, 'hello.yaml')}#0:1 Service metadata: required`);
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'World'));
    expect((await rec.waitFor(2)).kind).toBe('desired');
  });

  it('re-runs the reconciler when a rollout step is due, without a file change', async () => {
    const rollout = '  annotations:\n    serving.knative.dev/rollout-duration: "2s"\n';
    const withAnnotation = (target: string) => service('hello', target).replace('  name: hello\n', `  name: hello\n${rollout}`);
    writeFileSync(join(dir, 'hello.yaml'), withAnnotation('one'));
    const rec = recorder();
    const s = await startSource(rec, { watch: false });
    await rec.waitFor(1);
    writeFileSync(join(dir, 'hello.yaml'), withAnnotation('two'));
    expect(await s.reload()).toBe('applied');
    const splits = (d: Desired) =>
      Object.fromEntries(d.ingresses.find((i) => i.metadata.name === 'hello')!.spec.rules![0]!.http!.paths[0]!.splits.map((x) => [x.serviceName, x.percent]));
    expect(splits((rec.events[1] as { d: Desired }).d)).toEqual({ 'hello-00001': 99, 'hello-00002': 1 });
    // The 2 s rollout moves the rest after its 1 s first step; nothing touches the folder meanwhile.
    const stepped = await rec.waitFor(3, 4000);
    expect(stepped.kind).toBe('desired');
    expect(splits((stepped as { d: Desired }).d)).toEqual({ 'hello-00002': 100 });
  });

  it('keeps serving when the data dir cannot be written, with a warning', async () => {
    writeFileSync(join(root, 'not-a-dir'), 'x');
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'World'));
    const rec = recorder();
    const s = new ManifestSource({ dir, dataDir: join(root, 'not-a-dir'), onError: rec.onError, watch: false });
    sources.push(s);
    await s.start(rec.onDesired);
    const e = await rec.waitFor(1);
    expect(e.kind).toBe('desired');
    const d = (e as { d: Desired }).d;
    expect(revisionNames(d)).toEqual(['default/hello-00001']);
    expect(d.problems).toMatchObject([{ severity: 'warning', message: expect.stringMatching(/cannot save revision history/) }]);
  });

  it('keeps watching when the folder is replaced or deleted and recreated', async () => {
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'one'));
    const rec = recorder();
    await startSource(rec);
    await rec.waitFor(1);

    // Replaced by a rename, as deploy tools do.
    const next = join(root, 'conf.new');
    mkdirSync(next);
    writeFileSync(join(next, 'hello.yaml'), service('hello', 'two'));
    rmSync(dir, { recursive: true });
    renameSync(next, dir);
    const swapped = await rec.waitFor(2);
    expect((swapped as { d: Desired }).d.revisions.map((r) => r.process?.env.TARGET)).toEqual(['two']);
    // ...and later edits inside the new folder are still seen.
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'three'));
    const edited = await rec.waitFor(3);
    expect((edited as { d: Desired }).d.revisions.map((r) => r.process?.env.TARGET)).toEqual(['three']);

    // Deleted: the reload is refused (the last good config keeps serving); recreated: picked up again.
    rmSync(dir, { recursive: true });
    expect((await rec.waitFor(4)).kind).toBe('error');
    mkdirSync(dir);
    writeFileSync(join(dir, 'hello.yaml'), service('hello', 'four'));
    const back = await rec.waitFor(5, 4000);
    expect(back.kind).toBe('desired');
    expect((back as { d: Desired }).d.revisions.map((r) => r.process?.env.TARGET)).toEqual(['four']);
  });
});
