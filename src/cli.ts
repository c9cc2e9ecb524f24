#!/usr/bin/env node
// The `wharf` command: serve a folder of Knative manifests, validate it, or print its compiled host table.
// Every flag can also come from the environment as WHARF_<NAME> (e.g. WHARF_HTTP_PORT); a flag wins over the env.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatProblem, type Problem } from './model/objects.js';
import { compile } from './model/compile.js';
import type { Snapshot } from './model/snapshot.js';
import { ManifestSource, validateFolder } from './sources/manifests/index.js';
import { createBackends } from './backends/index.js';
import { Runtime, dedupeProblems as dedupe } from './runtime.js';
import { TlsRuntime } from './tls/tls-runtime.js';
import { CertStore } from './tls/store.js';
import { routesTable } from './admin/routes-view.js';
import { fetchRevisions, liveRevisionsTable, staticRevisionsTable } from './scaling/revisions-table.js';
import type { Source } from './sources/source.js';
import { Eventing } from './eventing/runtime.js';
import { attachEventing, withEventing } from './eventing/wire.js';
import { configureLogger, child, flushLogs } from './observability/logger.js';

const FLAGS = {
  config: { type: 'string', default: 'conf', help: 'folder of Knative manifests' },
  'http-port': { type: 'string', default: '8080', help: 'external plane, plain HTTP' },
  'internal-http-port': { type: 'string', default: '8081', help: 'cluster-local plane, plain HTTP' },
  'https-port': { type: 'string', default: '8443', help: 'external plane, TLS' },
  'internal-https-port': { type: 'string', default: '8444', help: 'cluster-local plane, TLS' },
  'admin-port': { type: 'string', default: '9000', help: '/healthz /readyz /metrics /debug/*' },
  'admin-address': { type: 'string', default: '127.0.0.1', help: 'address the admin listener binds' },
  admin: { type: 'string', default: '', help: 'routes: admin URL of a running wharf for live scale (default http://<admin-address>:<admin-port>)' },
  'listen-address': { type: 'string', default: '', help: 'address the planes bind (default: all interfaces)' },
  'data-dir': { type: 'string', default: './data', help: 'revision history, certificates, event log' },
  'log-level': { type: 'string', default: 'info', help: 'trace, debug, info, warn, error' },
  kubernetes: { type: 'boolean', default: false, help: 'read objects from the cluster instead of a folder' },
  help: { type: 'boolean', default: false, help: 'show this help' },
} as const;

type FlagName = keyof typeof FLAGS;

export interface CliOptions {
  command: string;
  config: string;
  httpPort: number;
  internalHttpPort: number;
  httpsPort: number;
  internalHttpsPort: number;
  adminPort: number;
  adminAddress: string;
  /** `routes`: where a running wharf's admin listener is ('' = from admin-address and admin-port). */
  admin: string;
  listenAddress: string | undefined;
  dataDir: string;
  logLevel: string;
  kubernetes: boolean;
  help: boolean;
}

const envName = (flag: string) => `WHARF_${flag.toUpperCase().replace(/-/g, '_')}`;

function usage(): string {
  const lines = [
    'usage: wharf <serve|validate|routes> [flags]',
    '',
    '  serve      serve the manifests in --config (reloads on change and on SIGHUP; drains on SIGTERM)',
    '  validate   print every problem in --config; exit 1 if there is an error',
    '  routes     print the compiled host table of --config',
    '',
    'flags (each also settable as WHARF_<NAME>):',
  ];
  for (const [name, f] of Object.entries(FLAGS)) {
    if (name === 'help') continue;
    const def = f.type === 'boolean' ? '' : f.default ? ` (default ${f.default})` : '';
    lines.push(`  --${name.padEnd(22)} ${f.help}${def}   [${envName(name)}]`);
  }
  return lines.join('\n') + '\n';
}

class UsageError extends Error {}

