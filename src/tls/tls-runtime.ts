// One object for the runtime to hold: the SNI certificate store, the ACME certificate manager and the challenge
// responder, fed from every snapshot swap. Listeners only ever talk to `store` and `responder`.
import type { Logger } from 'pino';
import type { Plane, Snapshot } from '../model/snapshot.js';
import type { Problem } from '../model/objects.js';
import { CertStore } from './store.js';
import { CertManager, type CertManagerOptions } from './acme/manager.js';
import type { ChallengeResponder } from './acme/challenges.js';
// Importing the settings module registers config-wharf's TLS keys (known keys, documented in the README table).
import './config.js';

export interface TlsRuntimeOptions {
  /** wharf's data dir; ACME state goes to `<dataDir>/tls/`. */
  dataDir: string;
  log?: Logger;
  /** Test seams passed to the CertManager (issuer factory, clock, timers). */
  manager?: Partial<Omit<CertManagerOptions, 'store' | 'dataDir'>>;
}

export class TlsRuntime {
  readonly store: CertStore;
  readonly certs: CertManager;
  readonly responder: ChallengeResponder;

  constructor(opts: TlsRuntimeOptions) {
    this.store = new CertStore(opts.log ? { log: opts.log } : {});
    this.certs = new CertManager({ ...opts.manager, store: this.store, dataDir: opts.dataDir, ...(opts.log ? { log: opts.log } : {}) });
    this.responder = this.certs.responder;
  }

  /** Load persisted ACME certificates. Await before the TLS listeners accept connections. */
  start(): Promise<void> {
    return this.certs.start();
  }

  /** Follow a snapshot swap: certificates first, then what ACME should order. Returns the TLS problems (also logged). */
  update(snapshot: Snapshot): readonly Problem[] {
    const problems = this.store.update(snapshot);
    this.certs.update(snapshot);
    return problems;
  }

  /** Server options for a TLS listener of a plane (`http2.createSecureServer`); call `store.attach(server)` after. */
  serverOptions(plane: Plane): ReturnType<CertStore['http2ServerOptions']> {
    return this.store.http2ServerOptions(plane);
  }

  /** For `/debug/certificates`. */
  describe(): unknown {
    return { certificates: this.store.describe(), acme: this.certs.describe(), problems: this.store.problems };
  }

  stop(): void {
    this.certs.stop();
    this.store.close();
  }
}
