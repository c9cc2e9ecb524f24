// DomainMapping → KIngress (S pkg/reconciler/domainmapping): the mapped domain, as an ExternalIP rule, rewritten to
// the referenced route's cluster-local host. Choice: Serving points the split at a placeholder Service that hairpins
// through the internal gateway; wharf points it straight at the route's default revision splits (same revisions,
// same percents, rollout included), with K-Original-Host appended to each split, which is what the hairpin would
// deliver without a second hop.
import type { ClusterConfig } from '../config.js';
import type { HTTPOption, Ingress, IngressBackendSplit } from '../kingress.js';
import { INGRESS_CLASS_ANNOTATION } from '../kingress.js';
import type { KObject, Problem } from '../objects.js';
import { clusterLocalHost, isFullyQualifiedDomainName } from '../hosts.js';
import { ORIGINAL_HOST_HEADER } from './ingress.js';

export const DOMAIN_MAPPING_LABEL = 'serving.knative.dev/domainMapping';
export const DOMAIN_MAPPING_NAMESPACE_LABEL = 'serving.knative.dev/domainMappingNamespace';

/** What a DomainMapping can point at: a served route (Knative Service or Route) by `ns/name`. */
export interface RouteTarget {
  localHost: string;
  splits: IngressBackendSplit[];
}

export interface MappingInput {
  dm: KObject;
  namespace: string;
  creationTimestamp: string;
  /** ms, for ordering implied claims (oldest mapping wins). */
  age: number;
}