function port(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name}: "${raw}" is not a port number`);
  return n;
}

/** Flags, then WHARF_* env, then defaults. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, f] of Object.entries(FLAGS)) options[name] = { type: f.type };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const get = (name: FlagName): string | boolean => {
    const v = parsed.values[name];
    if (v !== undefined) return v;
    const e = env[envName(name)];
    if (e !== undefined && e !== '') return FLAGS[name].type === 'boolean' ? /^(1|true|yes|on)$/i.test(e) : e;
    return FLAGS[name].default;
  };
  const command = parsed.positionals[0] ?? (get('help') ? 'help' : '');
  if (parsed.positionals.length > 1) throw new UsageError(`unexpected argument: ${parsed.positionals[1]}`);
  const listen = get('listen-address') as string;
  return {
    command,
    config: get('config') as string,
    httpPort: port('http-port', get('http-port') as string),
    internalHttpPort: port('internal-http-port', get('internal-http-port') as string),
    httpsPort: port('https-port', get('https-port') as string),
    internalHttpsPort: port('internal-https-port', get('internal-https-port') as string),
    adminPort: port('admin-port', get('admin-port') as string),
    adminAddress: get('admin-address') as string,
    admin: get('admin') as string,
    listenAddress: listen || undefined,
    dataDir: get('data-dir') as string,
    logLevel: get('log-level') as string,
    kubernetes: get('kubernetes') as boolean,
    help: get('help') as boolean,
  };
}

/** Read and compile a folder once, without serving (validate, routes). */
export function compileFolder(dir: string, dataDir: string): { snapshot: Snapshot; problems: Problem[] } {
  const { desired } = validateFolder({ dir, dataDir });
  const { snapshot, problems } = withEventing(compile)(desired, { version: 1 });
  // Certificates are checked as serve would load them (bad pairs, unknown default-certificate, TLS settings).
  const store = new CertStore();
  const tlsProblems = store.update(snapshot);
  store.close();
  return { snapshot, problems: dedupe([...desired.problems, ...problems, ...tlsProblems]) };
}

function validate(o: CliOptions): number {
  const { problems } = compileFolder(o.config, o.dataDir);
  const errors = problems.filter((p) => p.severity === 'error').length;
  for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
  process.stdout.write(
    `${o.config}: ${errors} error${errors === 1 ? '' : 's'}, ${problems.length - errors} warning${problems.length - errors === 1 ? '' : 's'}\n`,
  );
  return errors > 0 ? 1 : 0;
}

async function routes(o: CliOptions): Promise<number> {
  const { snapshot, problems } = compileFolder(o.config, o.dataDir);
  const errors = problems.filter((p) => p.severity === 'error');
  process.stdout.write(routesTable(snapshot));
  // Live scale, panic mode and queue only a running wharf knows: ask its admin listener, else show the folder's view.
  const host = o.adminAddress === '0.0.0.0' || o.adminAddress === '::' ? '127.0.0.1' : o.adminAddress;
  const adminUrl = o.admin || `http://${host.includes(':') ? `[${host}]` : host}:${o.adminPort}`;
  const live = await fetchRevisions(adminUrl);
  process.stdout.write(live ? liveRevisionsTable(live, adminUrl) : staticRevisionsTable(snapshot, `no running wharf answered at ${adminUrl}: configured bounds, live scale unknown`));
  if (errors.length > 0) {
    process.stdout.write(`\nERRORS (serve would refuse this folder)\n`);
    for (const p of errors) process.stdout.write(`  ${formatProblem(p)}\n`);
    return 1;
  }
  return 0;
}

