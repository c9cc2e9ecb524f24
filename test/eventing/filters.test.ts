// Trigger filters: legacy attributes and the Subscriptions API dialects, as tables and end to end over sockets
// (Knative's new_trigger_filters rekt cases: single dialects, any/all/not, missing extension fails everywhere,
// empty filters does not override filter, non-empty does, several entries AND).
import { afterAll, describe, expect, it } from 'vitest';
import { compileTriggerFilter, matches } from '../../src/eventing/filters.js';
import type { CloudEvent } from '../../src/eventing/event.js';
import type { Problem } from '../../src/model/objects.js';
import { broker, ce, postEvent, sleep, startBroker, startSink, trigger, type Sink } from './helpers.js';

const ev = (attrs: Record<string, string | number | boolean>): CloudEvent => ({
  attrs: { specversion: '1.0', id: '1', source: '/src/a', type: 'com.example.order.created', ...attrs },
  data: null,
  headers: null,
});

function f(spec: Record<string, unknown>): ReturnType<typeof compileTriggerFilter> & { problems: Problem[] } {
  const problems: Problem[] = [];
  return { ...compileTriggerFilter(spec, { object: 'Trigger t', problems }), problems };
}

describe('legacy filter.attributes', () => {
  it.each([
    [{}, {}, true],
    [{ type: 'com.example.order.created' }, {}, true],
    [{ type: 'other' }, {}, false],
    [{ type: 'com.example.order.created', source: '/src/a' }, {}, true],
    [{ type: 'com.example.order.created', source: '/x' }, {}, false],
    [{ myext: '' }, { myext: 'v' }, true], // "" = present and non-empty
    [{ myext: '' }, {}, false],
    [{ myext: '' }, { myext: '' }, false],
    [{ myext: 'v' }, {}, false],
    [{ myint: '5' }, { myint: 5 }, true],
    [{ schemaurl: 'http://s/x' }, { dataschema: 'http://s/x' }, true],
    [{ datamediatype: 'application/json' }, { datacontenttype: 'application/json; charset=utf-8' }, true],
  ] as [Record<string, string>, Record<string, string | number>, boolean][])('%j on %j → %s', (attrs, extra, want) => {
    const c = f({ filter: { attributes: attrs } });
    expect(c.ok).toBe(true);
    expect(matches(c.filter, ev(extra))).toBe(want);
  });

  it('rejects invalid attribute keys', () => {
    for (const k of ['Type', 'my_ext', 'my-ext', '1abc', 'a b']) {
      const c = f({ filter: { attributes: { [k]: 'x' } } });
      expect(c.ok, k).toBe(false);
      expect(c.problems[0]!.field).toBe(`spec.filter.attributes.${k}`);
    }
  });
});

describe('filters dialects', () => {
  const cases: [string, unknown[], Record<string, string>, boolean][] = [
    ['exact match', [{ exact: { type: 'com.example.order.created' } }], {}, true],
    ['exact case-sensitive', [{ exact: { type: 'com.example.Order.created' } }], {}, false],
    ['exact several entries AND', [{ exact: { type: 'com.example.order.created', source: '/nope' } }], {}, false],
    ['prefix', [{ prefix: { type: 'com.example.' } }], {}, true],
    ['prefix miss', [{ prefix: { type: 'org.' } }], {}, false],
    ['suffix', [{ suffix: { type: '.created' } }], {}, true],
    ['suffix miss', [{ suffix: { type: '.deleted' } }], {}, false],
    ['all', [{ all: [{ prefix: { type: 'com.' } }, { suffix: { source: '/a' } }] }], {}, true],
    ['all with one miss', [{ all: [{ prefix: { type: 'com.' } }, { suffix: { source: '/b' } }] }], {}, false],
    ['any', [{ any: [{ exact: { type: 'x' } }, { exact: { type: 'com.example.order.created' } }] }], {}, true],
    ['any none', [{ any: [{ exact: { type: 'x' } }, { exact: { type: 'y' } }] }], {}, false],
    ['not', [{ not: { exact: { type: 'x' } } }], {}, true],
    ['not of a match', [{ not: { prefix: { type: 'com.' } } }], {}, false],
    ['cesql', [{ cesql: "type LIKE 'com.%' AND source = '/src/a'" }], {}, true],
    ['cesql miss', [{ cesql: "type = 'x'" }], {}, false],
    ['list entries AND', [{ prefix: { type: 'com.' } }, { exact: { source: '/other' } }], {}, false],
    ['missing extension: exact fails', [{ exact: { myext: 'v' } }], {}, false],
    ['missing extension: prefix fails', [{ prefix: { myext: 'v' } }], {}, false],
    ['missing extension: suffix fails', [{ suffix: { myext: 'v' } }], {}, false],
    ['missing extension: cesql fails', [{ cesql: "myext = 'v'" }], {}, false],
    ['missing extension: cesql != fails too', [{ cesql: "myext != 'v'" }], {}, false],
    ['missing extension: any fails', [{ any: [{ exact: { myext: 'v' } }, { prefix: { myext: 'v' } }] }], {}, false],
    ['missing extension: all fails', [{ all: [{ exact: { myext: 'v' } }] }], {}, false],
    ['present extension', [{ exact: { myext: 'v' } }], { myext: 'v' }, true],
  ];
  it.each(cases)('%s', (_name, filters, extra, want) => {
    const c = f({ filters });
    expect(c.ok).toBe(true);
    expect(matches(c.filter, ev(extra))).toBe(want);
  });

  it('empty filters does not override filter; non-empty does', () => {
    const legacy = { filter: { attributes: { type: 'x' } } };
    expect(matches(f({ ...legacy, filters: [] }).filter, ev({}))).toBe(false);
    expect(matches(f({ ...legacy, filters: [{ prefix: { type: 'com.' } }] }).filter, ev({}))).toBe(true);
  });

  it('reports multiple dialects, unknown dialects and bad CESQL; skips empty values with a warning', () => {
    expect(f({ filters: [{ exact: { type: 'a' }, prefix: { type: 'b' } }] }).problems[0]!.message).toMatch(/multiple dialects/);
    expect(f({ filters: [{ regex: { type: 'a' } }] }).problems[0]!.message).toMatch(/unknown filter dialect/);
    const bad = f({ filters: [{ cesql: 'type = ' }] });
    expect(bad.ok).toBe(false);
    expect(bad.problems[0]).toMatchObject({ field: 'spec.filters[0].cesql', severity: 'error' });
    const skipped = f({ filters: [{ exact: { type: '' } }] });
    expect(skipped.ok).toBe(true);
    expect(skipped.problems[0]!.severity).toBe('warning');
    expect(matches(skipped.filter, ev({}))).toBe(true);
  });
});

