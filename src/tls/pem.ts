// Certificate/key pair checks with node:crypto only: parse the leaf, make sure the key belongs to it, read its
// names and validity window. A bad pair yields an error string instead of an exception so callers can report it.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';

export interface CertInfo {
  /** Lower-case DNS names the leaf covers (subjectAltName, or the CN when there is no SAN). May hold `*.x`. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 over cert and key PEM: identifies this exact pair so SecureContexts can be reused across reloads. */
  digest: string;
}

export type PairCheck = { ok: true; info: CertInfo; warnings: string[] } | { ok: false; error: string };

export function checkPair(certPem: string, keyPem: string, now: number = Date.now()): PairCheck {
  let leaf: X509Certificate;
  try {
    // X509Certificate reads the first certificate of a chain: the leaf.
    leaf = new X509Certificate(certPem);
  } catch (e) {
    return { ok: false, error: `tls.crt is not a PEM certificate: ${(e as Error).message}` };
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    return { ok: false, error: `tls.key is not a PEM private key: ${(e as Error).message}` };
  }
  if (!leaf.checkPrivateKey(key)) return { ok: false, error: 'tls.key does not match the certificate in tls.crt' };

  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  const warnings: string[] = [];
  if (notAfter.getTime() <= now) warnings.push(`certificate expired at ${notAfter.toISOString()}`);
  if (notBefore.getTime() > now) warnings.push(`certificate is not valid before ${notBefore.toISOString()}`);
  const names = certNames(leaf);
  if (names.length === 0) warnings.push('certificate names no DNS host (no subjectAltName DNS entry or CN)');
  const digest = createHash('sha256').update(certPem).update('\0').update(keyPem).digest('hex');
  return { ok: true, info: { names, notBefore, notAfter, digest }, warnings };
}

function certNames(leaf: X509Certificate): string[] {
  const out: string[] = [];
  const san = leaf.subjectAltName;
  if (san) {
    for (const part of san.split(/,\s*/)) {
      if (part.startsWith('DNS:')) out.push(part.slice(4).toLowerCase());
    }
  }
  if (out.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
    if (cn && /^[*a-z0-9.-]+$/i.test(cn)) out.push(cn.toLowerCase());
  }
  return out;
}

/** True when a certificate name covers the host: equal, or `*.parent` for exactly one extra label. */
export function nameCovers(certName: string, host: string): boolean {
  if (certName === host) return true;
  if (!certName.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === certName.slice(2);
}
