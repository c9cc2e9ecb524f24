// Point the process logger (and the access log, a child of it) at an in-memory sink, so a test can assert on the
// JSON lines wharf writes.
import { Writable } from 'node:stream';
import { configureLogger } from '../../src/observability/logger.js';

/** Start capturing at `info`; returns the array the parsed lines are appended to, in order. */
export function captureLogs(): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  configureLogger({ level: 'info', destination: sink });
  return lines;
}

/** Back to a silent logger (test teardown). */
export function stopCapturingLogs(): void {
  configureLogger({ level: 'silent' });
}
