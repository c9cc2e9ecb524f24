// A source turns one kind of input (a manifest folder, the Kubernetes API) into `Desired` values.
import type { Desired } from '../model/desired.js';

export interface Source {
  /** Start producing; `onDesired` is called with every complete new input (after debouncing). */
  start(onDesired: (d: Desired) => void): Promise<void>;
  stop(): Promise<void>;
}
