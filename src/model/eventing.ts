// Pure compile of eventing objects (Broker, Trigger, Channel/InMemoryChannel, Subscription, PingSource) into the
// model the eventing runtime runs, plus the hosts the router must hand to the eventing handlers. No I/O here.
import type { KObject, Problem } from './objects.js';
import type { ObjectStatus } from './desired.js';
import { describe, keyOf } from './objects.js';
import type { ClusterConfig } from './config.js';
import { registerConfigKeys } from './config.js';
import { clusterLocalHost, expandedHosts, isDnsLabel, normalizeHost } from './hosts.js';
import { Cron } from 'croner';
import { compileTriggerFilter, type Filter } from '../eventing/filters.js';

import type { BuiltinHost } from './compile.js';
/** A host the router sends to a built-in handler instead of a backend (compile.ts's type). */
export type { BuiltinHost };

/** Handler names the eventing runtime answers to (`Eventing.handlerFor`). */
export const BROKER_HANDLER = 'eventing-broker';
export const CHANNEL_HANDLER = 'eventing-channel';

export const BROKER_CLASS_ANNOTATION = 'eventing.knative.dev/broker.class';
export const DELIVERY_ORDER_ANNOTATION = 'wharf.dev/delivery-order';
export const DELIVERY_CONCURRENCY_ANNOTATION = 'wharf.dev/delivery-concurrency';
export const DEFAULT_BROKER_CLASS = 'wharf';

/**
 * config-wharf keys read by eventing. `broker-class`: Brokers annotated `eventing.knative.dev/broker.class: <this>`
 * (or with no class annotation at all, as in a hand-written manifest) are served by wharf; others are ignored.
 */
export const EVENTING_CONFIG_KEYS: { key: string; default: string; doc: string }[] = [
  { key: 'broker-class', default: DEFAULT_BROKER_CLASS, doc: 'Broker class served by wharf (a Broker without a class annotation is served too).' },
  { key: 'broker-ingress-namespace', default: 'wharf-system', doc: 'Namespace of the wharf-broker-ingress Service: brokers are also served at wharf-broker-ingress.<ns>.svc.<cluster-domain>, the address wharf writes into Broker status in a cluster.' },
  { key: 'broker-external-host', default: '', doc: 'Also expose the broker ingress on the external plane at this host (for bare-metal producers); empty = internal only.' },
  { key: 'broker-max-event-bytes', default: '1048576', doc: 'Largest accepted event body; larger gets 413 (wharf extension; Knative sets no limit).' },
  { key: 'broker-ttl', default: '255', doc: 'Default knativebrokerttl (Knative MAX_TTL): hops an event may take through replies.' },
  { key: 'broker-segment-bytes', default: '16777216', doc: 'Log segment size; a segment is deleted once every trigger has passed it.' },
  { key: 'broker-delivery-concurrency', default: '100', doc: 'Default in-flight deliveries per trigger/subscription (annotation wharf.dev/delivery-concurrency overrides).' },
  { key: 'broker-delivery-timeout', default: 'PT60S', doc: 'Per-attempt timeout when delivery.timeout is not set (ISO-8601 duration).' },
  { key: 'broker-backoff-max', default: '', doc: 'Cap on a single retry wait (ISO-8601 duration; empty = no cap, as Knative). delivery.backoffMax overrides.' },
  { key: 'broker-default-retry', default: '10', doc: 'retry for a Trigger and Broker with no delivery spec (Knative config-br-defaults).' },
  { key: 'broker-default-backoff-policy', default: 'exponential', doc: 'backoffPolicy when no delivery spec is set.' },
  { key: 'broker-default-backoff-delay', default: 'PT0.2S', doc: 'backoffDelay when no delivery spec is set.' },
];
registerConfigKeys(EVENTING_CONFIG_KEYS.map((k) => ({ configMap: 'config-wharf', ...k })));

