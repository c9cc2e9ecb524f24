// One pino logger for the process. The access log is a child with its own switch; writes are asynchronous so the
// hot path never blocks on stdout.
import pino, { type Logger } from 'pino';

let root: Logger = pino({ level: process.env.WHARF_LOG_LEVEL ?? 'info', base: { name: 'wharf' } });

/** Component loggers of the current root; cleared when the root is replaced. */
const components = new Map<string, Logger>();

/**
 * ISO timestamps cost a Date and a toISOString per line; at proxy rates many lines share a millisecond, so the
 * rendered fragment is reused within one.
 */
let lastMs = 0;
let lastFragment = '';
function cachedIsoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastFragment = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastFragment;
}

let flushTimer: NodeJS.Timeout | null = null;

export function configureLogger(opts: { level?: string; destination?: pino.DestinationStream }): Logger {
  // A larger buffer (below sonic-boom's 16 KiB maxWrite) means fewer write(2) calls; the timer bounds how long a line waits.
  const dest = opts.destination ?? pino.destination({ fd: 1, sync: false, minLength: 8 * 1024 });
  root = pino({ level: opts.level ?? 'info', base: { name: 'wharf' }, timestamp: cachedIsoTime }, dest);
  components.clear();
  // sonic-boom only writes once minLength is buffered: flush on a timer so quiet periods still show their lines.
  if (flushTimer === null) {
    flushTimer = setInterval(flushLogs, 500);
    flushTimer.unref();
  }
  return root;
}

export function logger(): Logger {
  return root;
}

/** A component's pino child of the current root (cached until the root is replaced); for hot paths. */
export function componentLogger(component: string): Logger {
  let l = components.get(component);
  if (l === undefined) {
    l = root.child({ component });
    components.set(component, l);
  }
  return l;
}

/**
 * A component's logger. Modules take theirs at import time, before the CLI has configured the destination and
 * level, so this returns a stand-in that always writes through the *current* root.
 */
export function child(component: string): Logger {
  return new Proxy({} as Logger, {
    get(_t, prop) {
      const l = componentLogger(component);
      const v = (l as unknown as Record<string | symbol, unknown>)[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(l) : v;
    },
  });
}

/** Flush buffered log lines (before exit). */
export function flushLogs(): void {
  try {
    root.flush();
  } catch {
    /* destination may be closed */
  }
}
