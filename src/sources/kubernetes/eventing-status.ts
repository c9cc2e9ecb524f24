// Status of Brokers of wharf's class and of their Triggers (leader only), once the config that serves them is live:
// Broker `status.address.url` = http://wharf-broker-ingress.<ns>.svc.<cluster-domain>/<namespace>/<broker>;
// Trigger `subscriberUri` resolved from a URI or a ref (Knative Service or v1 Service → cluster-local URL).
import type { KObject } from '../../model/objects.js';
import { clusterLocalHost } from '../../model/hosts.js';
import { child } from '../../observability/logger.js';
import { CoalescedPass } from './coalesce.js';
import { BROKER_INGRESS_SERVICE, DEFAULT_CLUSTER_DOMAIN } from './constants.js';
import { RESOURCES, type KubernetesSource } from './kubernetes-source.js';
import { conditions, statusKey, type Condition } from './conditions.js';

const log = child('k8s-eventing-status');

/** Resolve a Trigger subscriber (Destination): absolute uri, or ref (+ relative uri). Null = unresolvable. */
export function resolveSubscriber(sub: any, ns: string, clusterDomain: string): string | null {
  if (!sub || typeof sub !== 'object') return null;
  const uri = typeof sub.uri === 'string' ? sub.uri : '';
  const ref = sub.ref;
  if (!ref) return /^https?:\/\//.test(uri) ? uri : null;
  const kinds = new Set(['serving.knative.dev/v1 Service', 'v1 Service']);
  if (!kinds.has(`${ref.apiVersion} ${ref.kind}`) || !ref.name) return null;
  const base = `http://${clusterLocalHost(ref.name, ref.namespace || ns, clusterDomain)}`;
  if (!uri) return base;
  return uri.startsWith('/') ? base + uri : `${base}/${uri}`;
}

/** What the compiled eventing model says about an object (snapshot.eventing is opaque to the router; read defensively). */
interface ModelState {
  ready: boolean;
  reason?: string;
}

interface ModelStates {
  brokers: Map<string, ModelState>;
  triggers: Map<string, ModelState>;
  /** `wharf-broker-ingress.<ns>.svc.<cd>` as the model serves it (config-wharf broker-ingress-namespace, cluster-domain). */
  brokerIngressHost?: string;
}

function modelStates(model: unknown): ModelStates | null {
  const m = model as { brokers?: unknown; subscribers?: unknown; config?: { gatewayIngressName?: unknown }; clusterDomain?: unknown } | null | undefined;
  if (!m || !(m.brokers instanceof Map) || !Array.isArray(m.subscribers)) return null;
  const brokers = new Map<string, ModelState>();
  for (const [k, b] of m.brokers as Map<string, ModelState>) if (typeof b?.ready === 'boolean') brokers.set(k, { ready: b.ready, reason: b.reason });
  const triggers = new Map<string, ModelState>();
  for (const sub of m.subscribers as { kind?: string; key?: string; ready?: boolean; reason?: string }[]) {
    if (sub?.kind === 'trigger' && typeof sub.key === 'string' && typeof sub.ready === 'boolean') triggers.set(sub.key, { ready: sub.ready, reason: sub.reason });
  }
  const gw = m.config?.gatewayIngressName;
  const cd = m.clusterDomain;
  return { brokers, triggers, brokerIngressHost: typeof gw === 'string' && typeof cd === 'string' ? `${gw}.svc.${cd}` : undefined };
}

export class EventingStatusWriter {
  private readonly passes = new CoalescedPass(() => this.pass());
  private model: ModelStates | null = null;

  private readonly clusterDomain: string;
  /** Until a model is live: wharf's own namespace (which the source also defaults broker-ingress-namespace to). */
  private readonly defaultBrokerIngressHost: string;
  private readonly now: () => number;

  constructor(
    private readonly source: KubernetesSource,
    private readonly elector: { readonly isLeader: boolean },
    opts: { namespace: string; clusterDomain?: string; now?: () => number },
  ) {
    this.clusterDomain = opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
    this.defaultBrokerIngressHost = clusterLocalHost(BROKER_INGRESS_SERVICE, opts.namespace, this.clusterDomain);
    this.now = opts.now ?? Date.now;
  }