export interface EventingConfig {
  brokerClass: string;
  externalHost: string | null;
  /** `wharf-broker-ingress.<ns>`: the in-cluster Service name of wharf's broker ingress (Broker status address). */
  gatewayIngressName: string;
  maxEventBytes: number;
  ttl: number;
  segmentBytes: number;
  concurrency: number;
  defaultTimeoutMs: number;
  backoffMaxMs: number | null;
  defaultDelivery: DeliverySpec;
}

/** Where to send: the logical URL (what Knative would call it; used for knativeerrordest) and how to reach it. */
export interface Destination {
  url: string;
  /**
   * local: a broker/channel wharf serves, appended in-process; internal: a Knative Service, sent through wharf's
   * internal listener with Host = the URL's host; direct: straight to the URL.
   */
  via: 'local' | 'internal' | 'direct';
  local?: { kind: 'broker' | 'channel'; key: string };
}

export interface DeliverySpec {
  deadLetterSink: Destination | null;
  /** Extra attempts after the first. */
  retry: number;
  backoffPolicy: 'linear' | 'exponential';
  backoffDelayMs: number;
  backoffMaxMs: number | null;
  /** Per attempt. */
  timeoutMs: number;
  /** null = Retry-After is ignored (Knative's default). */
  retryAfterMaxMs: number | null;
  format: 'binary' | 'json';
}

export interface BrokerModel {
  key: string;
  namespace: string;
  name: string;
  /** Log stream id (also names its directory). */
  stream: string;
  address: string;
  externalAddress: string | null;
  delivery: DeliverySpec | null;
  ready: boolean;
  reason?: string;
}

export interface ChannelModel {
  key: string;
  namespace: string;
  name: string;
  kind: string;
  stream: string;
  address: string;
  hosts: string[];
  delivery: DeliverySpec | null;
}

/** A Trigger or a channel Subscription: one reader of one stream with its own cursor. */
export interface SubscriberModel {
  kind: 'trigger' | 'subscription';
  key: string;
  namespace: string;
  name: string;
  stream: string;
  /** Cursor name in the stream's cursor file. */
  cursor: string;
  filter: Filter | null;
  subscriber: Destination | null;
  /** Where replies go: a Trigger's own broker; a Subscription's spec.reply. */
  reply: Destination | null;
  delivery: DeliverySpec;
  ordered: boolean;
  concurrency: number;
  ready: boolean;
  reason?: string;
}

export interface PingModel {
  key: string;
  namespace: string;
  name: string;
  schedule: string;
  timezone: string | null;
  /** Event data as base64 (null = none). */
  dataBase64: string | null;
  contentType: string | null;
  source: string;
  sink: Destination | null;
  ready: boolean;
  reason?: string;
}

export interface EventingModel {
  config: EventingConfig;
  clusterDomain: string;
  brokers: Map<string, BrokerModel>;
  channels: Map<string, ChannelModel>;
  /** Every host form of every channel → channel key. */
  channelHosts: Map<string, string>;
  subscribers: SubscriberModel[];
  pings: PingModel[];
}

export const BROKER_INGRESS_NAME = 'broker-ingress.knative-eventing';
/** The Service wharf's cluster manifests put in front of the broker ingress (docker/kubernetes). */
export const GATEWAY_BROKER_INGRESS = 'wharf-broker-ingress';

// ---------------------------------------------------------------- durations

/** ISO-8601 duration (PnDTnHnMnS, fractional seconds allowed; weeks too) → ms; null if unreadable. */
export function parseIsoDuration(raw: unknown): number | null {
  if (typeof raw !== 'string') return null;
  const m = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(raw.trim());
  if (!m || raw.trim().toUpperCase() === 'P' || /T$/i.test(raw.trim())) return null;
  const [, w, d, h, mi, s] = m;
  return Math.round((Number(w ?? 0) * 604800 + Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(mi ?? 0) * 60 + Number(s ?? 0)) * 1000);
}

/**
 * Wait before retry number `k` (1-based), as Knative's mt-broker actually behaves (go-retryablehttp passes the
 * 0-based attempt index to the backoff function): exponential = delay·2^(k-1) → 0.2, 0.4, 0.8 s…;
 * linear = delay·(k-1) → the first retry is immediate, then delay, 2·delay…  Capped by backoffMax when set.
 */
