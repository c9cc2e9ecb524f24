// Kubernetes label selector syntax (k8s.io/apimachinery/pkg/labels): `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
// `a notin (x)`, `a`, `!a`, comma-separated (AND). Field selectors: metadata.name / metadata.namespace (= and !=).
export type LabelPredicate = (labels: Record<string, string> | undefined) => boolean;

export class SelectorError extends Error {}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

export function parseLabelSelector(sel: string | null | undefined): LabelPredicate {
  if (!sel) return () => true;
  const reqs: LabelPredicate[] = splitTopLevel(sel).map((term): LabelPredicate => {
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const [, key, op, list] = m;
      const vals = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in' ? (l) => l?.[key] !== undefined && vals.has(l[key]) : (l) => l?.[key] === undefined || !vals.has(l[key]);
    }
    m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(term);
    if (m) {
      const [, key, op, val] = m;
      return op === '!=' ? (l) => l?.[key] !== val : (l) => l?.[key] === val;
    }
    m = /^!\s*([^\s!=]+)$/.exec(term);
    if (m) return (l) => l?.[m![1]] === undefined;
    m = /^([^\s!=()]+)$/.exec(term);
    if (m) return (l) => l?.[m![1]] !== undefined;
    throw new SelectorError(`unable to parse requirement: ${JSON.stringify(term)}`);
  });
  return (l) => reqs.every((r) => r(l));
}

type FieldObj = { metadata: { name: string; namespace?: string }; type?: string };

/** `type` is the field selector Secrets support (e.g. type=kubernetes.io/tls). */
export function parseFieldSelector(sel: string | null | undefined): (o: FieldObj) => boolean {
  if (!sel) return () => true;
  const reqs = splitTopLevel(sel).map((term) => {
    const m = /^(metadata\.name|metadata\.namespace|type)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`field label not supported: ${term}`);
    const [, field, op, val] = m;
    const get = (o: FieldObj): string => (field === 'metadata.name' ? o.metadata.name : field === 'type' ? (o.type ?? '') : (o.metadata.namespace ?? ''));
    return op === '!=' ? (o: FieldObj) => get(o) !== val : (o: FieldObj) => get(o) === val;
  });
  return (o) => reqs.every((r) => r(o));
}
