// Kubernetes-shaped plain objects shared by every source. Field names follow Kubernetes/Knative exactly,
// so a manifest, an API object and a test fixture are the same value.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
}

/** Any Kubernetes object. `spec`/`status`/`data` are left loose; each compile step validates what it reads. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: any;
  status?: any;
  data?: Record<string, string>;
  type?: string;
  [k: string]: unknown;
}

/** Where an object came from, so a problem can name its file and document (manifests) or its API identity. */
export interface Origin {
  file?: string;
  /** 0-based index of the YAML document in `file`. */
  doc?: number;
  /** 1-based line of the document start (or of the field when known). */
  line?: number;
}

export type Severity = 'error' | 'warning';

/**
 * One thing wrong with the input. Errors reject the object (or, from a manifest source, the whole reload);
 * warnings are logged and shown by `wharf validate` but do not stop anything.
 */
export interface Problem {
  severity: Severity;
  /** e.g. "Service default/hello" or "ConfigMap config-network". */
  object?: string;
  /** dotted field path, e.g. "spec.traffic[1].percent". */
  field?: string;
  message: string;
  origin?: Origin;
  /** machine-readable reason where Knative has one, e.g. "DomainConflict", "DomainClaimNotOwned". */
  reason?: string;
}

export const keyOf = (m: { namespace?: string; name: string }): string =>
  m.namespace ? `${m.namespace}/${m.name}` : m.name;

export function describe(o: KObject): string {
  return `${o.kind} ${keyOf(o.metadata)}`;
}

export function formatProblem(p: Problem): string {
  const where: string[] = [];
  if (p.origin?.file) where.push(p.origin.file + (p.origin.doc !== undefined ? `#${p.origin.doc}` : '') + (p.origin.line ? `:${p.origin.line}` : ''));
  if (p.object) where.push(p.object);
  if (p.field) where.push(p.field);
  return `${p.severity}: ${where.join(' ')}${where.length ? ': ' : ''}${p.message}${p.reason ? ` (${p.reason})` : ''}`;
}