export function backoffMs(d: Pick<DeliverySpec, 'backoffPolicy' | 'backoffDelayMs' | 'backoffMaxMs'>, k: number): number {
  const n = Math.max(0, k - 1);
  const raw = d.backoffPolicy === 'exponential' ? d.backoffDelayMs * 2 ** n : d.backoffDelayMs * n;
  return d.backoffMaxMs !== null ? Math.min(raw, d.backoffMaxMs) : raw;
}

// ---------------------------------------------------------------- config

export function parseEventingConfig(config: ClusterConfig, problems: Problem[]): EventingConfig {
  const data = config.raw['config-wharf'] ?? {};
  const get = (k: string): string | undefined => {
    const v = data[k];
    return v === undefined || v === null || String(v).trim() === '' ? undefined : String(v).trim();
  };
  const bad = (k: string, msg: string): void => {
    problems.push({ severity: 'error', object: 'ConfigMap config-wharf', field: `data.${k}`, message: msg });
  };
  const int = (k: string, def: number, min: number): number => {
    const v = get(k);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      bad(k, `"${v}" must be an integer ≥ ${min}`);
      return def;
    }
    return n;
  };
  const dur = (k: string, def: number | null): number | null => {
    const v = get(k);
    if (v === undefined) return def;
    const ms = parseIsoDuration(v);
    if (ms === null) {
      bad(k, `"${v}" is not an ISO-8601 duration (e.g. PT0.2S)`);
      return def;
    }
    return ms;
  };
  let externalHost: string | null = null;
  const eh = get('broker-external-host');
  if (eh !== undefined) {
    externalHost = normalizeHost(eh);
    if (externalHost === null) bad('broker-external-host', `"${eh}" is not a host name`);
  }
  const policy = get('broker-default-backoff-policy') ?? 'exponential';
  if (policy !== 'linear' && policy !== 'exponential') bad('broker-default-backoff-policy', 'must be linear or exponential');
  const backoffMaxMs = dur('broker-backoff-max', null);
  const defaultTimeoutMs = dur('broker-delivery-timeout', 60_000)!;
  const ingressNs = get('broker-ingress-namespace') ?? 'wharf-system';
  if (!isDnsLabel(ingressNs)) bad('broker-ingress-namespace', `"${ingressNs}" is not a namespace name`);
  return {
    brokerClass: get('broker-class') ?? DEFAULT_BROKER_CLASS,
    externalHost,
    gatewayIngressName: `${GATEWAY_BROKER_INGRESS}.${ingressNs}`,
    maxEventBytes: int('broker-max-event-bytes', 1 << 20, 1024),
    ttl: int('broker-ttl', 255, 1),
    segmentBytes: int('broker-segment-bytes', 16 << 20, 4096),
    concurrency: int('broker-delivery-concurrency', 100, 1),
    defaultTimeoutMs,
    backoffMaxMs,
    defaultDelivery: {
      deadLetterSink: null,
      retry: int('broker-default-retry', 10, 0),
      backoffPolicy: policy === 'linear' ? 'linear' : 'exponential',
      backoffDelayMs: dur('broker-default-backoff-delay', 200)!,
      backoffMaxMs,
      timeoutMs: defaultTimeoutMs,
      retryAfterMaxMs: null,
      format: 'binary',
    },
  };
}

// ---------------------------------------------------------------- compile

interface Ctx {
  config: EventingConfig;
  clusterDomain: string;
  problems: Problem[];
  brokers: Map<string, BrokerModel>;
  channels: Map<string, ChannelModel>;
  /** Brokers of another class: triggers on them are not ours. */
  foreignBrokers: Set<string>;
  /** See EventingConfig.gatewayIngressName. */
  gatewayIngressName?: string;
}

const brokerAddress = (cd: string, ns: string, name: string): string => `http://${BROKER_INGRESS_NAME}.svc.${cd}/${ns}/${name}`;
const channelHost = (cd: string, ns: string, name: string): string => clusterLocalHost(`${name}-kn-channel`, ns, cd);

