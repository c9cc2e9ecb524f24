// Start wharf in-process on port 0: from a hand-built snapshot (data-plane tests) or, via `startWharfFolder`, from a
// manifest folder with the real source, compiler and backends (feature tests).
import type { Desired } from '../../src/model/desired.js';
import { emptyDesired } from '../../src/model/desired.js';
import type { Snapshot } from '../../src/model/snapshot.js';
import type { Backends } from '../../src/backends/types.js';
import type { Source } from '../../src/sources/source.js';
import { Runtime, type CompileFn } from '../../src/runtime.js';
import { FakeBackends } from './backends.js';

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
    external: { port: 0, host: '127.0.0.1' },
    internal: { port: 0, host: '127.0.0.1' },
    admin: { port: 0, host: '127.0.0.1' },
    drainDelayMs: opts.drainDelayMs ?? 0,
    drainTimeoutMs: opts.drainTimeoutMs ?? 2000,
  });
  return { ...(await started(runtime)), source, backends };
}