async function serve(o: CliOptions): Promise<void> {
  configureLogger({ level: o.logLevel });
  const log = child('cli');
  const dataDir = resolve(o.dataDir);
  let runtime: Runtime | null = null;
  // The source: a manifest folder, or (--kubernetes) the cluster with its leader election, prober and status writer.
  let source: Source & { reload?(): unknown };
  let cluster: import('./sources/kubernetes/index.js').KubernetesCluster | null = null;
  let clusterCompile: typeof import('./sources/kubernetes/index.js').clusterCompile | null = null;
  let autoscalerUrl = '';
  const eventing = new Eventing({ dataDir });
  if (o.kubernetes) {
    // Loaded only here so standalone start-up never pays for the Kubernetes client.
    const k8s = await import('./sources/kubernetes/index.js');
    const opts = k8s.clusterOptionsFromEnv(process.env, { httpPort: o.httpPort, internalHttpPort: o.internalHttpPort });
    // Several replicas each run the scheduler; only the Lease holder fires PingSources.
    eventing.setPingActive(false);
    cluster = new k8s.KubernetesCluster({ ...opts, onLeadershipChange: (leader) => eventing.setPingActive(leader) });
    clusterCompile = k8s.clusterCompile;
    autoscalerUrl = k8s.autoscalerUrlFromEnv(process.env);
    source = cluster.source;
  } else {
    source = new ManifestSource({ dir: resolve(o.config), dataDir, onError: (problems) => runtime?.rejected(problems) });
  }
  runtime = new Runtime({
    source,
    // In a cluster Knative scales revisions: wharf only reports concurrency to its autoscaler.
    backends: cluster
      ? createBackends({ dataDir, autoscale: false, autoscalerUrl })
      : createBackends({ dataDir }),
    // In a cluster one bad object is left out (and its status says why) instead of freezing every other update.
    compile: clusterCompile ? clusterCompile(withEventing(compile)) : withEventing(compile),
    external: { port: o.httpPort, host: o.listenAddress },
    internal: { port: o.internalHttpPort, host: o.listenAddress },
    admin: { port: o.adminPort, host: o.adminAddress },
    // The TLS ports open once the config has a certificate source (TLS Secret, default-certificate, auto-tls).
    https: { port: o.httpsPort, host: o.listenAddress },
    internalHttps: { port: o.internalHttpsPort, host: o.listenAddress },
    tls: new TlsRuntime({ dataDir }),
  });
  attachEventing(runtime, eventing);
  cluster?.attach(runtime);
  const rt = runtime;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      flushLogs();
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    rt.drain()
      .then(() => Promise.allSettled([eventing.stop(), cluster?.stop()]))
      .then(
        () => {
          flushLogs();
          process.exit(0);
        },
        (err) => {
          log.error({ err }, 'drain failed');
          flushLogs();
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading');
    rt.reload();
  });
  // A bug in one request must not take every other connection down with it; log it loudly instead.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  await rt.start();
  // Knative Service subscribers are reached through our own internal listener, as in a cluster.
  const internal = rt.addresses().internal;
  if (internal) eventing.setInternalOrigin(`http://${o.listenAddress ?? '127.0.0.1'}:${internal.port}`);
  await eventing.start();
  cluster?.start();
}

export async function main(argv: string[]): Promise<number | null> {
  let o: CliOptions;
  try {
    o = parseCli(argv);
  } catch (err) {
    process.stderr.write(`wharf: ${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  try {
    switch (o.command) {
      case 'serve':
        await serve(o);
        return null; // keeps running
      case 'validate':
        return validate(o);
      case 'routes':
        return await routes(o);
      case 'help':
        process.stdout.write(usage());
        return 0;
      case '':
        process.stderr.write(usage());
        return 2;
      default:
        process.stderr.write(`wharf: unknown command "${o.command}"\n\n${usage()}`);
        return 2;
    }
  } catch (err) {
    // Operator mistakes (bad flag, port taken) get one line; anything else is a bug and gets its stack.
    const code0 = (err as NodeJS.ErrnoException).code;
    const plain = err instanceof UsageError || code0 === 'EADDRINUSE' || code0 === 'EACCES' || code0 === 'EADDRNOTAVAIL';
    process.stderr.write(`wharf: ${plain ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    const code = err instanceof UsageError ? 2 : 1;
    // A half-started server (listeners open, something else failed) must not linger.
    if (o.command === 'serve') {
      flushLogs();
      process.exit(code);
    }
    return code;
  }
}

/** Run only as the program (the bin symlink included), not when a test imports this module. */
function isEntry(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntry()) {
  const code = await main(process.argv.slice(2));
  if (code !== null) {
    flushLogs();
    process.exitCode = code;
  }
}