function err(ctx: Ctx, o: KObject, field: string | undefined, message: string, severity: Problem['severity'] = 'error'): void {
  ctx.problems.push({ severity, object: describe(o), field, message });
}

/** One object's readiness: each failure becomes a problem on its field, and the first one is the not-ready reason. */
class Verdict {
  ready = true;
  reason: string | undefined;
  constructor(
    private readonly ctx: Ctx,
    private readonly o: KObject,
  ) {}
  /** Not ready; `reason` is kept only if it is the first. */
  notReady(reason: string): void {
    this.ready = false;
    this.reason ??= reason;
  }
  /** A reporter for `field`, for resolvers that take an error callback. */
  fail(field: string): (m: string) => void {
    return (m) => {
      err(this.ctx, this.o, field, m);
      this.notReady(`${field}: ${m}`);
    };
  }
}

/** Resolve a duck Destination ({ref, uri}) in namespace `ns`. Returns null (with a problem) when it cannot. */
export function resolveDestination(dest: unknown, ns: string, ctx: Pick<Ctx, 'clusterDomain' | 'brokers' | 'channels' | 'gatewayIngressName'>, onError: (msg: string) => void): Destination | null {
  if (dest === null || typeof dest !== 'object') {
    onError('must have ref or uri');
    return null;
  }
  const d = dest as { ref?: { apiVersion?: string; kind?: string; name?: string; namespace?: string }; uri?: unknown };
  const cd = ctx.clusterDomain;
  const uri = typeof d.uri === 'string' && d.uri !== '' ? d.uri : null;
  if (d.uri !== undefined && uri === null) {
    onError('uri must be a non-empty string');
    return null;
  }
  if (d.ref) {
    const r = d.ref;
    if (!r.kind || !r.name) {
      onError('ref needs kind and name');
      return null;
    }
    const rns = r.namespace || ns;
    const group = (r.apiVersion ?? '').split('/').length > 1 ? r.apiVersion!.slice(0, r.apiVersion!.lastIndexOf('/')) : '';
    const key = `${rns}/${r.name}`;
    let base: Destination;
    if (r.kind === 'Service' && group === 'serving.knative.dev') {
      base = { url: `http://${clusterLocalHost(r.name, rns, cd)}`, via: 'internal' };
    } else if (r.kind === 'Service' && group === '') {
      base = { url: `http://${clusterLocalHost(r.name, rns, cd)}`, via: 'direct' };
    } else if (r.kind === 'Broker' && group === 'eventing.knative.dev') {
      const b = ctx.brokers.get(key);
      if (!b) {
        onError(`Broker ${key} is not served by wharf (unknown, or of another class)`);
        return null;
      }
      return { url: b.address, via: 'local', local: { kind: 'broker', key } };
    } else if ((r.kind === 'Channel' || r.kind === 'InMemoryChannel') && group === 'messaging.knative.dev') {
      const c = ctx.channels.get(key);
      if (!c) {
        onError(`${r.kind} ${key} not found`);
        return null;
      }
      return { url: c.address, via: 'local', local: { kind: 'channel', key } };
    } else {
      onError(`unsupported ref ${r.apiVersion ?? ''} ${r.kind} (supported: Knative Service, core Service, Broker, Channel, InMemoryChannel)`);
      return null;
    }
    if (uri) {
      // A relative uri next to a ref is a path on the ref's address.
      try {
        base = { ...base, url: new URL(uri, base.url + '/').toString() };
      } catch {
        onError(`uri "${uri}" is not a valid relative reference`);
        return null;
      }
    }
    return base;
  }
  if (!uri) {
    onError('must have ref or uri');
    return null;
  }
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    onError(`uri "${uri}" is not an absolute URL`);
    return null;
  }
  // A URI that names a broker or channel wharf serves is appended in-process (no network hop).
  const host = u.hostname.toLowerCase();
  if (host.startsWith(BROKER_INGRESS_NAME) || host.startsWith((ctx.gatewayIngressName ?? '\0'))) {
    const parts = u.pathname.split('/').filter(Boolean);
    if (parts.length === 2 && ctx.brokers.has(`${parts[0]}/${parts[1]}`)) {
      const key = `${parts[0]}/${parts[1]}`;
      return { url: uri, via: 'local', local: { kind: 'broker', key } };
    }
  }
  for (const c of ctx.channels.values()) {
    if (c.hosts.includes(host)) return { url: uri, via: 'local', local: { kind: 'channel', key: c.key } };
  }
  return { url: uri, via: 'direct' };
}

