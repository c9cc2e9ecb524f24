// The ACME issuer: acme-client's low-level calls (not `auto()`, whose self-check would fetch the challenge over
// public DNS) with challenges answered by wharf's own listeners through the ChallengeResponder.
import https from 'node:https';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import * as acme from 'acme-client';
import { child } from '../../observability/logger.js';
import type { ChallengeType } from '../config.js';
import type { ChallengeResponder } from './challenges.js';
import type { IssuedCertificate, Issuer } from './issuer.js';
import type { CertStorage } from './storage.js';
import { acmeOrders } from '../metrics.js';

export interface AcmeIssuerOptions {
  directoryUrl: string;
  email: string | null;
  /** PEM of a private CA to trust for the directory's HTTPS, in addition to the system roots. */
  caRoot: string | null;
  challenges: ChallengeType[];
  storage: CertStorage;
  responder: ChallengeResponder;
  /** First delay (ms) when polling the CA for a status change; acme-client's 5 s default suits public CAs. */
  pollMinMs?: number;
  log?: Logger;
}

export class AcmeIssuer implements Issuer {
  /** Orders placed with the CA by this issuer (a new-order request, whatever its outcome). */
  orders = 0;
  private client: Promise<acme.Client> | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: AcmeIssuerOptions) {
    this.log = opts.log ?? child('acme');
    if (opts.caRoot) {
      // acme-client talks through one shared axios instance; a private CA can only be trusted there, process-wide.
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, opts.caRoot], keepAlive: true });
    }
  }

  async issue(domains: string[]): Promise<IssuedCertificate> {
    try {
      const out = await this.order(domains);
      acmeOrders.inc({ result: 'issued' });
      return out;
    } catch (e) {
      acmeOrders.inc({ result: 'failed' });
      throw new Error(`ACME order for ${domains.join(', ')} at ${this.opts.directoryUrl} failed: ${describeError(e)}`);
    }
  }

  private async order(domains: string[]): Promise<IssuedCertificate> {
    const client = await this.account();
    const [key, csr] = await acme.crypto.createCsr({ commonName: domains[0], altNames: domains }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    this.orders++;
    const order = await client.createOrder({ identifiers: domains.map((value) => ({ type: 'dns', value })) });
    const authzs = await client.getAuthorizations(order);
    const cleanups: (() => void)[] = [];
    try {
      for (const authz of authzs) {
        if (authz.status === 'valid') continue;
        const challenge = this.opts.challenges.map((t) => authz.challenges.find((c) => c.type === t)).find((c) => c !== undefined);
        if (!challenge) throw new Error(`the CA offers no supported challenge for ${authz.identifier.value} (offered: ${authz.challenges.map((c) => c.type).join(', ')})`);
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        if (challenge.type === 'http-01') {
          this.opts.responder.addHttp(challenge.token, keyAuthorization);
          cleanups.push(() => this.opts.responder.removeHttp(challenge.token));
        } else {
          const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
          const host = authz.identifier.value;
          this.opts.responder.addAlpn(host, alpnCert.toString(), alpnKey.toString());
          cleanups.push(() => this.opts.responder.removeAlpn(host));
        }
        this.log.debug({ domain: authz.identifier.value, type: challenge.type }, 'answering ACME challenge');
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      }
    } finally {
      for (const c of cleanups) c();
    }
    const finalized = await client.finalizeOrder(order, csr);
    const cert = await client.getCertificate(finalized);
    const leaf = new X509Certificate(cert);
    return { cert, key: key.toString(), notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
  }

  /** The account client, created once: key and URL persisted per directory so restarts reuse the account. */
  private account(): Promise<acme.Client> {
    if (!this.client) {
      this.client = this.openAccount();
      // A failed registration is retried on the next order rather than cached forever.
      this.client.catch(() => {
        this.client = null;
      });
    }
    return this.client;
  }

  private async openAccount(): Promise<acme.Client> {
    const { storage, directoryUrl, email } = this.opts;
    const stored = await storage.loadAccount();
    const key = stored?.directoryUrl === directoryUrl ? stored.key : (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    const backoff = this.opts.pollMinMs ? { backoffMin: this.opts.pollMinMs, backoffMax: Math.max(this.opts.pollMinMs * 8, 2000) } : {};
    const data = { termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) };
    let client: acme.Client;
    try {
      const accountUrl = stored?.directoryUrl === directoryUrl ? (stored.accountUrl ?? undefined) : undefined;
      client = new acme.Client({ directoryUrl, accountKey: key, ...(accountUrl ? { accountUrl } : {}), ...backoff });
      await client.createAccount(data);
    } catch (e) {
      // A stored account URL the CA no longer knows (e.g. a test CA that restarted): register the key again.
      this.log.warn({ err: describeError(e) }, 'stored ACME account not usable, registering again');
      client = new acme.Client({ directoryUrl, accountKey: key, ...backoff });
      await client.createAccount(data);
    }
    await storage.saveAccount({ directoryUrl, accountUrl: client.getAccountUrl(), key });
    this.log.info({ directoryUrl, accountUrl: client.getAccountUrl() }, 'ACME account ready');
    return client;
  }
}

function describeError(e: unknown): string {
  const err = e as { message?: string; response?: { data?: { detail?: string; type?: string } } };
  const detail = err.response?.data?.detail;
  return detail ? `${err.message ?? 'error'}: ${detail}` : (err.message ?? String(e));
}
