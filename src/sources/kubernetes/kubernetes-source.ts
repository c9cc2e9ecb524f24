// The cluster Source: list/watch the objects a Kourier replacement needs (KIngresses of our class, Services,
// EndpointSlices, TLS Secrets, Knative's ConfigMaps, Revisions, Brokers/Triggers) and hand a `Desired` to the runtime
// after every burst of changes. While the API is unreachable the caches keep their contents, so the last config
// keeps serving.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Desired } from '../../model/desired.js';
import type { KObject } from '../../model/objects.js';
import { child } from '../../observability/logger.js';
import type { Source } from '../source.js';
import { KubeClient, type ResourceRef } from './client.js';
import {
  DEFAULT_NAMESPACE,
  INGRESS_CLASS_ANNOTATION,
  KNATIVE_SERVING_NAMESPACE,
  WHARF_BROKER_CLASS,
  WHARF_INGRESS_CLASS,
} from './constants.js';
import { Reflector } from './reflector.js';
import { translate, type IngressVersion } from './translate.js';

const log = child('k8s-source');

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig;
  ingressClass?: string;
  brokerClass?: string;
  /** Where config-network & co live (default knative-serving). */
  servingNamespace?: string;
  /** wharf's own namespace (Lease, gateway Services, default certificates). */
  namespace?: string;
  /** Cluster domain (WHARF_CLUSTER_DOMAIN): the default for config-wharf cluster-domain. */
  clusterDomain?: string;
  /** Quiet time after the last change before a new Desired is built (default 60 ms, never more than 4× that). */
  debounceMs?: number;
  /** Watch server timeout (default 300 s). */
  watchTimeoutSeconds?: number;
  /** How often to look again for a resource type that is not installed, e.g. Knative Eventing (default 30 s). */
  absentRetryMs?: number;
  /** Skip Revisions / eventing when those CRDs are not installed. */
  serving?: boolean;
  eventing?: boolean;
}

export const RESOURCES = {
  ingresses: { group: 'networking.internal.knative.dev', version: 'v1alpha1', plural: 'ingresses' },
  services: { group: '', version: 'v1', plural: 'services' },
  endpointSlices: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
  secrets: { group: '', version: 'v1', plural: 'secrets' },
  configMaps: { group: '', version: 'v1', plural: 'configmaps' },
  revisions: { group: 'serving.knative.dev', version: 'v1', plural: 'revisions' },
  brokers: { group: 'eventing.knative.dev', version: 'v1', plural: 'brokers' },
  triggers: { group: 'eventing.knative.dev', version: 'v1', plural: 'triggers' },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' },
} satisfies Record<string, ResourceRef>;

export class KubernetesSource implements Source {
  readonly client: KubeClient;
  readonly ingressClass: string;
  readonly namespace: string;
  readonly reflectors: Record<'ingresses' | 'services' | 'endpointSlices' | 'secrets' | 'configMaps' | 'revisions' | 'brokers' | 'triggers', Reflector | null>;
  private onDesired: ((d: Desired) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private firstChangeAt = 0;
  private started = false;
  private emitted = new Map<string, IngressVersion>();
  private emittedEventing: readonly KObject[] = [];
  private readonly listeners: (() => void)[] = [];
  private readonly debounceMs: number;

  constructor(private readonly opts: KubernetesSourceOptions) {
    this.client = new KubeClient(opts.kubeConfig);
    this.ingressClass = opts.ingressClass ?? WHARF_INGRESS_CLASS;
    this.namespace = opts.namespace ?? DEFAULT_NAMESPACE;
    this.debounceMs = opts.debounceMs ?? 60;
    const changed = (): void => this.changed();
    const ro = { watchTimeoutSeconds: opts.watchTimeoutSeconds, absentRetryMs: opts.absentRetryMs };
    const mk = (r: ResourceRef, extra: Partial<ConstructorParameters<typeof Reflector>[3]> = {}): Reflector => new Reflector(this.client, r, changed, { ...ro, ...extra });
    this.reflectors = {
      // Only our class: anything else is invisible to wharf, so it can never be touched.
      ingresses: mk(RESOURCES.ingresses, { filter: (o) => this.owns(o) }),
      services: mk(RESOURCES.services),
      endpointSlices: mk(RESOURCES.endpointSlices),
      secrets: mk(RESOURCES.secrets, { fieldSelector: 'type=kubernetes.io/tls' }),
      configMaps: mk({ ...RESOURCES.configMaps, namespace: opts.servingNamespace ?? KNATIVE_SERVING_NAMESPACE }),
      revisions: opts.serving === false ? null : mk(RESOURCES.revisions),
      brokers: opts.eventing === false ? null : mk(RESOURCES.brokers),
      triggers: opts.eventing === false ? null : mk(RESOURCES.triggers),
    };
  }

  /** Is this KIngress ours (class annotation equal to our class)? */
  owns(o: KObject): boolean {
    return o.metadata.annotations?.[INGRESS_CLASS_ANNOTATION] === this.ingressClass;
  }

  /** Starts every watch and resolves once each has listed and the first Desired was handed over. */
  async start(onDesired: (d: Desired) => void): Promise<void> {
    this.onDesired = onDesired;
    const all = Object.values(this.reflectors).filter((r): r is Reflector => r !== null);
    for (const r of all) r.start();
    await Promise.all(all.map((r) => r.waitForSync()));
    this.started = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.emit();
  }

  async stop(): Promise<void> {
    this.onDesired = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const r of Object.values(this.reflectors)) r?.stop();
  }

  /** The ingress versions in the last Desired handed to the runtime. */
  lastEmitted(): ReadonlyMap<string, IngressVersion> {
    return this.emitted;
  }

  /** Brokers of our class and their Triggers, as handed to the runtime last. */
  lastEmittedEventing(): readonly KObject[] {
    return this.emittedEventing;
  }

  /** Called after each emitted Desired (the status writer follows along). */
  onEmit(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Every KIngress of our class as the cache has it, including those being deleted. */
  ownedIngresses(): KObject[] {
    return this.reflectors.ingresses!.list();
  }

  private changed(): void {
    if (!this.started) return; // the first Desired waits for every initial list
    const now = Date.now();
    if (!this.timer) this.firstChangeAt = now;
    else clearTimeout(this.timer);
    // Coalesce a burst, but never hold a change back for long.
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstChangeAt + this.debounceMs * 4 - now));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.emit();
    }, wait);
  }

  private emit(): void {
    if (!this.onDesired) return;
    const list = (r: Reflector | null): KObject[] => r?.list() ?? [];
    const t = translate(
      {
        ingresses: list(this.reflectors.ingresses),
        services: list(this.reflectors.services),
        endpointSlices: list(this.reflectors.endpointSlices),
        secrets: list(this.reflectors.secrets),
        configMaps: list(this.reflectors.configMaps),
        revisions: list(this.reflectors.revisions),
        brokers: list(this.reflectors.brokers),
        triggers: list(this.reflectors.triggers),
      },
      { brokerClass: this.opts.brokerClass ?? WHARF_BROKER_CLASS, ownNamespace: this.namespace, clusterDomain: this.opts.clusterDomain },
    );
    this.emitted = t.ingresses;
    this.emittedEventing = t.desired.eventing;
    log.debug({ ingresses: t.desired.ingresses.length, services: t.desired.services.length }, 'cluster config changed');
    try {
      this.onDesired(t.desired);
    } catch (err) {
      log.error({ err }, 'applying the cluster config failed');
    }
    for (const l of this.listeners) l();
  }
}