function compileDelivery(spec: unknown, o: KObject, field: string, ctx: Ctx, ns: string): DeliverySpec | null | false {
  if (spec === undefined || spec === null) return null;
  if (typeof spec !== 'object') {
    err(ctx, o, field, 'must be an object');
    return false;
  }
  const s = spec as Record<string, unknown>;
  let ok = true;
  const d: DeliverySpec = {
    deadLetterSink: null,
    retry: 0,
    backoffPolicy: 'exponential',
    backoffDelayMs: 0,
    backoffMaxMs: ctx.config.backoffMaxMs,
    timeoutMs: ctx.config.defaultTimeoutMs,
    retryAfterMaxMs: null,
    format: 'binary',
  };
  if (s.deadLetterSink !== undefined) {
    d.deadLetterSink = resolveDestination(s.deadLetterSink, ns, ctx, (m) => {
      err(ctx, o, `${field}.deadLetterSink`, m);
      ok = false;
    });
  }
  if (s.retry !== undefined) {
    if (typeof s.retry !== 'number' || !Number.isInteger(s.retry) || s.retry < 0) {
      err(ctx, o, `${field}.retry`, 'must be an integer ≥ 0');
      ok = false;
    } else d.retry = s.retry;
  }
  if (s.backoffPolicy !== undefined) {
    if (s.backoffPolicy !== 'linear' && s.backoffPolicy !== 'exponential') {
      err(ctx, o, `${field}.backoffPolicy`, 'must be linear or exponential');
      ok = false;
    } else d.backoffPolicy = s.backoffPolicy;
  }
  const durField = (name: string, min: number): number | null | undefined => {
    const v = s[name];
    if (v === undefined || v === null) return undefined;
    const ms = parseIsoDuration(v);
    if (ms === null || ms < min) {
      err(ctx, o, `${field}.${name}`, `"${String(v)}" is not a valid ISO-8601 duration${min > 0 ? ' > 0' : ''}`);
      ok = false;
      return null;
    }
    return ms;
  };
  const delay = durField('backoffDelay', 0);
  if (typeof delay === 'number') d.backoffDelayMs = delay;
  const max = durField('backoffMax', 0);
  if (typeof max === 'number') d.backoffMaxMs = max;
  const timeout = durField('timeout', 1);
  if (typeof timeout === 'number') d.timeoutMs = timeout;
  const ra = durField('retryAfterMax', 0);
  if (typeof ra === 'number') d.retryAfterMaxMs = ra === 0 ? null : ra;
  if (s.format !== undefined) {
    if (s.format !== 'json' && s.format !== 'binary') {
      err(ctx, o, `${field}.format`, 'must be json or binary');
      ok = false;
    } else d.format = s.format;
  }
  return ok ? d : false;
}

function readAnnotations(o: KObject, ctx: Ctx): { ordered: boolean; concurrency: number } {
  const a = o.metadata.annotations ?? {};
  let ordered = false;
  const order = a[DELIVERY_ORDER_ANNOTATION];
  if (order !== undefined) {
    if (order === 'ordered') ordered = true;
    else if (order !== 'unordered') err(ctx, o, `metadata.annotations.${DELIVERY_ORDER_ANNOTATION}`, 'must be "ordered" or "unordered"', 'warning');
  }
  let concurrency = ctx.config.concurrency;
  const c = a[DELIVERY_CONCURRENCY_ANNOTATION];
  if (c !== undefined) {
    const n = Number(c);
    if (Number.isInteger(n) && n >= 1) concurrency = n;
    else err(ctx, o, `metadata.annotations.${DELIVERY_CONCURRENCY_ANNOTATION}`, 'must be an integer ≥ 1', 'warning');
  }
  return { ordered, concurrency };
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '');

