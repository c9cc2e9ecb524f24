// The seam between the certificate manager and a CA. ACME is the real one; tests plug in fakes.

export interface IssuedCertificate {
  /** Leaf first, then the chain, PEM. */
  cert: string;
  /** PKCS#8 PEM private key of the leaf. */
  key: string;
  notBefore: Date;
  notAfter: Date;
}

export interface Issuer {
  /** Obtain one certificate covering every domain. Rejects with a readable error on failure. */
  issue(domains: string[]): Promise<IssuedCertificate>;
}
