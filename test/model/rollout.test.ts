import { describe, it, expect } from 'vitest';
import { reconcileServing, type ReconcileResult } from '../../src/model/serving.js';
import { parseConfig } from '../../src/model/config.js';
import type { KObject } from '../../src/model/objects.js';
import { stepRollout, baselineRollout } from '../../src/model/serving/rollout.js';

const T0 = Date.UTC(2026, 0, 1);
const svc = (env: string, annotations?: Record<string, string>, traffic?: unknown): KObject => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name: 'hello', namespace: 'default', ...(annotations ? { annotations } : {}) },
  spec: { template: { spec: { containers: [{ command: ['run'], env: [{ name: 'V', value: env }] }] } }, ...(traffic ? { traffic } : {}) },
});
const config = (rd?: string) => parseConfig({ 'config-domain': { 'example.com': '' }, ...(rd ? { 'config-network': { 'rollout-duration': rd } } : {}) }).config;
const run = (o: KObject, history: unknown, now: number, rd?: string): ReconcileResult => reconcileServing({ objects: [o], config: config(rd), history, now, baseDir: '/' });
const splits = (r: ReconcileResult, visibility = 'ExternalIP', host?: string): string[] =>
  r.ingresses[0]!.spec.rules!.filter((x) => x.visibility === visibility && (!host || x.hosts!.includes(host)))[0]!.http!.paths.at(-1)!.splits.map((s) => `${s.serviceName}:${s.percent}`);

describe('rollout-duration', () => {
  it('no duration: the new revision takes 100% at once', () => {
    const r1 = run(svc('a'), undefined, T0);
    const r2 = run(svc('b'), r1.history, T0 + 1000);
    expect(splits(r2)).toEqual(['hello-00002:100']);
    expect(r2.nextChangeAt).toBeUndefined();
  });

  // 10 s over 100%: 1% from the start, ready after 1 s, then 9 steps of 11% one second apart.
  const steps: [number, string[]][] = [
    [0, ['hello-00001:99', 'hello-00002:1']],
    [1999, ['hello-00001:99', 'hello-00002:1']],
    [2000, ['hello-00001:88', 'hello-00002:12']],
    [3500, ['hello-00001:77', 'hello-00002:23']],
    [6000, ['hello-00001:44', 'hello-00002:56']],
    [9000, ['hello-00001:11', 'hello-00002:89']],
    [10_000, ['hello-00002:100']],
    [60_000, ['hello-00002:100']],
  ];
  it.each(steps)('config-network rollout-duration 10s, at +%i ms', (dt, want) => {
    const r1 = run(svc('a'), undefined, T0, '10');
    const start = T0 + 10_000;
    const r2 = run(svc('b'), JSON.parse(JSON.stringify(r1.history)), start, '10');
    const r3 = run(svc('b'), JSON.parse(JSON.stringify(r2.history)), start + dt, '10');
    expect(splits(r3)).toEqual(want);
    expect(splits(r3, 'ClusterLocal')).toEqual(want);
    // both revisions run while both take traffic
    expect(r3.revisions.map((x) => x.name)).toEqual(want.map((w) => w.split(':')[0]));
    if (want.length > 1) expect(r3.nextChangeAt).toBe(start + Math.max(2000, Math.floor(dt / 1000) * 1000 + 1000));
    else expect(r3.nextChangeAt).toBeUndefined();
  });

  it('annotation beats config; the rollout annotation is written on the ingress', () => {
    const ann = { 'serving.knative.dev/rollout-duration': '100s' };
    const r1 = run(svc('a', ann), undefined, T0);
    const r2 = run(svc('b', ann), r1.history, T0 + 1);
    expect(splits(r2)).toEqual(['hello-00001:99', 'hello-00002:1']);
    expect(r2.nextChangeAt).toBe(T0 + 1 + 2000);
    const ro = JSON.parse(r2.ingresses[0]!.metadata.annotations!['networking.internal.knative.dev/rollout']!);
    expect(ro.configurations[0]).toMatchObject({ configurationName: 'hello', tag: '', percent: 100 });
    const r3 = run(svc('b', ann), r2.history, T0 + 1 + 50_000);
    expect(splits(r3)).toEqual(['hello-00001:50', 'hello-00002:50']);
  });

  it('a third revision during a rollout drains the newest old one first', () => {
    const r1 = run(svc('a'), undefined, T0, '10');
    const r2 = run(svc('b'), r1.history, T0 + 1, '10');
    const r3 = run(svc('b'), r2.history, T0 + 1 + 3000, '10'); // two steps: 1 → 23 for 00002
    expect(splits(r3)).toEqual(['hello-00001:77', 'hello-00002:23']);
    const r4 = run(svc('c'), r3.history, T0 + 1 + 3000, '10');
    expect(splits(r4)).toEqual(['hello-00001:77', 'hello-00002:22', 'hello-00003:1']);
    const r5 = run(svc('c'), r4.history, T0 + 1 + 3000 + 60_000, '10');
    expect(splits(r5)).toEqual(['hello-00003:100']);
  });

  it('only the rolled-out target moves; a pinned target keeps its share', () => {
    const traffic = [{ revisionName: 'hello-00001', percent: 50, tag: 'old' }, { latestRevision: true, percent: 50 }];
    const r1 = run(svc('a', undefined, [{ latestRevision: true, percent: 100 }]), undefined, T0, '10');
    const r2 = run(svc('b', undefined, traffic), r1.history, T0 + 1, '10');
    // latest target is 50%: 00002 starts at 1% of it, 00001 keeps 49 + its pinned 50 (merged per revision)
    expect(splits(r2)).toEqual(['hello-00001:99', 'hello-00002:1']);
    const r3 = run(svc('b', undefined, traffic), r2.history, T0 + 1 + 60_000, '10');
    expect(splits(r3)).toEqual(['hello-00001:50', 'hello-00002:50']);
  });

  it('stepRollout keeps a 1% target as is and drops 0% targets', () => {
    const prev = baselineRollout([{ tag: '', configurationName: 'c', revisionName: 'r1', percent: 100 }]);
    const cur1 = baselineRollout([{ tag: '', configurationName: 'c', revisionName: 'r2', percent: 1 }]);
    expect(stepRollout(cur1, prev, 0, 10).rollout.configurations[0]!.revisions).toEqual([{ revisionName: 'r2', percent: 1 }]);
    const cur0 = baselineRollout([{ tag: '', configurationName: 'c', revisionName: 'r2', percent: 0 }]);
    expect(stepRollout(cur0, prev, 0, 10).rollout.configurations).toEqual([]);
  });

  it('short duration: one step of the rest', () => {
    const prev = baselineRollout([{ tag: '', configurationName: 'c', revisionName: 'r1', percent: 100 }]);
    const cur = baselineRollout([{ tag: '', configurationName: 'c', revisionName: 'r2', percent: 100 }]);
    const s = stepRollout(cur, prev, 0, 1);
    expect(s.rollout.configurations[0]!.revisions).toEqual([{ revisionName: 'r1', percent: 99 }, { revisionName: 'r2', percent: 1 }]);
    expect(s.nextStepTime).toBe(2000);
    expect(stepRollout(cur, s.rollout, 1999, 1).rollout.configurations[0]!.revisions).toHaveLength(2);
    const s2 = stepRollout(cur, s.rollout, 2000, 1);
    expect(s2.rollout.configurations[0]!.revisions).toEqual([{ revisionName: 'r2', percent: 100 }]);
    expect(s2.nextStepTime).toBeUndefined();
  });
});
