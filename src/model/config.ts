// Cluster-wide settings, read from Knative's own ConfigMaps (names and keys as Knative spells them).
// Each capability parses its own keys out of `raw` with a pure function; this file holds the core ones and the
// table of every key wharf knows (so `wharf validate` can warn about typos and the README can list them).
import { parse as parseYaml } from 'yaml';
import type { Problem } from './objects.js';
import { parseGoBool, parseSecondsOrDuration } from './duration.js';
import { parseTemplate, TemplateError, renderTemplate } from './gotemplate.js';
import { isDnsName } from './hosts.js';

export interface DomainSelector {
  domain: string;
  /** label selector (matchLabels); empty = default domain */
  selector: Record<string, string>;
}

export interface ClusterConfig {
  /** The raw ConfigMaps, by name, for capability-specific parsing. */
  raw: Readonly<Record<string, Readonly<Record<string, string>>>>;
  clusterDomain: string;
  domains: DomainSelector[];
  network: {
    domainTemplate: string;
    tagTemplate: string;
    autocreateClusterDomainClaims: boolean;
    rolloutDurationSeconds: number;
    httpProtocol: 'enabled' | 'redirected' | 'disabled';
    ingressClass: string;
  };
  features: { tagHeaderBasedRouting: boolean };
  defaults: {
    revisionTimeoutSeconds: number;
    containerConcurrency: number;
    /** Upper bound for a revision's timeoutSeconds (Knative max-revision-timeout-seconds). */
    maxRevisionTimeoutSeconds?: number;
    /** Upper bound for a revision's containerConcurrency (Knative container-concurrency-max-limit). */
    containerConcurrencyMaxLimit?: number;
  };
  wharf: {
    accessLog: boolean;
    /** milliseconds; listener drain after SIGTERM */
    drainTimeoutMs: number;
    /** delay between /readyz turning 503 and listeners closing */
    drainDelayMs: number;
  };
}

export const DEFAULT_DOMAIN_TEMPLATE = '{{.Name}}.{{.Namespace}}.{{.Domain}}';
export const DEFAULT_TAG_TEMPLATE = '{{.Tag}}-{{.Name}}';
export const DEFAULT_INGRESS_CLASS = 'wharf.ingress.networking.knative.dev';

/** One ConfigMap key wharf understands. `default` is the text form, as you would write it in the ConfigMap. */
export interface ConfigKey {
  configMap: string;
  key: string;
  default: string;
  doc: string;
}

/**
 * Every key wharf reads, with its default and a one-line doc. Capabilities extend this table (push at module load)
 * or pass `knownExtraKeys` to parseConfig. config-domain is not listed: its keys are domain names.
 */
export const CONFIG_KEYS: ConfigKey[] = [
  { configMap: 'config-network', key: 'domain-template', default: DEFAULT_DOMAIN_TEMPLATE, doc: 'Go template for external hosts (.Name, .Namespace, .Domain, .Annotations, .Labels).' },
  { configMap: 'config-network', key: 'tag-template', default: DEFAULT_TAG_TEMPLATE, doc: 'Go template for the name part of a tag host (.Tag, .Name).' },
  { configMap: 'config-network', key: 'autocreate-cluster-domain-claims', default: 'false', doc: 'A DomainMapping may claim a domain that has no ClusterDomainClaim.' },
  { configMap: 'config-network', key: 'rollout-duration', default: '0', doc: 'Seconds over which a new latest revision takes over its traffic (0 = at once).' },
  { configMap: 'config-network', key: 'http-protocol', default: 'Enabled', doc: 'Enabled, Redirected (HTTP → HTTPS) or Disabled, for routes without the networking.knative.dev/http-protocol annotation.' },
  { configMap: 'config-network', key: 'ingress-class', default: DEFAULT_INGRESS_CLASS, doc: 'KIngress class wharf writes and serves (networking.knative.dev/ingress.class).' },
  { configMap: 'config-network', key: 'ingress.class', default: '', doc: 'Legacy spelling of ingress-class.' },
  { configMap: 'config-features', key: 'tag-header-based-routing', default: 'Disabled', doc: 'Enabled: Knative-Serving-Tag: <tag> on the default host routes to that tag.' },
  { configMap: 'config-defaults', key: 'revision-timeout-seconds', default: '300', doc: 'Request timeout of a revision without timeoutSeconds.' },
  { configMap: 'config-defaults', key: 'max-revision-timeout-seconds', default: '600', doc: 'Largest timeoutSeconds a revision may set.' },
  { configMap: 'config-defaults', key: 'container-concurrency', default: '0', doc: 'containerConcurrency of a revision that sets none (0 = unlimited).' },
  { configMap: 'config-defaults', key: 'container-concurrency-max-limit', default: '1000', doc: 'Largest containerConcurrency a revision may set.' },
  { configMap: 'config-wharf', key: 'cluster-domain', default: 'cluster.local', doc: 'Cluster domain for name.ns.svc.<cluster-domain> hosts.' },
  { configMap: 'config-wharf', key: 'access-log', default: 'true', doc: 'One JSON access-log line per request.' },
  { configMap: 'config-wharf', key: 'drain-timeout', default: '30s', doc: 'After SIGTERM, how long in-flight requests may take before exit (seconds or Go duration).' },
  { configMap: 'config-wharf', key: 'drain-delay', default: '1s', doc: 'After SIGTERM, how long /readyz reports 503 before listeners stop accepting.' },
];

