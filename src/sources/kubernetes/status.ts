// KIngress status as Kourier writes it, from the leader only: a finalizer on every owned ingress (removed once its
// config is gone after deletion), observedGeneration, NetworkConfigured once the generation is live, and
// LoadBalancerReady only after the prober saw the new hash on every gateway pod (or False on a DomainConflict).
// Objects of another class are never in the source's cache, so they are never touched.
import type { KObject, Problem } from '../../model/objects.js';
import { clusterLocalHost } from '../../model/hosts.js';
import { child } from '../../observability/logger.js';
import { ApiStatusError } from './client.js';
import { CoalescedPass } from './coalesce.js';
import { DEFAULT_CLUSTER_DOMAIN, INGRESS_FINALIZER, INTERNAL_SERVICE, PUBLIC_SERVICE } from './constants.js';
import { RESOURCES, type KubernetesSource } from './kubernetes-source.js';
import type { IngressProber } from './prober.js';
import type { IngressVersion } from './translate.js';
import { NOT_SERVED } from './compile-policy.js';
import { conditions as withTransitions, statusKey, type Condition, type WantedCondition } from './conditions.js';

const log = child('k8s-status');

export type LbState = { kind: 'ready' } | { kind: 'waiting' } | { kind: 'failed'; reason: string; message: string };

export interface StatusWriterOptions {
  source: KubernetesSource;
  elector: { readonly isLeader: boolean };
  prober: IngressProber;
  /** wharf's namespace, for the load balancer addresses. */
  namespace: string;
  clusterDomain?: string;
  publicService?: string;
  internalService?: string;
  now?: () => number;
}

const WAITING = 'Waiting for load balancer to be ready';
const CONFLICT = 'Ingress rejected as its domain conflicts with another ingress';

/**
 * The status Knative's lifecycle helpers produce (v1alpha1/ingress_lifecycle.go): conditions sorted by type, with
 * lastTransitionTime kept while a condition's status does not change.
 */
export function ingressStatus(prev: any, generation: number, lb: LbState, addrs: { public: string; private: string }, nowMs: number): Record<string, unknown> {
  const want: WantedCondition[] = [];
  if (lb.kind === 'ready') want.push(['LoadBalancerReady', 'True']);
  else if (lb.kind === 'waiting') want.push(['LoadBalancerReady', 'Unknown', 'Uninitialized', WAITING]);
  else want.push(['LoadBalancerReady', 'False', lb.reason, lb.message]);
  // An ingress the compiler refused was never programmed: NetworkConfigured says so too.
  if (lb.kind === 'failed' && lb.reason === 'Invalid') want.push(['NetworkConfigured', 'False', lb.reason, lb.message]);
  else want.push(['NetworkConfigured', 'True']);
  if (lb.kind === 'ready') want.push(['Ready', 'True']);
  else if (lb.kind === 'waiting') want.push(['Ready', 'Unknown', 'Uninitialized', WAITING]);
  else want.push(['Ready', 'False', lb.reason, lb.message]);
  const st: Record<string, unknown> = { observedGeneration: generation, conditions: withTransitions(prev, want, nowMs) };
  if (lb.kind === 'ready') {
    st.publicLoadBalancer = { ingress: [{ domainInternal: addrs.public }] };
    st.privateLoadBalancer = { ingress: [{ domainInternal: addrs.private }] };
  } else {
    // MarkLoadBalancerNotReady/Failed keep whatever addresses were there.
    if (prev?.publicLoadBalancer) st.publicLoadBalancer = prev.publicLoadBalancer;
    if (prev?.privateLoadBalancer) st.privateLoadBalancer = prev.privateLoadBalancer;
  }
  return st;
}

