// ACME state on disk under `<dataDir>/tls/`: the account (key + URL, per directory) and issued certificates in
// `certs/<host>.crt|.key`. Writes are atomic (src/atomic-file.ts), so a crash never leaves half a key behind.
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../atomic-file.js';
import { isDnsName } from '../../model/hosts.js';

export interface StoredAccount {
  directoryUrl: string;
  accountUrl: string | null;
  /** PEM private key (ECDSA P-256). */
  key: string;
}

export interface StoredCert {
  host: string;
  cert: string;
  key: string;
}

export class CertStorage {
  readonly dir: string;
  readonly certsDir: string;

  /** `dataDir` is wharf's data dir; everything lands in `<dataDir>/tls`. */
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'tls');
    this.certsDir = join(this.dir, 'certs');
  }

  async loadAccount(): Promise<StoredAccount | null> {
    try {
      const raw = JSON.parse(await readFile(join(this.dir, 'account.json'), 'utf8')) as Partial<StoredAccount>;
      if (typeof raw.key !== 'string' || typeof raw.directoryUrl !== 'string') return null;
      return { directoryUrl: raw.directoryUrl, accountUrl: typeof raw.accountUrl === 'string' ? raw.accountUrl : null, key: raw.key };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`${join(this.dir, 'account.json')}: ${(e as Error).message}`);
    }
  }

  async saveAccount(a: StoredAccount): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.dir, 'account.json'), JSON.stringify(a, null, 2) + '\n', { mode: 0o600 });
  }

  async loadCerts(): Promise<StoredCert[]> {
    let files: string[];
    try {
      files = await readdir(this.certsDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: StoredCert[] = [];
    for (const f of files) {
      if (!f.endsWith('.crt')) continue;
      const host = f.slice(0, -4);
      if (!isDnsName(host) || !files.includes(`${host}.key`)) continue;
      const [cert, key] = await Promise.all([readFile(join(this.certsDir, f), 'utf8'), readFile(join(this.certsDir, `${host}.key`), 'utf8')]);
      out.push({ host, cert, key });
    }
    return out;
  }

  async saveCert(c: StoredCert): Promise<void> {
    if (!isDnsName(c.host)) throw new Error(`refusing to store a certificate under an odd host name ${JSON.stringify(c.host)}`);
    await mkdir(this.certsDir, { recursive: true, mode: 0o700 });
    // A crash between these two writes leaves a mismatched pair; loading rejects it and the host is reissued.
    await writeFileAtomic(join(this.certsDir, `${c.host}.key`), c.key, { mode: 0o600 });
    await writeFileAtomic(join(this.certsDir, `${c.host}.crt`), c.cert, { mode: 0o644 });
  }
}