export function compileEventing(objects: readonly KObject[], config: ClusterConfig): { model: EventingModel; builtins: BuiltinHost[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const ecfg = parseEventingConfig(config, problems);
  const cd = config.clusterDomain;
  const ctx: Ctx = { config: ecfg, clusterDomain: cd, problems, brokers: new Map(), channels: new Map(), foreignBrokers: new Set(), gatewayIngressName: ecfg.gatewayIngressName };
  const byKind = (g: string, kinds: string[]): KObject[] =>
    objects.filter((o) => groupOf(o.apiVersion) === g && kinds.includes(o.kind)).sort((a, b) => keyOf(a.metadata).localeCompare(keyOf(b.metadata)));
  const nsOf = (o: KObject): string => o.metadata.namespace || 'default';

  // Brokers and channels first: triggers, subscriptions and sinks resolve against them.
  const brokerObjs = byKind('eventing.knative.dev', ['Broker']);
  for (const o of brokerObjs) {
    const ns = nsOf(o);
    const key = `${ns}/${o.metadata.name}`;
    const cls = o.metadata.annotations?.[BROKER_CLASS_ANNOTATION];
    if (cls !== undefined && cls !== ecfg.brokerClass) {
      ctx.foreignBrokers.add(key);
      continue;
    }
    ctx.brokers.set(key, {
      key,
      namespace: ns,
      name: o.metadata.name,
      stream: `broker.${ns}.${o.metadata.name}`,
      address: brokerAddress(cd, ns, o.metadata.name),
      externalAddress: ecfg.externalHost ? `http://${ecfg.externalHost}/${ns}/${o.metadata.name}` : null,
      delivery: null,
      ready: true,
    });
  }
  const channelHosts = new Map<string, string>();
  for (const o of byKind('messaging.knative.dev', ['Channel', 'InMemoryChannel'])) {
    const ns = nsOf(o);
    const key = `${ns}/${o.metadata.name}`;
    if (ctx.channels.has(key)) {
      err(ctx, o, 'metadata.name', `a channel named ${key} already exists`);
      continue;
    }
    const full = channelHost(cd, ns, o.metadata.name);
    const hosts = expandedHosts([full], cd);
    ctx.channels.set(key, { key, namespace: ns, name: o.metadata.name, kind: o.kind, stream: `channel.${ns}.${o.metadata.name}`, address: `http://${full}`, hosts, delivery: null });
    for (const h of hosts) channelHosts.set(h, key);
  }
  // Delivery specs may name a broker or channel as dead-letter sink, so they resolve after all are known.
  for (const o of brokerObjs) {
    const b = ctx.brokers.get(`${nsOf(o)}/${o.metadata.name}`);
    if (!b) continue;
    const d = compileDelivery(o.spec?.delivery, o, 'spec.delivery', ctx, b.namespace);
    if (d === false) {
      b.ready = false;
      b.reason = 'invalid spec.delivery';
    } else b.delivery = d;
  }
  for (const o of byKind('messaging.knative.dev', ['Channel', 'InMemoryChannel'])) {
    const c = ctx.channels.get(`${nsOf(o)}/${o.metadata.name}`);
    if (!c) continue;
    const d = compileDelivery(o.spec?.delivery, o, 'spec.delivery', ctx, c.namespace);
    if (d !== false) c.delivery = d;
  }

  const subscribers: SubscriberModel[] = [];
  for (const o of byKind('eventing.knative.dev', ['Trigger'])) {
    const ns = nsOf(o);
    const key = `${ns}/${o.metadata.name}`;
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    const brokerName = spec.broker;
    if (typeof brokerName !== 'string' || brokerName === '') {
      err(ctx, o, 'spec.broker', 'required');
      continue;
    }
    const bkey = `${ns}/${brokerName}`;
    if (ctx.foreignBrokers.has(bkey)) continue; // another broker class owns this trigger
    const broker = ctx.brokers.get(bkey);
    const { ordered, concurrency } = readAnnotations(o, ctx);
    const f = compileTriggerFilter(spec, { object: describe(o), problems });
    let ready = f.ok;
    let reason = f.ok ? undefined : 'invalid filter';
    const subscriber = resolveDestination(spec.subscriber, ns, ctx, (m) => {
      err(ctx, o, 'spec.subscriber', m);
      ready = false;
      reason ??= 'subscriber not resolved';
    });
    const own = compileDelivery(spec.delivery, o, 'spec.delivery', ctx, ns);
    if (own === false) {
      ready = false;
      reason ??= 'invalid spec.delivery';
    }
    if (!broker) {
      // Knative allows a Trigger to precede its Broker; it just is not ready.
      err(ctx, o, 'spec.broker', `Broker ${bkey} not found`, 'warning');
      ready = false;
      reason ??= 'broker not found';
    }
    // spec.delivery replaces the broker's as a whole (not per field).
    const delivery = (own || null) ?? broker?.delivery ?? ecfg.defaultDelivery;
    subscribers.push({
      kind: 'trigger',
      key,
      namespace: ns,
      name: o.metadata.name,
      stream: broker?.stream ?? `broker.${ns}.${brokerName}`,
      cursor: `trigger/${key}`,
      filter: f.filter,
      subscriber,
      reply: broker ? { url: broker.address, via: 'local', local: { kind: 'broker', key: bkey } } : null,
      delivery,
      ordered,
      concurrency,
      ready,
      reason,
    });
  }

  for (const o of byKind('messaging.knative.dev', ['Subscription'])) {
    const ns = nsOf(o);
    const key = `${ns}/${o.metadata.name}`;
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    const chRef = spec.channel as { kind?: string; name?: string } | undefined;
    if (!chRef || typeof chRef.name !== 'string') {
      err(ctx, o, 'spec.channel', 'required (apiVersion, kind, name)');
      continue;
    }
    const ckey = `${ns}/${chRef.name}`;
    const channel = ctx.channels.get(ckey);
    const v = new Verdict(ctx, o);
    const fail = (field: string) => v.fail(field);
    if (!channel) fail('spec.channel')(`channel ${ckey} not found`);
    const subscriber = spec.subscriber !== undefined ? resolveDestination(spec.subscriber, ns, ctx, fail('spec.subscriber')) : null;
    const reply = spec.reply !== undefined ? resolveDestination(spec.reply, ns, ctx, fail('spec.reply')) : null;
    if (!subscriber && !reply && spec.subscriber === undefined && spec.reply === undefined) fail('spec')('needs a subscriber or a reply');
    const own = compileDelivery(spec.delivery, o, 'spec.delivery', ctx, ns);
    if (own === false) v.notReady('invalid spec.delivery');
    const { ordered, concurrency } = readAnnotations(o, ctx);
    subscribers.push({
      kind: 'subscription',
      key,
      namespace: ns,
      name: o.metadata.name,
      stream: channel?.stream ?? `channel.${ns}.${chRef.name}`,
      cursor: `subscription/${key}`,
      filter: null,
      subscriber,
      reply,
      delivery: (own || null) ?? channel?.delivery ?? ecfg.defaultDelivery,
      ordered,
      concurrency,
      ready: v.ready,
      reason: v.reason,
    });
  }

  const pings: PingModel[] = [];
  for (const o of byKind('sources.knative.dev', ['PingSource'])) {
    const ns = nsOf(o);
    const key = `${ns}/${o.metadata.name}`;
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    const v = new Verdict(ctx, o);
    const fail = (field: string) => v.fail(field);
    let schedule = typeof spec.schedule === 'string' ? spec.schedule.trim() : '';
    let timezone = typeof spec.timezone === 'string' && spec.timezone !== '' ? spec.timezone : null;
    // robfig/cron's CRON_TZ= / TZ= prefix, which Knative also accepts.
    const tzPrefix = /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(schedule);
    if (tzPrefix) {
      timezone ??= tzPrefix[1]!;
      schedule = tzPrefix[2]!;
    }
    if (schedule === '') fail('spec.schedule')('required (cron expression)');
    else if (!/^(@\w+|(\S+\s+){4,5}\S+)$/.test(schedule)) fail('spec.schedule')(`"${schedule}" is not a cron expression (5 fields, or 6 with seconds)`);
    let tzOk = true;
    if (timezone !== null) {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: timezone });
      } catch {
        tzOk = false;
        fail('spec.timezone')(`unknown time zone "${timezone}"`);
      }
    }
    if (v.ready && tzOk) {
      try {
        new Cron(schedule, { paused: true, timezone: timezone ?? undefined }); // parse only; never started here
      } catch (e) {
        fail('spec.schedule')(`"${schedule}": ${(e as Error).message}`);
      }
    }
    let dataBase64: string | null = null;
    if (typeof spec.data === 'string' && spec.dataBase64 !== undefined) fail('spec')('data and dataBase64 are mutually exclusive');
    else if (typeof spec.data === 'string') dataBase64 = Buffer.from(spec.data, 'utf8').toString('base64');
    else if (typeof spec.dataBase64 === 'string') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(spec.dataBase64.replace(/\s+/g, ''))) fail('spec.dataBase64')('not valid base64');
      else dataBase64 = spec.dataBase64.replace(/\s+/g, '');
    }
    const sink = resolveDestination(spec.sink, ns, ctx, fail('spec.sink'));
    pings.push({
      key,
      namespace: ns,
      name: o.metadata.name,
      schedule,
      timezone,
      dataBase64,
      contentType: typeof spec.contentType === 'string' && spec.contentType !== '' ? spec.contentType : null,
      source: `/apis/v1/namespaces/${ns}/pingsources/${o.metadata.name}`,
      sink,
      ready: v.ready,
      reason: v.reason,
    });
  }

  const builtins: BuiltinHost[] = [];
  if (ctx.brokers.size > 0) {
    // Knative's broker-ingress name (what standalone users and existing sinks use) and wharf's own Service name in a
    // cluster (what wharf writes into Broker status) both reach the same ingress.
    for (const name of [BROKER_INGRESS_NAME, ecfg.gatewayIngressName]) {
      for (const h of expandedHosts([`${name}.svc.${cd}`], cd)) builtins.push({ host: h, visibility: 'ClusterLocal', handler: BROKER_HANDLER });
    }
    if (ecfg.externalHost) builtins.push({ host: ecfg.externalHost, visibility: 'ExternalIP', handler: BROKER_HANDLER });
  }
  for (const h of [...channelHosts.keys()].sort()) builtins.push({ host: h, visibility: 'ClusterLocal', handler: CHANNEL_HANDLER });

  return {
    model: { config: ecfg, clusterDomain: cd, brokers: ctx.brokers, channels: ctx.channels, channelHosts, subscribers, pings },
    builtins,
    problems,
  };
}

/** Per-object status for `wharf routes` and logs: brokers and channels with their address, triggers/subscriptions/pings with readiness. */
export function eventingStatuses(model: EventingModel): ObjectStatus[] {
  const out: ObjectStatus[] = [];
  for (const b of model.brokers.values()) out.push({ object: `Broker ${b.key}`, ready: b.ready, reason: b.reason, url: b.address });
  for (const c of model.channels.values()) out.push({ object: `${c.kind} ${c.key}`, ready: true, url: c.address });
  for (const s of model.subscribers) {
    out.push({ object: `${s.kind === 'trigger' ? 'Trigger' : 'Subscription'} ${s.key}`, ready: s.ready, reason: s.reason, url: s.subscriber?.url ?? s.reply?.url });
  }
  for (const p of model.pings) out.push({ object: `PingSource ${p.key}`, ready: p.ready, reason: p.reason, url: p.sink?.url });
  return out;
}
