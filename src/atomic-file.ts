// Replace a small file so that a crash (or power loss) leaves either the old content or the new, never half:
// write a temp file next to it, fsync it, rename it over, fsync the folder so the rename itself is durable.
// Used by the manifests' revision history, the eventing cursors and the ACME certificate store.
import fs from 'node:fs';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** Mode of a newly created file (default 0o644). */
  mode?: number;
}

// A temp name per write, so a synchronous write at shutdown never shares a temp file with an async one in flight.
let seq = 0;
const tempName = (file: string): string => `${file}.${process.pid}.${++seq}.tmp`;

/** fsync a folder (after creating or renaming an entry in it). Some filesystems refuse that; it is then skipped. */
export function fsyncDirSync(dir: string): void {
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    /* the entry's own fsync still holds and the rename is still atomic */
  }
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const h = await fs.promises.open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    /* as in fsyncDirSync */
  }
}

/** Synchronous atomic replace of `file` with `data`. Throws on I/O errors (the temp file is removed). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = tempName(file);
  try {
    const fd = fs.openSync(tmp, 'w', opts.mode ?? 0o644);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDirSync(path.dirname(file));
}

/** Asynchronous atomic replace of `file` with `data`. Rejects on I/O errors (the temp file is removed). */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempName(file);
  try {
    const h = await fs.promises.open(tmp, 'w', opts.mode ?? 0o644);
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(file));
}
