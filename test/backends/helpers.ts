import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { BackendSpec } from '../../src/model/snapshot.js';
import type { Endpoint, Waiter } from '../../src/backends/types.js';

export const APP = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url));

export function processSpec(key: string, env: Record<string, string> = {}, over: Partial<BackendSpec> = {}): BackendSpec {
  return {
    key,
    namespace: 'default',
    service: 'svc',
    revision: key.split('/').pop()!,
    protocol: 'http1',
    source: { kind: 'process', process: { command: [process.execPath], args: [APP], env, cwd: path.dirname(APP) } },
    activator: true,
    containerConcurrency: 0,
    timeoutMs: 10_000,
    readiness: { kind: 'http', path: '/healthz' },
    revisionInfo: {
      namespace: 'default',
      name: key.split('/').pop()!,
      service: 'svc',
      configuration: 'svc',
      containerConcurrency: 0,
      timeoutSeconds: 10,
      annotations: {},
      protocol: 'http1',
      readiness: { kind: 'http', path: '/healthz' },
    },
    ...over,
  };
}

export function staticSpec(key: string, urls: string[], over: Partial<BackendSpec> = {}): BackendSpec {
  return {
    key,
    namespace: 'default',
    service: 'svc',
    revision: 'r1',
    protocol: 'http1',
    source: { kind: 'static', urls },
    activator: true,
    containerConcurrency: 0,
    timeoutMs: 0,
    readiness: { kind: 'tcp' },
    ...over,
  };
}

/** A waiter that records what the target did with it. */
export class TestWaiter implements Waiter {
  granted: Endpoint | null = null;
  rejected: { status: number; reason: string; retryAfter?: number } | null = null;
  grantedAt = 0;
  grantedWall = 0;
  queueSlot?: unknown;
  private resolve!: () => void;
  readonly settled: Promise<void>;
  constructor(readonly queuedBytes = 0) {
    this.settled = new Promise((r) => (this.resolve = r));
  }
  onGranted(e: Endpoint): void {
    if (this.granted || this.rejected) throw new Error('waiter called twice');
    this.granted = e;
    this.grantedAt = performance.now();
    this.grantedWall = Date.now();
    this.resolve();
  }
  onRejected(status: number, reason: string, retryAfter?: number): void {
    if (this.granted || this.rejected) throw new Error('waiter called twice');
    this.rejected = { status, reason, retryAfter };
    this.resolve();
  }
}

export async function until(fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error('condition not met in time');
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
