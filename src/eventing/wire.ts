// How eventing plugs into the runtime, in two small pieces so the lead's wiring is a few lines:
//   const eventing = new Eventing({ dataDir });
//   const runtime = new Runtime({ ..., compile: withEventing(compile) });
//   attachEventing(runtime, eventing);            // handlers, /debug/eventing, apply on every swap
//   await runtime.start(); eventing.setInternalOrigin(`http://127.0.0.1:${runtime.addresses().internal!.port}`);
//   await eventing.start();  ...  await eventing.stop() after the listeners drained.
import type { Desired } from '../model/desired.js';
import type { Problem } from '../model/objects.js';
import type { Snapshot } from '../model/snapshot.js';
import { parseConfig } from '../model/config.js';
import type { BuiltinHost } from '../model/compile.js';
import { BROKER_HANDLER, CHANNEL_HANDLER, compileEventing, eventingStatuses, type EventingModel } from '../model/eventing.js';
import type { LocalHandler } from '../proxy/handler.js';
import type { Eventing } from './runtime.js';

type BaseCompile<O> = (desired: Desired, opts: O & { builtins?: Iterable<BuiltinHost | string> }) => { snapshot: Snapshot; problems: Problem[] };

/**
 * Wrap the pure serving compile: compile the eventing objects first (pure), pass their hosts in as built-ins, and
 * put the EventingModel into `snapshot.eventing` and the eventing objects' statuses (address, readiness) into
 * `snapshot.statuses` for `wharf routes`. Eventing problems are reported with the rest.
 */
export function withEventing<O extends object>(base: BaseCompile<O>): (desired: Desired, opts: O & { builtins?: Iterable<BuiltinHost | string> }) => { snapshot: Snapshot; problems: Problem[] } {
  return (desired, opts) => {
    const { config } = parseConfig(desired.configMaps);
    const ev = compileEventing(desired.eventing, config);
    const builtins: (BuiltinHost | string)[] = [...(opts.builtins ?? []), ...ev.builtins];
    const r = base(desired, { ...opts, builtins });
    const statuses = [...r.snapshot.statuses, ...eventingStatuses(ev.model)];
    return { snapshot: { ...r.snapshot, eventing: ev.model, statuses }, problems: [...r.problems, ...ev.problems] };
  };
}

/** The runtime surface attachEventing needs (src/runtime.ts's Runtime has it). */
export interface EventingHost {
  registerHandler(name: string, handler: LocalHandler): void;
  registerDebug(path: string, provider: () => unknown): void;
  onSwap(listener: (next: Snapshot, previous: Snapshot | null) => void): void;
}

/** Register the broker/channel handlers and /debug/eventing, and follow every snapshot swap. */
export function attachEventing(runtime: EventingHost, eventing: Eventing): void {
  runtime.registerHandler(BROKER_HANDLER, eventing.handlerFor(BROKER_HANDLER)!);
  runtime.registerHandler(CHANNEL_HANDLER, eventing.handlerFor(CHANNEL_HANDLER)!);
  runtime.registerDebug('/debug/eventing', () => eventing.debug());
  runtime.onSwap((next) => {
    if (next.eventing) eventing.apply(next.eventing as EventingModel);
  });
}
