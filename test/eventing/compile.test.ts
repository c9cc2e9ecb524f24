// compileEventing (pure): hosts for the router, broker class selection, destinations, delivery precedence,
// durations and backoff formula, config-wharf keys and problems.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/model/config.js';
import { backoffMs, BROKER_HANDLER, CHANNEL_HANDLER, compileEventing, parseIsoDuration, EVENTING_CONFIG_KEYS } from '../../src/model/eventing.js';
import type { KObject } from '../../src/model/objects.js';
import { broker, trigger } from './helpers.js';

const cfg = (wharf: Record<string, string> = {}) => parseConfig({ 'config-wharf': wharf }).config;

describe('compileEventing', () => {
  it('serves the broker ingress hosts (internal) and channel hosts; external host only when configured', () => {
    const ch: KObject = { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'orders', namespace: 'shop' } };
    const { builtins, model } = compileEventing([broker('default'), ch], cfg());
    expect(builtins).toEqual([
      { host: 'broker-ingress.knative-eventing', visibility: 'ClusterLocal', handler: BROKER_HANDLER },
      { host: 'broker-ingress.knative-eventing.svc', visibility: 'ClusterLocal', handler: BROKER_HANDLER },
      { host: 'broker-ingress.knative-eventing.svc.cluster.local', visibility: 'ClusterLocal', handler: BROKER_HANDLER },
      { host: 'wharf-broker-ingress.wharf-system', visibility: 'ClusterLocal', handler: BROKER_HANDLER },
      { host: 'wharf-broker-ingress.wharf-system.svc', visibility: 'ClusterLocal', handler: BROKER_HANDLER },
      { host: 'wharf-broker-ingress.wharf-system.svc.cluster.local', visibility: 'ClusterLocal', handler: BROKER_HANDLER },
      { host: 'orders-kn-channel.shop', visibility: 'ClusterLocal', handler: CHANNEL_HANDLER },
      { host: 'orders-kn-channel.shop.svc', visibility: 'ClusterLocal', handler: CHANNEL_HANDLER },
      { host: 'orders-kn-channel.shop.svc.cluster.local', visibility: 'ClusterLocal', handler: CHANNEL_HANDLER },
    ]);
    expect(model.channels.get('shop/orders')!.address).toBe('http://orders-kn-channel.shop.svc.cluster.local');
    const ext = compileEventing([broker('default')], cfg({ 'broker-external-host': 'Events.Example.com' }));
    expect(ext.builtins).toContainEqual({ host: 'events.example.com', visibility: 'ExternalIP', handler: BROKER_HANDLER });
    expect(ext.model.brokers.get('default/default')!.externalAddress).toBe('http://events.example.com/default/default');
    // In a cluster, Broker status names wharf's own Service in the gateway's namespace.
    const ns = compileEventing([broker('default')], cfg({ 'broker-ingress-namespace': 'edge' }));
    expect(ns.builtins).toContainEqual({ host: 'wharf-broker-ingress.edge.svc.cluster.local', visibility: 'ClusterLocal', handler: BROKER_HANDLER });
    expect(ns.builtins.some((b) => b.host.startsWith('wharf-broker-ingress.wharf-system'))).toBe(false);
  });

  it('serves brokers of its class or without a class; triggers on other classes are ignored', () => {
    const mt = { ...broker('mt'), metadata: { name: 'mt', namespace: 'default', annotations: { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' } } };
    const ours = { ...broker('ours'), metadata: { name: 'ours', namespace: 'default', annotations: { 'eventing.knative.dev/broker.class': 'wharf' } } };
    const out = compileEventing([mt, ours, broker('plain'), trigger('t-mt', { broker: 'mt', subscriber: { uri: 'http://x/' } })], cfg());
    expect([...out.model.brokers.keys()].sort()).toEqual(['default/ours', 'default/plain']);
    expect(out.model.subscribers).toEqual([]);
    const custom = compileEventing([mt], cfg({ 'broker-class': 'MTChannelBasedBroker' }));
    expect([...custom.model.brokers.keys()]).toEqual(['default/mt']);
  });

  it('resolves destinations: Knative Service via the internal listener, uri direct, Broker/Channel local', () => {
    const out = compileEventing(
      [
        broker('default'),
        trigger('ksvc', { subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'display' }, uri: '/events' } }),
        trigger('uri', { subscriber: { uri: 'https://example.com/hook' } }),
        trigger('tobroker', { subscriber: { uri: 'http://broker-ingress.knative-eventing.svc.cluster.local/default/default' } }),
        trigger('bad', { subscriber: { ref: { apiVersion: 'v1', kind: 'Pod', name: 'x' } } }),
      ],
      cfg(),
    );
    const sub = (n: string) => out.model.subscribers.find((s) => s.name === n)!;
    expect(sub('ksvc').subscriber).toEqual({ url: 'http://display.default.svc.cluster.local/events', via: 'internal' });
    expect(sub('uri').subscriber).toEqual({ url: 'https://example.com/hook', via: 'direct' });
    expect(sub('tobroker').subscriber).toMatchObject({ via: 'local', local: { kind: 'broker', key: 'default/default' } });
    expect(sub('bad')).toMatchObject({ ready: false });
    expect(out.problems).toContainEqual(expect.objectContaining({ severity: 'error', object: 'Trigger default/bad', field: 'spec.subscriber' }));
  });

  it('Trigger delivery replaces the Broker delivery as a whole; neither → config defaults (retry 10, exponential PT0.2S)', () => {
    const out = compileEventing(
      [
        broker('default', 'default', { delivery: { retry: 3, backoffPolicy: 'linear', backoffDelay: 'PT1S', deadLetterSink: { uri: 'http://dls/' } } }),
        broker('bare'),
        trigger('own', { subscriber: { uri: 'http://a/' }, delivery: { retry: 1 } }),
        trigger('inherit', { subscriber: { uri: 'http://a/' } }),
        trigger('dflt', { broker: 'bare', subscriber: { uri: 'http://a/' } }),
      ],
      cfg(),
    );
    const d = (n: string) => out.model.subscribers.find((s) => s.name === n)!.delivery;
    expect(d('own')).toMatchObject({ retry: 1, deadLetterSink: null, backoffDelayMs: 0 });
    expect(d('inherit')).toMatchObject({ retry: 3, backoffPolicy: 'linear', backoffDelayMs: 1000, deadLetterSink: { url: 'http://dls/', via: 'direct' } });
    expect(d('dflt')).toMatchObject({ retry: 10, backoffPolicy: 'exponential', backoffDelayMs: 200, timeoutMs: 60_000, retryAfterMaxMs: null, format: 'binary' });
  });

  it('reports invalid delivery, filters, annotations and PingSource fields', () => {
    const ping: KObject = { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', metadata: { name: 'p', namespace: 'default' }, spec: { schedule: 'every minute', timezone: 'Mars/Olympus', sink: { uri: 'http://x/' } } };
    const out = compileEventing(
      [
        broker('default'),
        trigger('d', { subscriber: { uri: 'http://a/' }, delivery: { retry: -1, backoffDelay: '1s', format: 'xml' } }),
        trigger('f', { subscriber: { uri: 'http://a/' }, filters: [{ cesql: "type = 'x" }] }),
        trigger('a', { subscriber: { uri: 'http://a/' } }, 'default', { 'wharf.dev/delivery-order': 'sorted' }),
        ping,
      ],
      cfg({ 'broker-ttl': 'many' }),
    );
    const fields = out.problems.map((p) => `${p.object ?? ''} ${p.field ?? ''}`);
    expect(fields).toEqual(
      expect.arrayContaining([
        'Trigger default/d spec.delivery.retry',
        'Trigger default/d spec.delivery.backoffDelay',
        'Trigger default/d spec.delivery.format',
        'Trigger default/f spec.filters[0].cesql',
        'Trigger default/a metadata.annotations.wharf.dev/delivery-order',
        'PingSource default/p spec.schedule',
        'PingSource default/p spec.timezone',
        'ConfigMap config-wharf data.broker-ttl',
      ]),
    );
    expect(out.model.config.ttl).toBe(255);
    expect(out.model.pings[0]!.ready).toBe(false);
  });

  it('PingSource: CRON_TZ prefix, data as base64, sink to a local broker', () => {
    const ping: KObject = {
      apiVersion: 'sources.knative.dev/v1',
      kind: 'PingSource',
      metadata: { name: 'p', namespace: 'default' },
      spec: { schedule: 'CRON_TZ=Europe/Berlin */5 * * * *', data: 'hi', sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } },
    };
    const p = compileEventing([broker('default'), ping], cfg()).model.pings[0]!;
    expect(p).toMatchObject({ schedule: '*/5 * * * *', timezone: 'Europe/Berlin', dataBase64: Buffer.from('hi').toString('base64'), ready: true });
    expect(p.sink).toMatchObject({ via: 'local', local: { kind: 'broker', key: 'default/default' } });
  });

  it('documents its config-wharf keys', () => {
    expect(EVENTING_CONFIG_KEYS.map((k) => k.key)).toEqual(expect.arrayContaining(['broker-class', 'broker-external-host', 'broker-max-event-bytes', 'broker-ttl']));
    expect(parseConfig({ 'config-wharf': { 'broker-ttl': '10' } }).problems).toEqual([]);
  });
});

