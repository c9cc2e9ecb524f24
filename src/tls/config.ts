// The TLS and ACME keys of the `config-wharf` ConfigMap. Pure: raw strings in, typed settings plus problems out,
// so a bad value is reported with its key and the default is used instead of crashing.
import type { Problem } from '../model/objects.js';
import { parseGoBool, parseGoDuration } from '../model/duration.js';
import { registerConfigKeys } from '../model/config.js';

export type ChallengeType = 'http-01' | 'tls-alpn-01';

export interface TlsSettings {
  /** Secret `ns/name` served when no other certificate matches the SNI name (or when there is no SNI). */
  defaultCertificate: string | null;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher string (colon separated) or null for Node's default list. */
  ciphers: string | null;
  acme: AcmeSettings;
}

export interface AcmeSettings {
  enabled: boolean;
  directoryUrl: string;
  email: string | null;
  /** PEM file with the CA that signs the ACME directory's HTTPS certificate (a private CA such as Pebble). */
  caRootFile: string | null;
  challenges: ChallengeType[];
  /** `eager`: order for every external host on reload. `on-demand`: only on the first TLS handshake for it. */
  issuance: 'eager' | 'on-demand';
  /** Handshake-time orders allowed per minute, over all names. */
  onDemandPerMinute: number;
  /** Handshake-time orders allowed per hour for names under one parent domain. */
  onDemandPerDomainPerHour: number;
  /** How long a failed handshake-time order blocks new ones for that name. */
  negativeCacheMs: number;
}

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/** Every config-wharf key this module reads, for the docs and `wharf validate`. */
export const TLS_CONFIG_KEYS: readonly { key: string; default: string; description: string }[] = [
  { key: 'default-certificate', default: '', description: 'Secret `namespace/name` (kubernetes.io/tls) served when no other certificate matches the SNI name.' },
  { key: 'tls-min-version', default: '1.2', description: 'Lowest TLS version accepted: `1.2` or `1.3`.' },
  { key: 'tls-cipher-suites', default: "Node's default", description: 'Comma or colon separated OpenSSL cipher names (TLS 1.2 suites and TLS_* 1.3 suites).' },
  { key: 'auto-tls', default: 'false', description: '`true` gets certificates from ACME for external route and DomainMapping hosts that have no TLS secret.' },
  { key: 'acme-directory-url', default: LETS_ENCRYPT_DIRECTORY, description: 'ACME directory URL (Let\'s Encrypt production by default; use the staging URL while testing).' },
  { key: 'acme-email', default: '', description: 'Contact e-mail for the ACME account.' },
  { key: 'acme-ca-root', default: '', description: 'PEM file of a private CA trusted for the ACME directory\'s own HTTPS (e.g. Pebble).' },
  { key: 'acme-challenge-types', default: 'http-01', description: 'Preferred challenge types in order: `http-01`, `tls-alpn-01`.' },
  { key: 'acme-issuance', default: 'eager', description: '`eager` orders for every external host on reload; `on-demand` orders during the first TLS handshake for a routed host.' },
  { key: 'acme-on-demand-per-minute', default: '10', description: 'Handshake-time orders allowed per minute in total.' },
  { key: 'acme-on-demand-per-domain-per-hour', default: '20', description: 'Handshake-time orders allowed per hour under one parent domain.' },
  { key: 'acme-negative-cache', default: '5m', description: 'How long a failed handshake-time order blocks another one for the same name (Go duration).' },
];
// Registered so `wharf validate` and the config parser know these keys (no unknown-key warning).
registerConfigKeys(TLS_CONFIG_KEYS.map((k) => ({ configMap: 'config-wharf', key: k.key, default: k.default, doc: k.description })));

const OBJ = 'ConfigMap config-wharf';

