// Route → KIngress, as Serving's route reconciler builds it (S pkg/reconciler/route/resources/ingress.go): per target
// name ("" then tags, sorted) a ClusterLocal rule for ExpandedHosts(name.ns.svc.<cd>) and, unless cluster-local, an
// ExternalIP rule for the templated host; one catch-all path whose splits go to the revisions' Services.
import type { ClusterConfig } from '../config.js';
import type { UpstreamProtocol } from '../desired.js';
import type { HTTPIngressPath, HTTPOption, Ingress, IngressBackendSplit, IngressRule } from '../kingress.js';
import { INGRESS_CLASS_ANNOTATION } from '../kingress.js';
import { clusterLocalHost, domainFromTemplate, expandedHosts, hostnameForTag } from '../hosts.js';
import type { RevisionTarget } from './traffic.js';
import { rolloutsByTag, type Rollout } from './rollout.js';

export const REVISION_HEADER = 'Knative-Serving-Revision';
export const NAMESPACE_HEADER = 'Knative-Serving-Namespace';
export const TAG_HEADER = 'Knative-Serving-Tag';
export const DEFAULT_ROUTE_HEADER = 'Knative-Serving-Default-Route';
export const ORIGINAL_HOST_HEADER = 'K-Original-Host';
export const ROLLOUT_ANNOTATION = 'networking.internal.knative.dev/rollout';
export const ROUTE_LABEL = 'serving.knative.dev/route';
export const ROUTE_NAMESPACE_LABEL = 'serving.knative.dev/routeNamespace';

/** Knative's public revision Service port: 80 for HTTP/1, 81 for h2c (N pkg/apis/networking/ports.go). */
export const servicePortFor = (p: UpstreamProtocol): number => (p === 'h2c' ? 81 : 80);

export interface RouteIngressInput {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  creationTimestamp?: string;
  clusterLocal: boolean;
  /** By target name: consolidated revision targets. */
  groups: Map<string, RevisionTarget[]>;
  rollout: Rollout | undefined;
  httpOption: HTTPOption;
  ingressClass: string;
  protocolOf: (revision: string) => UpstreamProtocol;
}

/** The splits of one target name, with rollouts expanded and merged per revision; 0% targets dropped. */
export function splitsFor(ns: string, targets: readonly RevisionTarget[], rollout: Rollout | undefined, tag: string, protocolOf: (r: string) => UpstreamProtocol): IngressBackendSplit[] {
  const ros = rolloutsByTag(rollout, tag);
  const shares: [string, number][] = [];
  for (const t of targets) {
    if (t.percent <= 0) continue;
    const ro = t.latestRevision ? ros.find((c) => c.configurationName === t.configurationName) : undefined;
    if (ro && ro.revisions.length >= 2) for (const r of ro.revisions) shares.push([r.revisionName, r.percent]);
    else shares.push([t.revisionName, t.percent]);
  }
  const merged = new Map<string, number>();
  for (const [r, p] of shares) if (p > 0) merged.set(r, (merged.get(r) ?? 0) + p);
  return [...merged].map(([rev, percent]) => ({
    serviceNamespace: ns,
    serviceName: rev,
    servicePort: servicePortFor(protocolOf(rev)),
    percent,
    appendHeaders: { [REVISION_HEADER]: rev, [NAMESPACE_HEADER]: ns },
  }));
}

export function makeRouteIngress(config: ClusterConfig, r: RouteIngressInput): { ingress: Ingress; hosts: Map<string, { external?: string; local: string }> } {
  const names = [...r.groups.keys()].sort();
  const rules: IngressRule[] = [];
  const hosts = new Map<string, { external?: string; local: string }>();
  const meta = { namespace: r.namespace, labels: r.labels, annotations: r.annotations };
  const tagHeaders = config.features.tagHeaderBasedRouting;
  const pathFor = (name: string): HTTPIngressPath => ({ splits: splitsFor(r.namespace, r.groups.get(name)!, r.rollout, name, r.protocolOf) });
  for (const name of names) {
    const hostName = hostnameForTag(config, r.name, name);
    const local = clusterLocalHost(hostName, r.namespace, config.clusterDomain);
    const entry: { external?: string; local: string } = { local };
    const visibilities: ('ClusterLocal' | 'ExternalIP')[] = r.clusterLocal ? ['ClusterLocal'] : ['ClusterLocal', 'ExternalIP'];
    for (const visibility of visibilities) {
      let ruleHosts: string[];
      if (visibility === 'ClusterLocal') ruleHosts = expandedHosts([local], config.clusterDomain);
      else {
        const ext = domainFromTemplate(config, meta, hostName, false);
        entry.external = ext;
        ruleHosts = [ext];
      }
      const main = pathFor(name);
      const paths: HTTPIngressPath[] = [main];
      if (tagHeaders) {
        if (name === '') {
          // Tag paths first so a Knative-Serving-Tag header wins over the default split.
          main.appendHeaders = { [DEFAULT_ROUTE_HEADER]: 'true' };
          const tagPaths = names.filter((n) => n !== '').map((n) => ({ ...pathFor(n), headers: { [TAG_HEADER]: { exact: n } } }));
          paths.unshift(...tagPaths);
        } else {
          main.appendHeaders = { [TAG_HEADER]: name };
        }
      }
      rules.push({ hosts: ruleHosts, visibility, http: { paths } });
    }
    hosts.set(name, entry);
  }
  const annotations: Record<string, string> = { ...r.annotations, [INGRESS_CLASS_ANNOTATION]: r.ingressClass };
  if (r.rollout) annotations[ROLLOUT_ANNOTATION] = JSON.stringify(r.rollout);
  const ingress: Ingress = {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name: r.name,
      namespace: r.namespace,
      labels: { ...r.labels, [ROUTE_LABEL]: r.name, [ROUTE_NAMESPACE_LABEL]: r.namespace },
      annotations,
      ...(r.creationTimestamp ? { creationTimestamp: r.creationTimestamp } : {}),
    },
    spec: { rules, ...(r.httpOption ? { httpOption: r.httpOption } : {}) },
  };
  return { ingress, hosts };
}
