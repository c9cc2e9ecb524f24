// `Desired` is what every source produces: the manifest folder (after the standalone route reconciler) and the
// Kubernetes API alike. Everything downstream only ever sees KIngress-shaped rules plus the backends they name.
import type { Ingress } from './kingress.js';
import type { KObject, Problem } from './objects.js';

export type UpstreamProtocol = 'http1' | 'h2c';

/** Readiness check of a revision's backend (standalone: the container's readinessProbe; cluster: queue-proxy). */
export type ReadinessCheck =
  | { kind: 'http'; path: string; port?: number }
  | { kind: 'tcp'; port?: number }
  | { kind: 'queue' }; // Knative queue-proxy: K-Network-Probe: queue → 200 "queue"

/** A local process that wharf runs for a revision (standalone mode). It receives PORT. */
export interface ProcessSpec {
  command: string[];
  args: string[];
  env: Record<string, string>;
  /** Working directory; relative commands resolve against the manifest folder. */
  cwd: string;
}

/** A revision as the activator and the scaler need it. */
export interface RevisionInfo {
  namespace: string;
  name: string;
  /** Knative Service / Configuration that owns it, for labels and display. */
  service?: string;
  configuration?: string;
  /** 0 = unlimited (Knative's default). */
  containerConcurrency: number;
  /** Request timeout (Knative revision-timeout-seconds). */
  timeoutSeconds: number;
  /** The revision template's annotations (autoscaling.knative.dev/*, wharf.dev/*). */
  annotations: Record<string, string>;
  /** Upstream protocol: h2c when the container port is named h2c. */
  protocol: UpstreamProtocol;
  readiness: ReadinessCheck;
  /** Standalone backends: exactly one of `upstreams` (annotation wharf.dev/upstream) or `process`. */
  upstreams?: string[];
  process?: ProcessSpec;
  /** Cluster backends: the revision's private endpoints (`<rev>-private`), ready and not-ready addresses. */
  pods?: { ready: string[]; notReady: string[]; port: number };
}

/** A Kubernetes-Service-like name that a KIngress split can point at. */
export interface ServiceBackend {
  namespace: string;
  name: string;
  ports: { name?: string; port: number; targetPort?: number; appProtocol?: string }[];
  /** The Service fronts a revision wharf serves itself (standalone: every revision; cluster: a revision's public Service). */
  revision?: string;
  /** Ready addresses from EndpointSlices (cluster mode). */
  addresses?: string[];
  /** ExternalName Services resolve by DNS. */
  externalName?: string;
}

/** Status of serving objects the source reconciled, for `wharf routes` and logs (e.g. a DomainMapping that is not served). */
export interface ObjectStatus {
  object: string;
  ready: boolean;
  reason?: string;
  message?: string;
  url?: string;
}

export interface Desired {
  /** Knative ConfigMaps by name (config-network, config-domain, config-features, config-defaults, config-autoscaler, config-wharf). */
  configMaps: Record<string, Record<string, string>>;
  ingresses: Ingress[];
  services: ServiceBackend[];
  revisions: RevisionInfo[];
  /** kubernetes.io/tls Secrets (tls.crt / tls.key as PEM text, already base64-decoded). */
  secrets: KObject[];
  /** Eventing objects as read (Broker, Trigger, Channel, Subscription, PingSource); eventing compiles them. */
  eventing: KObject[];
  /** What the source found wrong (parse errors, invalid objects, claim conflicts). */
  problems: Problem[];
  /** Per-object status for display. */
  statuses: ObjectStatus[];
}

export function emptyDesired(): Desired {
  return { configMaps: {}, ingresses: [], services: [], revisions: [], secrets: [], eventing: [], problems: [], statuses: [] };
}
