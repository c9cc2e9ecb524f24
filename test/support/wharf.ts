// Start wharf in-process on port 0: from a hand-built snapshot (data-plane tests) or, via `startWharfFolder`, from a
// manifest folder with the real source, compiler and backends (feature tests).
import type { Desired } from '../../src/model/desired.js';
import { emptyDesired } from '../../src/model/desired.js';
import type { Snapshot } from '../../src/model/snapshot.js';
import type { Backends } from '../../src/backends/types.js';
import type { Source } from '../../src/sources/source.js';
import { Runtime, type CompileFn } from '../../src/runtime.js';
import { FakeBackends } from './backends.js';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ManifestSource } from '../../src/sources/manifests/index.js';
import { compile } from '../../src/model/compile.js';
import { createBackends } from '../../src/backends/index.js';

/** A source whose input the test pushes by hand. */
export class PushSource implements Source {
  private cb: ((d: Desired) => void) | null = null;
  constructor(private initial: Desired | null = emptyDesired()) {}
  async start(onDesired: (d: Desired) => void): Promise<void> {
    this.cb = onDesired;
    if (this.initial) onDesired(this.initial);
  }
  async stop(): Promise<void> {
    this.cb = null;
  }
  push(d: Desired = emptyDesired()): void {
    this.cb?.(d);
  }
}

export interface TestWharf {
  runtime: Runtime;
  external: number;
  internal: number;
  admin: number;
  stop(): Promise<void>;
}

/** Every plane on 127.0.0.1 port 0, and drain timings short enough for tests unless a test sets them. */
function listeners(opts: { drainDelayMs?: number; drainTimeoutMs?: number }) {
  const local = () => ({ port: 0, host: '127.0.0.1' });
  return {
    external: local(),
    internal: local(),
    admin: local(),
    drainDelayMs: opts.drainDelayMs ?? 0,
    drainTimeoutMs: opts.drainTimeoutMs ?? 2000,
  };
}

async function started(runtime: Runtime): Promise<TestWharf> {
  await runtime.start();
  const a = runtime.addresses();
  return {
    runtime,
    external: a.external!.port,
    internal: a.internal!.port,
    admin: a.admin!.port,
    stop: () => runtime.stop(),
  };
}

/**
 * Wharf serving hand-built snapshots. `next()` decides what each compile returns (default: the given snapshot, with
 * a fresh version per call), so a test can swap tables by pushing through `source`.
 */
export async function startWharfWith<B extends Backends = FakeBackends>(
  snapshot: Snapshot | (() => Snapshot),
  opts: { backends?: B; drainDelayMs?: number; drainTimeoutMs?: number } = {},
): Promise<TestWharf & { source: PushSource; backends: B }> {
  const source = new PushSource();
  const backends = opts.backends ?? (new FakeBackends() as unknown as B);
  const compile: CompileFn = (_d, { version }) => {
    const s = typeof snapshot === 'function' ? snapshot() : snapshot;
    return { snapshot: { ...s, version }, problems: [...s.problems] };
  };
  const runtime = new Runtime({
    source,
    backends,
    compile,
    ...listeners(opts),
  });
  return { ...(await started(runtime)), source, backends };
}

/**
 * The real thing in-process: a manifest folder through ManifestSource, the compiler and the backends layer. Writes
 * to `dir` are picked up by the watcher (debounce shortened for tests).
 */
export async function startWharfFolder(
  dir: string,
  opts: { dataDir?: string; drainDelayMs?: number; drainTimeoutMs?: number } = {},
): Promise<TestWharf & { source: ManifestSource }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'wharf-data-'));
  let runtime: Runtime | null = null;
  const source = new ManifestSource({ dir, dataDir, debounceMs: 50, onError: (p) => runtime?.rejected(p) });
  runtime = new Runtime({
    source,
    backends: createBackends({ dataDir, drainTimeoutMs: 2000 }),
    compile,
    ...listeners(opts),
  });
  return { ...(await started(runtime)), source };
}

/** Write a file under dir (creating folders), e.g. writeManifest(dir, 'services/hello.yaml', yaml). */
export function writeManifest(dir: string, file: string, text: string): void {
  const path = join(dir, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export function tempDir(prefix = 'wharf-conf-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A config-domain for example.com plus optional extra ConfigMap data, as YAML. */
export function configMaps(extra: Record<string, Record<string, string>> = {}): string {
  const maps: Record<string, Record<string, string>> = { 'config-domain': { 'example.com': '' }, ...extra };
  return Object.entries(maps)
    .map(
      ([name, data]) =>
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: knative-serving\ndata:\n` +
        Object.entries(data)
          .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
          .join('\n') +
        '\n',
    )
    .join('---\n');
}