export class IngressStatusWriter {
  private live: ReadonlyMap<string, IngressVersion> = new Map();
  private conflicts = new Map<string, string>(); // ingress key → message
  private invalid = new Map<string, string>(); // ingress key → why the compiler did not serve it
  private readonly passes = new CoalescedPass(() => this.pass(), () => !this.stopped);
  private readonly written = new Map<string, string>();
  private readonly addrs: { public: string; private: string };
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: StatusWriterOptions) {
    const cd = opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
    this.addrs = {
      public: clusterLocalHost(opts.publicService ?? PUBLIC_SERVICE, opts.namespace, cd),
      private: clusterLocalHost(opts.internalService ?? INTERNAL_SERVICE, opts.namespace, cd),
    };
    opts.source.onEmit(() => this.kick());
  }

  /**
   * A config went live: `live` are the ingress versions in it (the source's lastEmitted()), `problems` the compile's
   * (DomainConflict problems name `Ingress ns/name`).
   */
  observe(live: ReadonlyMap<string, IngressVersion>, problems: readonly Problem[]): void {
    this.live = live;
    this.conflicts = new Map();
    this.invalid = new Map();
    for (const p of problems) {
      if (!p.object?.startsWith('Ingress ')) continue;
      const key = p.object.slice('Ingress '.length);
      if (p.reason === 'DomainConflict') this.conflicts.set(key, p.message || CONFLICT);
      else if (p.reason === NOT_SERVED && !this.invalid.has(key)) this.invalid.set(key, `${p.field ? p.field + ': ' : ''}${p.message}`);
    }
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** Schedule a reconcile pass (coalesced). */
  kick(): void {
    this.passes.kick();
  }

  private async pass(): Promise<void> {
    if (!this.opts.elector.isLeader) return;
    let failed = false;
    const owned = this.opts.source.ownedIngresses();
    const key = (o: KObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    // Stop probing for (and forget) ingresses that were deleted or left our class.
    this.opts.prober.retain(new Set(owned.filter((o) => !o.metadata.deletionTimestamp).map(key)));
    const present = new Set(owned.map(key));
    for (const k of [...this.written.keys()]) if (!present.has(k)) this.written.delete(k);
    for (const o of owned) {
      try {
        await this.reconcile(o);
      } catch (err) {
        failed = true;
        // 409: our cached copy is stale; the watch brings the new one and another pass follows.
        if (!(err instanceof ApiStatusError && err.statusCode === 409)) log.warn({ ingress: `${o.metadata.namespace}/${o.metadata.name}`, err: (err as Error).message }, 'status update failed');
      }
    }
    if (failed && !this.retryTimer && !this.stopped) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.kick();
      }, 1000);
    }
  }

  /**
   * Kourier probes only what is not Ready yet: an ingress whose status already says Ready for this generation with the
   * expected load balancers stays Ready (a restart or a new leader does not flip every ingress back to Unknown).
   */
  private alreadyReady(o: KObject, generation: number): boolean {
    const st = o.status as any;
    return (
      st?.observedGeneration === generation &&
      Array.isArray(st.conditions) &&
      st.conditions.some((c: Condition) => c.type === 'Ready' && c.status === 'True') &&
      st.publicLoadBalancer?.ingress?.[0]?.domainInternal === this.addrs.public &&
      st.privateLoadBalancer?.ingress?.[0]?.domainInternal === this.addrs.private
    );
  }

  private async reconcile(o: KObject): Promise<void> {
    const ns = o.metadata.namespace ?? '';
    const key = `${ns}/${o.metadata.name}`;
    const res = { ...RESOURCES.ingresses, namespace: ns };
    const client = this.opts.source.client;
    const finalizers = o.metadata.finalizers ?? [];
    if (o.metadata.deletionTimestamp) {
      // Release the object once no live config serves it any more.
      if (finalizers.includes(INGRESS_FINALIZER) && !this.live.has(key)) {
        this.opts.prober.forget(key);
        this.written.delete(key);
        const rest = finalizers.filter((f) => f !== INGRESS_FINALIZER);
        await client.mergePatch(res, o.metadata.name, { metadata: { finalizers: rest.length ? rest : null, resourceVersion: o.metadata.resourceVersion } });
      }
      return;
    }
    if (!finalizers.includes(INGRESS_FINALIZER)) {
      await client.mergePatch(res, o.metadata.name, { metadata: { finalizers: [...finalizers, INGRESS_FINALIZER], resourceVersion: o.metadata.resourceVersion } });
    }
    const v = this.live.get(key);
    const generation = o.metadata.generation ?? 0;
    if (!v || v.generation !== generation) return; // this generation is not live yet
    let lb: LbState;
    const conflict = this.conflicts.get(key);
    const invalid = this.invalid.get(key);
    if (invalid !== undefined) lb = { kind: 'failed', reason: 'Invalid', message: invalid };
    else if (conflict !== undefined) lb = { kind: 'failed', reason: 'DomainConflict', message: CONFLICT };
    else if (this.opts.prober.isReady(key, v.hash) || this.alreadyReady(o, generation)) lb = { kind: 'ready' };
    else {
      lb = { kind: 'waiting' };
      this.opts.prober.probe(v);
    }
    const next = ingressStatus(o.status, generation, lb, this.addrs, (this.opts.now ?? Date.now)());
    const sig = `${o.metadata.uid}|${statusKey(next)}`;
    if (statusKey(o.status ?? {}) === statusKey(next) || this.written.get(key) === sig) return;
    // Merge patch: drop keys we no longer set, replace the rest (conditions as a whole list).
    const patch: Record<string, unknown> = { ...next };
    for (const k of Object.keys(o.status ?? {})) if (!(k in next)) patch[k] = null;
    await client.mergePatch(res, o.metadata.name, { status: patch }, 'status');
    this.written.set(key, sig);
  }
}
