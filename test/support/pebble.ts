// Runs Debian's Pebble (a real ACME server) and pebble-challtestsrv (its DNS, answering 127.0.0.1 for every name)
// on free loopback ports. Pebble's own HTTPS API gets a localhost certificate minted here from a throwaway CA.
// A missing binary is a hard failure with the install command: these tests are never skipped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { makeCa } from './tls-certs.js';

export interface Pebble {
  directoryUrl: string;
  /** File holding the CA of Pebble's API certificate: the value for config-wharf `acme-ca-root`. */
  apiCaFile: string;
  apiCa: string;
  /** Pebble's issuing root (regenerated on every start), from the management API. */
  root(): Promise<string>;
  intermediate(): Promise<string>;
  /** Pebble and challtestsrv output so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Port where the HTTP-01 validation connects (the test's HTTP listener). */
  httpPort: number;
  /** Port where TLS-ALPN-01 validation connects (the test's TLS listener). */
  tlsPort: number;
  /** Seconds of validity of issued certificates. */
  certificateValidityPeriod?: number;
  env?: Record<string, string>;
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, bin)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  for (const bin of ['pebble', 'pebble-challtestsrv']) {
    if (!onPath(bin)) throw new Error(`${bin} is not installed: the ACME tests need Debian's pebble package (run .ci/setup-pebble.sh, i.e. apt-get install -y pebble)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'wharf-pebble-'));
  const ca = await makeCa('wharf pebble API CA');
  const leaf = await ca.issue({ names: ['localhost'], ips: ['127.0.0.1'] });
  const apiCaFile = join(dir, 'api-ca.pem');
  await Promise.all([writeFile(apiCaFile, ca.cert), writeFile(join(dir, 'cert.pem'), leaf.cert), writeFile(join(dir, 'key.pem'), leaf.key)]);

  const [acmePort, mgmtPort, dnsPort, chtMgmtPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort: opts.httpPort,
      tlsPort: opts.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(opts.certificateValidityPeriod ? { certificateValidityPeriod: opts.certificateValidityPeriod } : {}),
    },
  };
  await writeFile(join(dir, 'pebble.json'), JSON.stringify(config));

  let log = '';
  const procs: ChildProcess[] = [];
  const run = (cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const tag = (d: Buffer) => (log += `[${cmd}] ${d.toString()}`);
    p.stdout!.on('data', tag);
    p.stderr!.on('data', tag);
    p.on('exit', (code, sig) => (log += `[${cmd}] exited ${code ?? sig}\n`));
    procs.push(p);
    return p;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };

  // Only the DNS listener is needed: wharf itself answers the challenges. Pebble runs -strict (upcoming
  // breaking API changes on) and keeps its default 5 % nonce rejection, which acme-client must retry through.
  run('pebble-challtestsrv', [
    '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
    '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-management', `127.0.0.1:${chtMgmtPort}`,
  ]);
  run('pebble', ['-strict', '-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', ...opts.env });

  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await get(directoryUrl, ca.cert);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || procs.some((p) => p.exitCode !== null)) {
      await stop();
      throw new Error(`pebble did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const mgmt = async (path: string): Promise<string> => {
    const r = await get(`https://127.0.0.1:${mgmtPort}${path}`, ca.cert);
    if (r.status !== 200) throw new Error(`pebble management ${path}: HTTP ${r.status}`);
    return r.body;
  };
  return { directoryUrl, apiCaFile, apiCa: ca.cert, root: () => mgmt('/roots/0'), intermediate: () => mgmt('/intermediates/0'), output: () => log, stop };
}
