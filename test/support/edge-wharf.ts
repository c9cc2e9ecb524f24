// wharf in-process with every edge listener: a manifest folder through the real source, compiler and backends,
// the plain planes, and the TLS planes backed by a TlsRuntime (SNI store, ACME manager, HTTP-01 responder).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../../src/runtime.js';
import { ManifestSource } from '../../src/sources/manifests/index.js';
import { compile } from '../../src/model/compile.js';
import { createBackends } from '../../src/backends/index.js';
import { TlsRuntime, type TlsRuntimeOptions } from '../../src/tls/tls-runtime.js';

export interface EdgeWharf {
  runtime: Runtime;
  tls: TlsRuntime;
  external: number;
  internal: number;
  /** 0 when the TLS listeners are not open (no certificate source yet). */
  https: number;
  internalHttps: number;
  admin: number;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startEdgeWharf(
  dir: string,
  opts: { dataDir?: string; manager?: TlsRuntimeOptions['manager']; ports?: { external?: number; https?: number } } = {},
): Promise<EdgeWharf> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'wharf-data-'));
  let runtime: Runtime | null = null;
  const source = new ManifestSource({ dir, dataDir, debounceMs: 50, onError: (p) => runtime?.rejected(p) });
  const tls = new TlsRuntime({ dataDir, ...(opts.manager ? { manager: opts.manager } : {}) });
  const local = { port: 0, host: '127.0.0.1' };
  runtime = new Runtime({
    source,
    backends: createBackends({ dataDir, drainTimeoutMs: 2000 }),
    compile,
    external: { ...local, port: opts.ports?.external ?? 0 },
    internal: local,
    https: { ...local, port: opts.ports?.https ?? 0 },
    internalHttps: local,
    admin: local,
    tls,
    drainDelayMs: 0,
    drainTimeoutMs: 2000,
  });
  await runtime.start();
  const a = runtime.addresses();
  const rt = runtime;
  return {
    runtime,
    tls,
    external: a.external!.port,
    internal: a.internal!.port,
    https: a.https?.port ?? 0,
    internalHttps: a.internalHttps?.port ?? 0,
    admin: a.admin!.port,
    dataDir,
    stop: () => rt.stop(),
  };
}

// Moved to manifests.ts with the other manifest builders; still exported here for existing importers.
export { tlsSecret } from './manifests.js';
