// Structural-schema behaviour of a real API server for CRDs, from Knative's own CRD files (test/fixtures/knative-crds,
// copied unchanged from Knative's releases so the tests do not depend on anything outside the repository):
// unknown fields are pruned (unless x-kubernetes-preserve-unknown-fields), then the object is validated (422 with
// the failing paths). So a status wharf writes, or a fixture a test creates, must be what a cluster would accept.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import { parseAllDocuments } from 'yaml';

// ajv is CJS: its default export is the class under `default` when loaded from ESM.
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as unknown as new (o: object) => {
  compile(schema: object): ((v: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
};

export const CRD_DIR = fileURLToPath(new URL('../../fixtures/knative-crds/', import.meta.url));

type Schema = Record<string, any>;

export interface CrdSchema {
  /** `${apiVersion} ${kind}` */
  key: string;
  schema: Schema;
  validate: ReturnType<InstanceType<typeof Ajv>['compile']>;
}

/** Drop what the schema does not declare, as the apiserver's pruning does. Mutates and returns `v`. */
export function prune(v: unknown, s: Schema | undefined, root = false): unknown {
  if (!s || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    if (s.items) for (const x of v) prune(x, s.items);
    return v;
  }
  const o = v as Record<string, unknown>;
  if (s.properties) {
    for (const k of Object.keys(o)) {
      if (root && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
      if (k in s.properties) prune(o[k], s.properties[k]);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') prune(o[k], s.additionalProperties);
      else if (!s['x-kubernetes-preserve-unknown-fields']) delete o[k];
    }
  } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    for (const k of Object.keys(o)) prune(o[k], s.additionalProperties);
  }
  return v;
}

let cache: Map<string, CrdSchema> | null = null;

/** Every CRD version schema under CRD_DIR, keyed by `${group}/${version} ${kind}`. A missing folder is an error: a
 *  fake server that silently skipped validation would let tests pass that a real cluster fails. */
export function loadCrdSchemas(dir = CRD_DIR): Map<string, CrdSchema> {
  if (cache && dir === CRD_DIR) return cache;
  const out = new Map<string, CrdSchema>();
  if (!existsSync(dir)) throw new Error(`Knative CRDs not found at ${dir}`);
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.yaml') ? [join(d, e.name)] : []));
  for (const f of walk(dir)) {
    for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const crd = doc.toJS() as any;
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const v of crd.spec.versions ?? []) {
        const schema = v.schema?.openAPIV3Schema;
        if (!schema) continue;
        const key = `${crd.spec.group}/${v.name} ${crd.spec.names.kind}`;
        out.set(key, { key, schema, validate: ajv.compile(schema) });
      }
    }
  }
  if (dir === CRD_DIR) cache = out;
  return out;
}