/**
 * Lets a capability declare the keys it reads (at module load), so parseConfig does not warn about them and the
 * README/`wharf validate` can list them. Re-registering a key replaces its entry.
 */
export function registerConfigKeys(keys: readonly ConfigKey[]): void {
  for (const k of keys) {
    const i = CONFIG_KEYS.findIndex((x) => x.configMap === k.configMap && x.key === k.key);
    if (i >= 0) CONFIG_KEYS[i] = { ...k };
    else CONFIG_KEYS.push({ ...k });
  }
}

/** The key table as a Markdown table (ConfigMap, key, default, meaning), for the README and `wharf validate --help`. */
export function configKeysMarkdown(): string {
  const esc = (t: string): string => t.replace(/\|/g, '\\|');
  const rows = [...CONFIG_KEYS].sort((a, b) => (a.configMap + a.key < b.configMap + b.key ? -1 : 1));
  return [
    '| ConfigMap | Key | Default | Meaning |',
    '|---|---|---|---|',
    ...rows.map((k) => `| ${k.configMap} | \`${k.key}\` | ${k.default === '' ? '' : `\`${esc(k.default)}\``} | ${esc(k.doc)} |`),
  ].join('\n');
}

/** Knative's config-autoscaler keys: known (not warned about), parsed by the autoscaling code from `raw`. */
const AUTOSCALER_KEYS = [
  'container-concurrency-target-percentage', 'container-concurrency-target-default', 'requests-per-second-target-default',
  'target-burst-capacity', 'stable-window', 'panic-window-percentage', 'panic-threshold-percentage', 'max-scale-up-rate',
  'max-scale-down-rate', 'enable-scale-to-zero', 'scale-to-zero-grace-period', 'scale-to-zero-pod-retention-period',
  'pod-autoscaler-class', 'activator-capacity', 'initial-scale', 'allow-zero-initial-scale', 'min-scale', 'max-scale',
  'scale-down-delay', 'max-scale-limit',
];

/** The ConfigMaps the model reads (Desired.configMaps): what every source must pass on. */
export const MODEL_CONFIG_MAPS = ['config-network', 'config-domain', 'config-features', 'config-defaults', 'config-autoscaler', 'config-wharf'] as const;

/** The ConfigMaps whose keys wharf checks for typos (config-domain's keys are domains). */
const CHECKED_MAPS: string[] = MODEL_CONFIG_MAPS.filter((m) => m !== 'config-domain');

/** Knative's ConfigMaps carry an `_example` block; it (and any `_`-prefixed key) is documentation, not config. */
const isExampleKey = (k: string): boolean => k.startsWith('_');


export function defaultConfig(): ClusterConfig {
  return parseConfig({}).config;
}

export function parseConfig(
  configMaps: Record<string, Record<string, string>>,
  knownExtraKeys?: Record<string, string[]>,
): { config: ClusterConfig; problems: Problem[] } {
  const problems: Problem[] = [];
  const get = (cm: string, key: string): string | undefined => {
    const v = configMaps[cm]?.[key];
    return v === undefined || v === null ? undefined : String(v);
  };
  const bad = (cm: string, key: string, message: string): void => {
    problems.push({ severity: 'error', object: `ConfigMap ${cm}`, field: `data.${key}`, message });
  };

  // Unknown keys: warn, never fail (a newer Knative key must not stop wharf).
  const known = new Map<string, Set<string>>();
  for (const k of CONFIG_KEYS) (known.get(k.configMap) ?? known.set(k.configMap, new Set()).get(k.configMap)!).add(k.key);
  const autoscaler = known.get('config-autoscaler') ?? known.set('config-autoscaler', new Set()).get('config-autoscaler')!;
  for (const k of AUTOSCALER_KEYS) autoscaler.add(k);
  const checked = new Set(CHECKED_MAPS);
  for (const [cm, keys] of Object.entries(knownExtraKeys ?? {})) {
    checked.add(cm);
    const set = known.get(cm) ?? known.set(cm, new Set()).get(cm)!;
    for (const k of keys) set.add(k);
  }
  for (const cm of checked) {
    const data = configMaps[cm];
    if (!data) continue;
    for (const key of Object.keys(data)) {
      if (isExampleKey(key) || known.get(cm)?.has(key)) continue;
      problems.push({ severity: 'warning', object: `ConfigMap ${cm}`, field: `data.${key}`, message: `unknown key "${key}" is ignored` });
    }
  }

  // config-wharf first: the cluster domain feeds the default domain.
  let clusterDomain = 'cluster.local';
  const cdRaw = get('config-wharf', 'cluster-domain');
  if (cdRaw !== undefined) {
    const cd = cdRaw.trim().toLowerCase().replace(/\.$/, '');
    if (isDnsName(cd)) clusterDomain = cd;
    else bad('config-wharf', 'cluster-domain', `"${cdRaw}" is not a DNS name`);
  }
  const accessLog = readBool('config-wharf', 'access-log', true);
  const drainTimeoutMs = readSeconds('config-wharf', 'drain-timeout', 30) * 1000;
  const drainDelayMs = readSeconds('config-wharf', 'drain-delay', 1) * 1000;

  // config-network
  const domainTemplate = readTemplate('domain-template', DEFAULT_DOMAIN_TEMPLATE, ['Name', 'Namespace', 'Domain'], ['Annotations', 'Labels']);
  const tagTemplate = readTemplate('tag-template', DEFAULT_TAG_TEMPLATE, ['Name', 'Tag'], []);
  const autocreate = readBool('config-network', 'autocreate-cluster-domain-claims', false);
  let rolloutDurationSeconds = 0;
  const rd = get('config-network', 'rollout-duration');
  if (rd !== undefined && rd.trim() !== '') {
    const s = parseSecondsOrDuration(rd);
    if (s === null || s < 0) bad('config-network', 'rollout-duration', `"${rd}" is not a non-negative number of seconds or a duration`);
    else rolloutDurationSeconds = Math.floor(s);
  }
  let httpProtocol: ClusterConfig['network']['httpProtocol'] = 'enabled';
  const hp = get('config-network', 'http-protocol');
  if (hp !== undefined && hp.trim() !== '') {
    const v = hp.trim().toLowerCase();
    if (v === 'enabled' || v === 'redirected' || v === 'disabled') httpProtocol = v;
    else bad('config-network', 'http-protocol', `"${hp}" is not one of Enabled, Redirected, Disabled`);
  }
  const ingressClass = (get('config-network', 'ingress-class') ?? get('config-network', 'ingress.class') ?? '').trim() || DEFAULT_INGRESS_CLASS;

  // config-features
  let tagHeaderBasedRouting = false;
  const th = get('config-features', 'tag-header-based-routing');
  if (th !== undefined && th.trim() !== '') {
    const v = th.trim().toLowerCase();
    if (v === 'enabled') tagHeaderBasedRouting = true;
    else if (v !== 'disabled' && v !== 'allowed') bad('config-features', 'tag-header-based-routing', `"${th}" is not one of Enabled, Disabled, Allowed`);
  }

  // config-defaults
  const revisionTimeoutSeconds = readInt('config-defaults', 'revision-timeout-seconds', 300, 1);
  const maxRevisionTimeoutSeconds = readInt('config-defaults', 'max-revision-timeout-seconds', 600, 1);
  const containerConcurrency = readInt('config-defaults', 'container-concurrency', 0, 0);
  const containerConcurrencyMaxLimit = readInt('config-defaults', 'container-concurrency-max-limit', 1000, 1);
  if (revisionTimeoutSeconds > maxRevisionTimeoutSeconds) {
    bad('config-defaults', 'revision-timeout-seconds', `${revisionTimeoutSeconds} exceeds max-revision-timeout-seconds ${maxRevisionTimeoutSeconds}`);
  }
  if (containerConcurrency > containerConcurrencyMaxLimit) {
    bad('config-defaults', 'container-concurrency', `${containerConcurrency} exceeds container-concurrency-max-limit ${containerConcurrencyMaxLimit}`);
  }

  // config-domain
  const domains = parseDomains(configMaps['config-domain'] ?? {}, clusterDomain, problems);

  const raw: Record<string, Readonly<Record<string, string>>> = {};
  for (const [k, v] of Object.entries(configMaps)) raw[k] = { ...v };

  return {
    config: {
      raw,
      clusterDomain,
      domains,
      network: { domainTemplate, tagTemplate, autocreateClusterDomainClaims: autocreate, rolloutDurationSeconds, httpProtocol, ingressClass },
      features: { tagHeaderBasedRouting },
      defaults: { revisionTimeoutSeconds, containerConcurrency, maxRevisionTimeoutSeconds, containerConcurrencyMaxLimit },
      wharf: { accessLog, drainTimeoutMs, drainDelayMs },
    },
    problems,
  };

  function readBool(cm: string, key: string, def: boolean): boolean {
    const v = get(cm, key);
    if (v === undefined || v.trim() === '') return def;
    const b = parseGoBool(v);
    if (b === null) {
      bad(cm, key, `"${v}" is not a boolean (true/false)`);
      return def;
    }
    return b;
  }
  function readSeconds(cm: string, key: string, def: number): number {
    const v = get(cm, key);
    if (v === undefined || v.trim() === '') return def;
    const s = parseSecondsOrDuration(v);
    if (s === null || s < 0) {
      bad(cm, key, `"${v}" is not a non-negative number of seconds or a duration like "30s"`);
      return def;
    }
    return s;
  }
  function readInt(cm: string, key: string, def: number, min: number): number {
    const v = get(cm, key);
    if (v === undefined || v.trim() === '') return def;
    if (!/^\s*[+-]?\d+\s*$/.test(v) || Number(v) < min) {
      bad(cm, key, `"${v}" is not an integer >= ${min}`);
      return def;
    }
    return Number(v);
  }
  function readTemplate(key: string, def: string, fields: string[], maps: string[]): string {
    const v = get('config-network', key);
    if (v === undefined || v.trim() === '') return def;
    const err = checkTemplate(v, fields, maps);
    if (err) {
      bad('config-network', key, err);
      return def;
    }
    return v;
  }
}

/** Validates a host template the way Knative does: it must parse and render a bare host name (no path, not empty). */
function checkTemplate(src: string, fields: string[], maps: string[]): string | null {
  try {
    const t = parseTemplate(src, fields, maps);
    const sample = renderTemplate(t, {
      fields: { Name: 'foo', Namespace: 'bar', Domain: 'baz.com', Tag: 'tag' },
      maps: { Annotations: {}, Labels: {} },
    });
    if (sample === '') return 'template renders an empty host name';
    if (/[/?#\s@]/.test(sample)) return `template renders "${sample}", which is not a host name`;
    return null;
  } catch (e) {
    if (e instanceof TemplateError) return `bad template: ${e.message}`;
    throw e;
  }
}

/**
 * config-domain: each key is a domain; its value is "" (default domain), the current format
 * `selector: {label: value}`, or the legacy bare label map. Without a default entry Knative falls back to
 * `svc.<cluster-domain>` (which makes every route cluster-local).
 */
function parseDomains(data: Record<string, string>, clusterDomain: string, problems: Problem[]): DomainSelector[] {
  const out: DomainSelector[] = [];
  let hasDefault = false;
  for (const [rawKey, value] of Object.entries(data)) {
    if (isExampleKey(rawKey)) continue;
    const domain = rawKey.trim().toLowerCase().replace(/\.$/, '');
    const where = { severity: 'error' as const, object: 'ConfigMap config-domain', field: `data.${rawKey}` };
    if (!isDnsName(domain)) {
      problems.push({ ...where, message: `"${rawKey}" is not a domain name` });
      continue;
    }
    let parsed: unknown;
    try {
      parsed = value === undefined || value === null || String(value).trim() === '' ? null : parseYaml(String(value));
    } catch (e) {
      problems.push({ ...where, message: `value is not YAML: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    let labels: unknown = parsed;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && 'selector' in parsed) labels = (parsed as { selector: unknown }).selector;
    const selector: Record<string, string> = {};
    if (labels !== null && labels !== undefined) {
      if (typeof labels !== 'object' || Array.isArray(labels)) {
        problems.push({ ...where, message: 'value must be empty or "selector:" with a map of label: value' });
        continue;
      }
      let ok = true;
      for (const [lk, lv] of Object.entries(labels as Record<string, unknown>)) {
        if (typeof lv !== 'string' && typeof lv !== 'number' && typeof lv !== 'boolean') {
          problems.push({ ...where, message: `selector label "${lk}" must have a scalar value` });
          ok = false;
          break;
        }
        selector[lk] = String(lv);
      }
      if (!ok) continue;
    }
    if (Object.keys(selector).length === 0) hasDefault = true;
    out.push({ domain, selector });
  }
  if (!hasDefault) out.push({ domain: `svc.${clusterDomain}`, selector: {} });
  out.sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  return out;
}