describe('filters end to end', () => {
  let sinks: Sink[] = [];
  afterAll(async () => {
    for (const s of sinks) await s.close();
  });

  it('each trigger receives only the events its dialect matches', async () => {
    const names = ['exact', 'prefix', 'suffix', 'cesql', 'any', 'all', 'not', 'legacyany', 'missing'] as const;
    sinks = await Promise.all(names.map(() => startSink()));
    const sink = Object.fromEntries(names.map((n, i) => [n, sinks[i]!])) as Record<(typeof names)[number], Sink>;
    const b = await startBroker([
      broker('default'),
      trigger('exact', { filters: [{ exact: { type: 'order.created' } }], subscriber: { uri: sink.exact.url } }),
      trigger('prefix', { filters: [{ prefix: { type: 'order.' } }], subscriber: { uri: sink.prefix.url } }),
      trigger('suffix', { filters: [{ suffix: { type: '.deleted' } }], subscriber: { uri: sink.suffix.url } }),
      trigger('cesql', { filters: [{ cesql: "region IN ('eu', 'us') AND INT(amount) > 100" }], subscriber: { uri: sink.cesql.url } }),
      trigger('any', { filters: [{ any: [{ exact: { type: 'user.created' } }, { exact: { region: 'eu' } }] }], subscriber: { uri: sink.any.url } }),
      trigger('all', { filters: [{ all: [{ prefix: { type: 'order.' } }, { exact: { region: 'us' } }] }], subscriber: { uri: sink.all.url } }),
      trigger('not', { filters: [{ not: { prefix: { type: 'order.' } } }], subscriber: { uri: sink.not.url } }),
      trigger('legacyany', { filter: { attributes: { region: '' } }, subscriber: { uri: sink.legacyany.url } }),
      trigger('missing', { filters: [{ cesql: "nosuchext = 'x' OR TRUE" }], subscriber: { uri: sink.missing.url } }),
    ]);
    const url = `${b.url}/default/default`;
    const events: [string, Record<string, string>][] = [
      ['e1', { type: 'order.created', region: 'eu', amount: '150' }],
      ['e2', { type: 'order.deleted', region: 'us', amount: '50' }],
      ['e3', { type: 'user.created' }],
      ['e4', { type: 'user.deleted', region: '', amount: 'abc' }],
    ];
    for (const [id, attrs] of events) expect((await postEvent(url, ce(id, attrs))).status).toBe(202);
    const want: Record<string, string[]> = {
      exact: ['e1'],
      prefix: ['e1', 'e2'],
      suffix: ['e2', 'e4'],
      cesql: ['e1'],
      any: ['e1', 'e3'],
      all: ['e2'],
      not: ['e3', 'e4'],
      legacyany: ['e1', 'e2'],
      missing: [],
    };
    // All four events are finished by every trigger once each cursor reaches the log end.
    const deadline = Date.now() + 5000;
    while (b.eventing.debug().subscribers.some((s) => s.cursor !== 4) && Date.now() < deadline) await sleep(20);
    for (const n of names) expect(sink[n].ids().sort(), n).toEqual(want[n]);
    await b.close();
  });
});
