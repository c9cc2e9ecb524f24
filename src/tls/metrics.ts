// Certificate metrics. Counts per (source, state) plus the soonest expiry per source keep the label set small
// however many hosts there are; the per-host detail lives in logs and in the stores' `describe()`.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../observability/metrics.js';

export type CertSource = 'secret' | 'acme';
/** valid | renewing (inside the renewal window) | expired | not_yet_valid | invalid (bad pair) | pending | failed. */
export type CertState = 'valid' | 'renewing' | 'expired' | 'not_yet_valid' | 'invalid' | 'pending' | 'failed';

export interface CertStateEntry {
  source: CertSource;
  state: CertState;
  /** Seconds until the certificate expires (by the provider's clock), when the entry has one. */
  expiresIn: number | null;
}

export interface CertStateProvider {
  certStates(): Iterable<CertStateEntry>;
}

const providers = new Set<CertStateProvider>();

export function registerCertStates(p: CertStateProvider): () => void {
  providers.add(p);
  return () => providers.delete(p);
}

const STATES: CertState[] = ['valid', 'renewing', 'expired', 'not_yet_valid', 'invalid', 'pending', 'failed'];
const SOURCES: CertSource[] = ['secret', 'acme'];

new Gauge({
  name: 'wharf_certificates',
  help: 'TLS certificates known to wharf, by source and state',
  labelNames: ['source', 'state'],
  registers: [registry],
  collect() {
    const counts = new Map<string, number>();
    for (const p of providers) for (const e of p.certStates()) counts.set(`${e.source}|${e.state}`, (counts.get(`${e.source}|${e.state}`) ?? 0) + 1);
    this.reset();
    for (const source of SOURCES) for (const state of STATES) this.set({ source, state }, counts.get(`${source}|${state}`) ?? 0);
  },
});

new Gauge({
  name: 'wharf_certificate_expiry_seconds',
  help: 'Seconds until the soonest-expiring certificate of each source expires (negative when already expired)',
  labelNames: ['source'],
  registers: [registry],
  collect() {
    const soonest = new Map<CertSource, number>();
    for (const p of providers) {
      for (const e of p.certStates()) {
        if (e.expiresIn === null) continue;
        const cur = soonest.get(e.source);
        if (cur === undefined || e.expiresIn < cur) soonest.set(e.source, e.expiresIn);
      }
    }
    this.reset();
    for (const [source, s] of soonest) this.set({ source }, s);
  },
});

/** ACME orders by outcome: issued | failed. */
export const acmeOrders = new Counter({
  name: 'wharf_acme_orders_total',
  help: 'ACME certificate orders by result',
  labelNames: ['result'],
  registers: [registry],
});

/** Handshake-time issuance decisions: issued | failed | not_routed | rate_limited | negative_cached. */
export const onDemandDecisions = new Counter({
  name: 'wharf_acme_on_demand_total',
  help: 'Decisions on TLS handshakes for names without a certificate',
  labelNames: ['decision'],
  registers: [registry],
});
