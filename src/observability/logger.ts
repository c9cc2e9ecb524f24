// One pino logger for the process. The access log is a child with its own switch; writes are asynchronous so the
// hot path never blocks on stdout.
import pino, { type Logger } from 'pino';

let root: Logger = pino({ level: process.env.WHARF_LOG_LEVEL ?? 'info', base: { name: 'wharf' } });

export function configureLogger(opts: { level?: string; destination?: pino.DestinationStream }): Logger {
  const dest = opts.destination ?? pino.destination({ fd: 1, sync: false, minLength: 4096 });
  root = pino({ level: opts.level ?? 'info', base: { name: 'wharf' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
  return root;
}

export function logger(): Logger {
  return root;
}

export function child(component: string): Logger {
  return root.child({ component });
}

/** Flush buffered log lines (before exit). */
export function flushLogs(): void {
  try {
    root.flush();
  } catch {
    /* destination may be closed */
  }
}