export interface MappingResult {
  ingress?: Ingress;
  status: { object: string; ready: boolean; reason?: string; message?: string; url?: string };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reconciles all DomainMappings together, because without explicit claims (autocreate on) the first mapping of a
 * domain implicitly owns it and a later one in another namespace is refused.
 */
export function reconcileDomainMappings(
  mappings: MappingInput[],
  claims: KObject[],
  routes: ReadonlyMap<string, RouteTarget>,
  config: ClusterConfig,
  httpOptionOf: (o: KObject, object: string, problems: Problem[]) => HTTPOption | null,
  problems: Problem[],
): MappingResult[] {
  const owner = new Map<string, string>(); // domain → namespace allowed to map it
  for (const c of claims) {
    const object = `ClusterDomainClaim ${c.metadata.name}`;
    const ns = isObj(c.spec) ? c.spec.namespace : undefined;
    if (typeof ns !== 'string' || ns === '') {
      problems.push({ severity: 'error', object, field: 'spec.namespace', message: 'is required: the namespace allowed to map this domain' });
      continue;
    }
    owner.set(c.metadata.name, ns);
  }
  const order = [...mappings].sort((a, b) => a.age - b.age || cmp(a.namespace, b.namespace) || cmp(a.dm.metadata.name, b.dm.metadata.name));
  const results = new Map<MappingInput, MappingResult>();
  for (const m of order) results.set(m, reconcileOne(m, owner, routes, config, httpOptionOf, problems));
  return mappings.map((m) => results.get(m)!);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function reconcileOne(
  m: MappingInput,
  owner: Map<string, string>,
  routes: ReadonlyMap<string, RouteTarget>,
  config: ClusterConfig,
  httpOptionOf: (o: KObject, object: string, problems: Problem[]) => HTTPOption | null,
  problems: Problem[],
): MappingResult {
  const { dm, namespace } = m;
  const domain = dm.metadata.name;
  const object = `DomainMapping ${namespace}/${domain}`;
  const fail = (field: string, message: string, reason?: string): MappingResult => {
    problems.push({ severity: 'error', object, field, message, ...(reason ? { reason } : {}) });
    return { status: { object, ready: false, reason: reason ?? 'Invalid', message } };
  };
  if (!isFullyQualifiedDomainName(domain)) return fail('metadata.name', `"${domain}" is not a fully qualified domain name`);
  const spec = isObj(dm.spec) ? dm.spec : undefined;
  const ref = spec && isObj(spec.ref) ? spec.ref : undefined;
  if (!ref) return fail('spec.ref', 'is required: the Knative Service or Route to map to');
  if (typeof ref.name !== 'string' || ref.name === '') return fail('spec.ref.name', 'is required');
  if (typeof ref.kind !== 'string' || ref.kind === '') return fail('spec.ref.kind', 'is required');
  if (ref.namespace !== undefined && ref.namespace !== namespace) return fail('spec.ref.namespace', `must be the DomainMapping's namespace "${namespace}"`);

  // Claims (Knative reconcileDomainClaim): a missing claim is created only with autocreate; a claim for another
  // namespace refuses the mapping. Both are reported as DomainClaimNotOwned, like Knative.
  const claimNs = owner.get(domain);
  let refused: string | undefined;
  if (claimNs === undefined) {
    if (config.network.autocreateClusterDomainClaims) owner.set(domain, namespace);
    else refused = `no ClusterDomainClaim found for domain "${domain}" (and autocreate-cluster-domain-claims is off)`;
  } else if (claimNs !== namespace) {
    refused = `namespace "${namespace}" does not own ClusterDomainClaim for "${domain}" (it belongs to "${claimNs}")`;
  }
  if (refused) {
    problems.push({ severity: 'warning', object, message: `not served: ${refused}`, reason: 'DomainClaimNotOwned' });
    return { status: { object, ready: false, reason: 'DomainClaimNotOwned', message: refused } };
  }

  const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
  let localHost: string;
  let splits: IngressBackendSplit[];
  if (apiVersion.startsWith('serving.knative.dev/') && (ref.kind === 'Service' || ref.kind === 'Route')) {
    const target = routes.get(`${namespace}/${ref.name}`);
    if (!target) return fail('spec.ref', `${ref.kind} ${namespace}/${ref.name} is not found or not served`, 'ReferenceNotFound');
    localHost = target.localHost;
    splits = target.splits;
  } else if (apiVersion === 'v1' && ref.kind === 'Service') {
    // A plain Kubernetes Service: port 80 of it, as Serving's resolver would address it.
    localHost = clusterLocalHost(ref.name, namespace, config.clusterDomain);
    splits = [{ serviceNamespace: namespace, serviceName: ref.name, servicePort: 80, percent: 100 }];
  } else {
    return fail('spec.ref', `unsupported reference ${apiVersion || '?'} ${ref.kind}: use a serving.knative.dev Service or Route`);
  }
  if (splits.length === 0) return fail('spec.ref', `${ref.kind} ${namespace}/${ref.name} has no traffic to map to`, 'ReferenceNotFound');

  const httpOption = httpOptionOf(dm, object, problems);
  if (httpOption === null) return { status: { object, ready: false, reason: 'Invalid' } };
  const annotations: Record<string, string> = { ...(dm.metadata.annotations ?? {}), [INGRESS_CLASS_ANNOTATION]: ingressClassOf(dm, config) };
  const tls = spec && isObj(spec.tls) && typeof spec.tls.secretName === 'string' && spec.tls.secretName !== '' ? spec.tls.secretName : undefined;
  const ingress: Ingress = {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name: domain,
      namespace,
      labels: { ...(dm.metadata.labels ?? {}), [DOMAIN_MAPPING_LABEL]: domain, [DOMAIN_MAPPING_NAMESPACE_LABEL]: namespace },
      annotations,
      creationTimestamp: m.creationTimestamp,
    },
    spec: {
      ...(tls ? { tls: [{ hosts: [domain], secretName: tls, secretNamespace: namespace }] } : {}),
      rules: [
        {
          hosts: [domain],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                rewriteHost: localHost,
                splits: splits.map((s) => ({ ...s, appendHeaders: { ...(s.appendHeaders ?? {}), [ORIGINAL_HOST_HEADER]: domain } })),
              },
            ],
          },
        },
      ],
      ...(httpOption ? { httpOption } : {}),
    },
  };
  return { ingress, status: { object, ready: true, url: `${tls ? 'https' : 'http'}://${domain}` } };
}

export function ingressClassOf(o: KObject, config: ClusterConfig): string {
  const a = o.metadata.annotations ?? {};
  return a[INGRESS_CLASS_ANNOTATION] ?? a['networking.knative.dev/ingress-class'] ?? config.network.ingressClass;
}
