// KIngress defaults and validation, as knative/networking applies them before any gateway sees an Ingress
// (v1alpha1 ingress_defaults.go / ingress_validation.go). Pure: returns a defaulted copy and the problems.
import type { HTTPIngressPath, Ingress, IngressBackendSplit, IngressRule, Visibility } from '../kingress.js';
import type { Problem } from '../objects.js';
import { normalizeHost } from '../hosts.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Empty rule visibility → ExternalIP; a path with exactly one split whose percent is 0/absent → 100. */
export function defaultIngress(ing: Ingress): Ingress {
  // Input is unvalidated, so walk it loosely and leave anything malformed for validateIngress to report.
  const spec: any = isObj(ing.spec) ? ing.spec : {};
  const rules = Array.isArray(spec.rules)
    ? spec.rules.map((r: any): IngressRule => {
        if (!isObj(r)) return r as IngressRule;
        const rule: any = { ...r, visibility: (r.visibility as Visibility | undefined) || 'ExternalIP' };
        if (isObj(r.http) && Array.isArray(r.http.paths)) {
          rule.http = {
            ...r.http,
            paths: r.http.paths.map((p: any): HTTPIngressPath => {
              if (!isObj(p) || !Array.isArray(p.splits)) return p as HTTPIngressPath;
              const one = p.splits.length === 1 && isObj(p.splits[0]) && !p.splits[0].percent;
              return { ...(p as unknown as HTTPIngressPath), splits: one ? [{ ...(p.splits[0] as unknown as IngressBackendSplit), percent: 100 }] : (p.splits as IngressBackendSplit[]) };
            }),
          };
        }
        return rule as IngressRule;
      })
    : spec.rules;
  return { ...ing, spec: { ...spec, ...(rules !== undefined ? { rules } : {}) } };
}

/** Validates a defaulted Ingress; every problem is an error naming the field. */
export function validateIngress(ing: Ingress, object: string): Problem[] {
  const problems: Problem[] = [];
  const err = (field: string, message: string): void => {
    problems.push({ severity: 'error', object, field, message });
  };
  const ns = ing.metadata?.namespace ?? '';
  const spec = ing.spec;
  if (!isObj(spec)) {
    err('spec', 'is required');
    return problems;
  }
  if (spec.httpOption !== undefined && !['', 'Enabled', 'Redirected'].includes(spec.httpOption as string)) {
    err('spec.httpOption', `"${String(spec.httpOption)}" is not one of Enabled, Redirected`);
  }
  (Array.isArray(spec.tls) ? spec.tls : spec.tls === undefined ? [] : [null]).forEach((t, i) => {
    const f = `spec.tls[${i}]`;
    if (!isObj(t)) return err(f, 'must be an object');
    if (!t.secretName) err(`${f}.secretName`, 'is required');
    if (!t.secretNamespace) err(`${f}.secretNamespace`, 'is required');
    if (t.hosts !== undefined && !Array.isArray(t.hosts)) err(`${f}.hosts`, 'must be a list');
  });
  if (!Array.isArray(spec.rules) || spec.rules.length === 0) {
    err('spec.rules', 'at least one rule is required');
    return problems;
  }
  spec.rules.forEach((r, i) => {
    const f = `spec.rules[${i}]`;
    if (!isObj(r)) return err(f, 'must be an object');
    if (r.visibility !== 'ExternalIP' && r.visibility !== 'ClusterLocal') err(`${f}.visibility`, `"${String(r.visibility)}" is not one of ExternalIP, ClusterLocal`);
    if (r.hosts !== undefined) {
      if (!Array.isArray(r.hosts)) err(`${f}.hosts`, 'must be a list');
      else r.hosts.forEach((h, j) => {
        if (typeof h !== 'string' || normalizeHost(h) === null || h.includes(':')) err(`${f}.hosts[${j}]`, `"${String(h)}" is not a host name`);
      });
    }
    if (!isObj(r.http) || !Array.isArray(r.http.paths) || r.http.paths.length === 0) return err(`${f}.http.paths`, 'at least one path is required');
    r.http.paths.forEach((p, k) => validatePath(p, `${f}.http.paths[${k}]`, ns, err));
  });
  return problems;
}

function validatePath(p: unknown, f: string, ns: string, err: (field: string, message: string) => void): void {
  if (!isObj(p)) return err(f, 'must be an object');
  if (p.path !== undefined && p.path !== '' && (typeof p.path !== 'string' || !p.path.startsWith('/'))) err(`${f}.path`, 'must start with "/"');
  if (p.rewriteHost !== undefined && typeof p.rewriteHost !== 'string') err(`${f}.rewriteHost`, 'must be a string');
  if (p.headers !== undefined) {
    if (!isObj(p.headers)) err(`${f}.headers`, 'must be a map of header → {exact}');
    else for (const [k, v] of Object.entries(p.headers)) if (!isObj(v) || typeof v.exact !== 'string') err(`${f}.headers.${k}`, 'must be {exact: <value>}');
  }
  for (const key of ['appendHeaders'] as const) {
    const a = p[key];
    if (a !== undefined && (!isObj(a) || !Object.values(a).every((v) => typeof v === 'string'))) err(`${f}.${key}`, 'must be a map of strings');
  }
  if (!Array.isArray(p.splits) || p.splits.length === 0) return err(`${f}.splits`, 'at least one split is required');
  let sum = 0;
  (p.splits as unknown[]).forEach((s, i) => {
    const sf = `${f}.splits[${i}]`;
    if (!isObj(s)) return err(sf, 'must be an object');
    const sp = s as Partial<IngressBackendSplit>;
    if (!sp.serviceName || typeof sp.serviceName !== 'string') err(`${sf}.serviceName`, 'is required');
    if (sp.serviceNamespace !== ns) err(`${sf}.serviceNamespace`, `must be the Ingress namespace "${ns}", not "${String(sp.serviceNamespace ?? '')}"`);
    const port = sp.servicePort;
    if (!((typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536) || (typeof port === 'string' && port !== ''))) err(`${sf}.servicePort`, 'is required (a port number or name)');
    const pct = sp.percent ?? 0;
    if (typeof pct !== 'number' || !Number.isInteger(pct) || pct < 0 || pct > 100) err(`${sf}.percent`, `expected 0 <= ${JSON.stringify(pct)} <= 100`);
    else sum += pct;
    if (sp.appendHeaders !== undefined && (!isObj(sp.appendHeaders) || !Object.values(sp.appendHeaders).every((v) => typeof v === 'string'))) err(`${sf}.appendHeaders`, 'must be a map of strings');
  });
  if (sum !== 100) err(`${f}.splits`, `the splits' percent must sum to 100, got ${sum}`);
}
