// Persists the reconciler's revision history (generations and revision names per Configuration) in the data dir,
// so names are stable across restarts and a pinned old revision survives a template change. Writes are atomic
// (src/atomic-file.ts): a crash leaves either the old file or the new one, never half.
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../atomic-file.js';
import { child } from '../../observability/logger.js';

export const HISTORY_FILE = 'revisions.json';

const log = child('manifests');

export class HistoryStore {
  readonly file: string;
  /** The JSON text last read or written, to skip writes that change nothing. */
  private lastText: string | undefined;

  constructor(readonly dataDir: string) {
    this.file = join(dataDir, HISTORY_FILE);
  }

  /**
   * The stored history, or undefined when there is none. A file that does not parse is moved aside
   * (`revisions.json.corrupt-<time>`) and logged, and wharf starts fresh rather than refusing to start.
   */
  load(): unknown {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      log.error({ err: e, file: this.file }, 'cannot read revision history; starting fresh');
      return undefined;
    }
    try {
      const value = JSON.parse(text) as unknown;
      this.lastText = JSON.stringify(value);
      return value;
    } catch (e) {
      const aside = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      try {
        renameSync(this.file, aside);
      } catch {
        /* keep going: the next save overwrites it */
      }
      log.error({ err: e, file: this.file, movedTo: aside }, 'revision history is corrupt; moved aside, starting fresh');
      return undefined;
    }
  }

  /** The stored history without side effects (for `wharf validate`): undefined when missing or unreadable. */
  peek(): unknown {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  /** Writes `history` if it differs from what is on disk. Returns true when it wrote. Throws on I/O errors. */
  save(history: unknown): boolean {
    const text = JSON.stringify(history ?? null);
    if (text === this.lastText) return false;
    mkdirSync(this.dataDir, { recursive: true });
    writeFileAtomicSync(this.file, JSON.stringify(history ?? null, null, 2) + '\n');
    this.lastText = text;
    return true;
  }
}