export function parseTlsSettings(raw: Readonly<Record<string, string>> | undefined): { settings: TlsSettings; problems: Problem[] } {
  const r = raw ?? {};
  const problems: Problem[] = [];
  const bad = (key: string, message: string): void => {
    problems.push({ severity: 'warning', object: OBJ, field: `data.${key}`, message });
  };
  const str = (key: string): string | null => {
    const v = r[key]?.trim();
    return v ? v : null;
  };
  const bool = (key: string, def: boolean): boolean => {
    const v = str(key);
    if (v === null) return def;
    // The same reading as every other config-wharf boolean (model/config.ts).
    const b = parseGoBool(v);
    if (b !== null) return b;
    bad(key, `expected "true" or "false", got ${JSON.stringify(v)}; using ${def}`);
    return def;
  };
  const posInt = (key: string, def: number): number => {
    const v = str(key);
    if (v === null) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      bad(key, `expected a non-negative integer, got ${JSON.stringify(v)}; using ${def}`);
      return def;
    }
    return n;
  };

  let defaultCertificate = str('default-certificate');
  if (defaultCertificate !== null && !/^[a-z0-9.-]+\/[a-z0-9.-]+$/.test(defaultCertificate)) {
    bad('default-certificate', `expected a Secret "namespace/name", got ${JSON.stringify(defaultCertificate)}`);
    defaultCertificate = null;
  }

  let minVersion: TlsSettings['minVersion'] = 'TLSv1.2';
  const mv = str('tls-min-version');
  if (mv !== null) {
    const norm = mv.replace(/^TLSv?/i, '');
    if (norm === '1.3') minVersion = 'TLSv1.3';
    else if (norm !== '1.2') bad('tls-min-version', `expected "1.2" or "1.3", got ${JSON.stringify(mv)}; using 1.2 (older versions are never allowed)`);
  }

  const cs = str('tls-cipher-suites');
  const ciphers = cs === null ? null : cs.split(/[,:\s]+/).filter(Boolean).join(':');

  let directoryUrl = str('acme-directory-url') ?? LETS_ENCRYPT_DIRECTORY;
  if (!/^https?:\/\//.test(directoryUrl)) {
    bad('acme-directory-url', `expected an http(s) URL, got ${JSON.stringify(directoryUrl)}; using ${LETS_ENCRYPT_DIRECTORY}`);
    directoryUrl = LETS_ENCRYPT_DIRECTORY;
  }

  const challenges: ChallengeType[] = [];
  for (const c of (str('acme-challenge-types') ?? 'http-01').split(/[,\s]+/).filter(Boolean)) {
    if (c === 'http-01' || c === 'tls-alpn-01') {
      if (!challenges.includes(c)) challenges.push(c);
    } else bad('acme-challenge-types', `unknown challenge type ${JSON.stringify(c)} (supported: http-01, tls-alpn-01)`);
  }
  if (challenges.length === 0) challenges.push('http-01');

  let issuance: AcmeSettings['issuance'] = 'eager';
  const iss = str('acme-issuance');
  if (iss === 'on-demand') issuance = 'on-demand';
  else if (iss !== null && iss !== 'eager') bad('acme-issuance', `expected "eager" or "on-demand", got ${JSON.stringify(iss)}; using eager`);

  let negativeCacheMs = 300_000;
  const nc = str('acme-negative-cache');
  if (nc !== null) {
    const ms = parseGoDuration(nc);
    if (ms === null || ms < 0) bad('acme-negative-cache', `expected a duration such as "5m", got ${JSON.stringify(nc)}; using 5m`);
    else negativeCacheMs = ms;
  }

  return {
    settings: {
      defaultCertificate,
      minVersion,
      ciphers,
      acme: {
        enabled: bool('auto-tls', false),
        directoryUrl,
        email: str('acme-email'),
        caRootFile: str('acme-ca-root'),
        challenges,
        issuance,
        onDemandPerMinute: posInt('acme-on-demand-per-minute', 10),
        onDemandPerDomainPerHour: posInt('acme-on-demand-per-domain-per-hour', 20),
        negativeCacheMs,
      },
    },
    problems,
  };
}
