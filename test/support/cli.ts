// The `wharf` command as a child process, the way a user runs it: one-shot commands (validate, routes) and
// `wharf serve` with its output collected and a wait for /readyz on the admin port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { get } from './http.js';

export const ROOT = resolve(import.meta.dirname, '../..');
/** node arguments that run the CLI from source. */
export const CLI = ['--import', 'tsx', resolve(ROOT, 'src/cli.ts')];

/** Run a one-shot command to completion. */
export function runCli(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  log(): string;
  /** Resolves with the exit code (listened for from the start, so an early exit is not missed). */
  exited: Promise<number | null>;
}

/** Spawn `wharf <args>` with stdout/stderr collected. The caller kills it (see `killCli`). */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.env ? { env: opts.env } : {}),
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, log: () => log, exited };
}

/** Poll /readyz on the admin port until it answers 200 (ready once the first config is live). */
export async function waitReady(p: CliProcess, adminPort: number, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await get(adminPort, 'localhost', '/readyz').then((r) => r.status === 200, () => false))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`wharf did not become ready:\n${p.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGKILL a child that is still running (test teardown). */
export function killCli(p: CliProcess | null | undefined): void {
  if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
}
