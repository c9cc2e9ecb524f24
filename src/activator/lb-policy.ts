// Knative's activator load-balancing policies (serving pkg/activator/net/lb_policy.go), chosen by
// containerConcurrency: power-of-two-choices on in-flight for cc = 0, first-available for cc ≤ 3, round-robin
// for cc > 3. `ready` is sorted by origin so first-available is stable.
import type { BackendEndpoint } from '../backends/endpoint.js';

export const enum Policy {
  PowerOfTwo = 0,
  FirstAvailable = 1,
  RoundRobin = 2,
}

export function policyFor(cc: number): Policy {
  return cc <= 0 ? Policy.PowerOfTwo : cc <= 3 ? Policy.FirstAvailable : Policy.RoundRobin;
}

export function powerOfTwo(ready: readonly BackendEndpoint[]): BackendEndpoint | null {
  const n = ready.length;
  if (n === 0) return null;
  if (n === 1) return ready[0]!;
  const i = (Math.random() * n) | 0;
  let j = (Math.random() * (n - 1)) | 0;
  if (j >= i) j++;
  const a = ready[i]!;
  const b = ready[j]!;
  if (a.inFlight < b.inFlight) return a;
  if (b.inFlight < a.inFlight) return b;
  return Math.random() < 0.5 ? a : b;
}

export function firstAvailable(ready: readonly BackendEndpoint[], cc: number): BackendEndpoint | null {
  for (let i = 0; i < ready.length; i++) {
    const e = ready[i]!;
    if (e.inFlight < cc) return e;
  }
  return null;
}

/** Round robin resuming after the last pick; returns the index picked (or -1) so the caller keeps the cursor. */
export function roundRobin(ready: readonly BackendEndpoint[], cc: number, cursor: number): number {
  const n = ready.length;
  for (let k = 0; k < n; k++) {
    const idx = (cursor + k) % n;
    if (ready[idx]!.inFlight < cc) return idx;
  }
  return -1;
}