  /** A snapshot went live: take the eventing model's verdicts (a Broker or Trigger it rejected is not Ready). */
  observe(eventingModel: unknown): void {
    this.model = modelStates(eventingModel);
    this.kick();
  }

  kick(): void {
    this.passes.kick();
  }

  private async pass(): Promise<void> {
    if (!this.elector.isLeader) return;
    const live = this.source.lastEmittedEventing();
    const brokers = new Set(live.filter((o) => o.kind === 'Broker').map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
    for (const o of live) {
      try {
        if (o.kind === 'Broker') await this.broker(o);
        else if (o.kind === 'Trigger') await this.trigger(o, brokers);
      } catch (err) {
        log.warn({ object: `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`, err: (err as Error).message }, 'status update failed');
      }
    }
  }

  private async write(o: KObject, plural: 'brokers' | 'triggers', status: Record<string, unknown>): Promise<void> {
    if (statusKey(o.status ?? {}) === statusKey(status)) return;
    const patch: Record<string, unknown> = { ...status };
    for (const k of Object.keys(o.status ?? {})) if (!(k in status)) patch[k] = null;
    await this.source.client.mergePatch({ ...RESOURCES[plural], namespace: o.metadata.namespace }, o.metadata.name, { status: patch }, 'status');
  }

  private async broker(o: KObject): Promise<void> {
    // The host the model serves, so a configured broker-ingress-namespace is also what status advertises.
    const host = this.model?.brokerIngressHost ?? this.defaultBrokerIngressHost;
    const url = `http://${host}/${o.metadata.namespace}/${o.metadata.name}`;
    const m = this.model?.brokers.get(`${o.metadata.namespace}/${o.metadata.name}`);
    const ok = m ? m.ready : true;
    const conds = conditions(
      o.status,
      [['Addressable', 'True'], ['FilterReady', 'True'], ['IngressReady', ok ? 'True' : 'False', ok ? undefined : 'NotServed', ok ? undefined : m?.reason], ['Ready', ok ? 'True' : 'False', ok ? undefined : 'NotServed', ok ? undefined : m?.reason]],
      this.now(),
    );
    await this.write(o, 'brokers', { observedGeneration: o.metadata.generation, conditions: conds, address: { name: 'http', url }, addresses: [{ name: 'http', url }] });
  }

  private async trigger(o: KObject, brokers: Set<string>): Promise<void> {
    const ns = o.metadata.namespace ?? '';
    const brokerOk = brokers.has(`${ns}/${(o.spec as { broker?: string })?.broker}`);
    const uri = resolveSubscriber((o.spec as { subscriber?: unknown })?.subscriber, ns, this.clusterDomain);
    const m = this.model?.triggers.get(`${ns}/${o.metadata.name}`);
    const served = m ? m.ready : true;
    const ready: Condition['status'] = brokerOk && uri && served ? 'True' : 'False';
    const conds = conditions(
      o.status,
      [
        ['BrokerReady', brokerOk ? 'True' : 'False', brokerOk ? undefined : 'BrokerDoesNotExist'],
        ['DependencyReady', 'True'],
        ['SubscriberResolved', uri ? 'True' : 'False', uri ? undefined : 'Unresolved', uri ? undefined : 'subscriber must be an absolute uri or a ref to a Knative Service or a Service'],
        ['SubscriptionReady', served ? 'True' : 'False', served ? undefined : 'NotServed', served ? undefined : m?.reason],
        ['Ready', ready, ready === 'True' ? undefined : !uri ? 'SubscriberResolvedFailed' : !served ? 'NotServed' : 'BrokerDoesNotExist', ready === 'True' || served ? undefined : m?.reason],
      ],
      this.now(),
    );
    const st: Record<string, unknown> = { observedGeneration: o.metadata.generation, conditions: conds };
    if (uri) st.subscriberUri = uri;
    await this.write(o, 'triggers', st);
  }
}
