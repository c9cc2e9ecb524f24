// Per-subscriber cursors of one stream, persisted as a small JSON file (atomically, src/atomic-file.ts, so a crash
// leaves either the old or the new map, and segments compacted after a flush are past a durable cursor). A cursor is the first offset NOT yet finished (delivered, filtered
// out, or dead-lettered), so after a crash delivery resumes there: at least once, duplicates allowed.
import fs from 'node:fs';
import path from 'node:path';
import { child } from '../observability/logger.js';
import { writeFileAtomic, writeFileAtomicSync } from '../atomic-file.js';

const log = child('eventing-cursors');

export class CursorStore {
  private readonly file: string;
  private values = new Map<string, number>();
  private dirty = false;
  private writing: Promise<void> | null = null;

  constructor(dir: string) {
    this.file = path.join(dir, 'cursors.json');
  }

  /** Read the persisted cursors. `intact` is false when the file was missing or unreadable. */
  load(): { cursors: Map<string, number>; intact: boolean } {
    let intact = true;
    try {
      const obj = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, unknown>;
      for (const [k, v] of Object.entries(obj)) if (typeof v === 'number' && Number.isInteger(v) && v >= 0) this.values.set(k, v);
    } catch (e) {
      intact = false;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: e, file: this.file }, 'cursor file unreadable; readers restart from the log start');
    }
    return { cursors: new Map(this.values), intact };
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  set(name: string, offset: number): void {
    if (this.values.get(name) === offset) return;
    this.values.set(name, offset);
    this.dirty = true;
  }

  delete(name: string): void {
    if (this.values.delete(name)) this.dirty = true;
  }

  /** Persist if anything changed (asynchronous; one write at a time). */
  flush(): Promise<void> {
    if (!this.dirty || this.writing) return this.writing ?? Promise.resolve();
    this.dirty = false;
    this.writing = writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.values)))
      .catch((e) => {
        this.dirty = true;
        log.error({ err: e, file: this.file }, 'could not persist cursors');
      })
      .finally(() => {
        this.writing = null;
      });
    return this.writing;
  }

  /** Wait for an in-flight asynchronous write (so a final flushSync is not overtaken by an older one). */
  settle(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  /** Synchronous persist, for shutdown. */
  flushSync(): void {
    try {
      writeFileAtomicSync(this.file, JSON.stringify(Object.fromEntries(this.values)));
      this.dirty = false;
    } catch (e) {
      log.error({ err: e, file: this.file }, 'could not persist cursors');
    }
  }
}
