import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../src/atomic-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('atomic file writes', () => {
  it('replace an existing file with the given mode and leave no temp file (async)', async () => {
    const f = join(dir, 'a.json');
    writeFileSync(f, 'old');
    await writeFileAtomic(f, 'new', { mode: 0o600 });
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['a.json']);
    await writeFileAtomic(join(dir, 'b.key'), 'k', { mode: 0o600 });
    expect(statSync(join(dir, 'b.key')).mode & 0o777).toBe(0o600);
  });

  it('replace an existing file and leave no temp file (sync)', () => {
    const f = join(dir, 'a.json');
    writeFileSync(f, 'old');
    writeFileAtomicSync(f, 'new');
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('fail with the I/O error and leave the old file and no temp file when the rename cannot happen', async () => {
    const target = join(dir, 'occupied');
    // A non-empty directory in the way: the temp file is written, the rename fails.
    writeFileSync(join(dir, 'keep'), 'x');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'y');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(() => writeFileAtomicSync(target, 'data')).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['keep', 'occupied']);
    expect(readdirSync(target)).toEqual(['inside']);
  });
});
