// In a cluster, one bad object must not freeze everyone else's config. The compiler reports an invalid KIngress or an
// unresolvable Trigger as an error (a manifest folder refuses the whole reload then, which is right for a file a
// person is editing); the cluster source wraps the compile so such per-object errors become warnings: the object is
// already left out (or marked not ready) by the compiler, its status says why, and every other change goes live.
// Cluster-wide inputs (Knative's ConfigMaps, built-in hosts) still reject the reload, as Knative keeps its last config.
import type { Desired } from '../../model/desired.js';
import type { Problem } from '../../model/objects.js';
import type { Snapshot } from '../../model/snapshot.js';

/** Reason set on a per-object error that was downgraded (unless the compiler gave one). */
export const NOT_SERVED = 'Invalid';

const clusterWide = (p: Problem): boolean => !p.object || p.object.startsWith('ConfigMap ') || p.object.startsWith('builtin ');

export function downgradeObjectErrors(problems: readonly Problem[]): Problem[] {
  return problems.map((p) => (p.severity === 'error' && !clusterWide(p) ? { ...p, severity: 'warning', reason: p.reason ?? NOT_SERVED, message: `${p.message} (not served)` } : p));
}

export function clusterCompile<O>(base: (d: Desired, o: O) => { snapshot: Snapshot; problems: Problem[] }): (d: Desired, o: O) => { snapshot: Snapshot; problems: Problem[] } {
  return (d, o) => {
    const r = base(d, o);
    const problems = downgradeObjectErrors(r.problems);
    return { snapshot: { ...r.snapshot, problems }, problems };
  };
}