describe('durations and backoff', () => {
  it.each([
    ['PT0.2S', 200],
    ['PT1S', 1000],
    ['PT1M30S', 90_000],
    ['P1DT1H', 90_000_000],
    ['PT0S', 0],
    ['1s', null],
    ['P', null],
    ['PT', null],
  ])('%s → %s', (raw, ms) => expect(parseIsoDuration(raw)).toBe(ms));

  it('uses the mt-broker formula: exponential d·2^(k-1), linear d·(k-1), optional cap', () => {
    const exp = { backoffPolicy: 'exponential' as const, backoffDelayMs: 200, backoffMaxMs: null };
    expect([1, 2, 3, 4].map((k) => backoffMs(exp, k))).toEqual([200, 400, 800, 1600]);
    const lin = { backoffPolicy: 'linear' as const, backoffDelayMs: 1000, backoffMaxMs: null };
    expect([1, 2, 3].map((k) => backoffMs(lin, k))).toEqual([0, 1000, 2000]);
    expect(backoffMs({ ...exp, backoffMaxMs: 500 }, 5)).toBe(500);
  });
});

describe('PingSource schedule validation', () => {
  it('rejects a cron expression croner cannot parse', () => {
    const ping: KObject = { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', metadata: { name: 'p', namespace: 'default' }, spec: { schedule: '61 * * * *', sink: { uri: 'http://x/' } } };
    const out = compileEventing([ping], cfg());
    expect(out.model.pings[0]!.ready).toBe(false);
    expect(out.problems[0]).toMatchObject({ field: 'spec.schedule', severity: 'error' });
  });
});
