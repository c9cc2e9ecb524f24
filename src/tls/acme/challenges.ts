// Pending ACME challenges that wharf answers itself: HTTP-01 tokens on the HTTP listeners and TLS-ALPN-01
// certificates on the TLS listeners. The issuer adds an entry before telling the CA to validate and removes it after.
import tls, { type SecureContext } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AlpnChallengeSource } from '../store.js';

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** True for every ACME HTTP-01 path, pending or not: such requests are never redirected to HTTPS. */
export function isAcmeChallengePath(path: string | undefined): boolean {
  return path !== undefined && path.startsWith(ACME_CHALLENGE_PREFIX);
}

export class ChallengeResponder implements AlpnChallengeSource {
  private readonly http = new Map<string, string>();
  private readonly alpn = new Map<string, SecureContext>();

  /** The key authorization to answer for this request path, if it is a pending HTTP-01 token. */
  match(path: string | undefined): string | undefined {
    if (this.http.size === 0 || !isAcmeChallengePath(path)) return undefined;
    let token = path!.slice(ACME_CHALLENGE_PREFIX.length);
    const q = token.indexOf('?');
    if (q >= 0) token = token.slice(0, q);
    return this.http.get(token);
  }

  /**
   * Answer the request if it is for a pending token; returns false (and writes nothing) otherwise, so the
   * listener goes on routing it normally (an app may run its own ACME client).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const body = this.match(req.url);
    if (body === undefined) return false;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
    return true;
  }

  addHttp(token: string, keyAuthorization: string): void {
    this.http.set(token, keyAuthorization);
  }

  removeHttp(token: string): void {
    this.http.delete(token);
  }

  addAlpn(host: string, cert: string, key: string): void {
    this.alpn.set(host.toLowerCase(), tls.createSecureContext({ cert, key }));
  }

  removeAlpn(host: string): void {
    this.alpn.delete(host.toLowerCase());
  }

  alpnContextFor(servername: string): SecureContext | undefined {
    return this.alpn.size === 0 ? undefined : this.alpn.get(servername);
  }

  get pending(): number {
    return this.http.size + this.alpn.size;
  }
}
