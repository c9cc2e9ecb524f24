import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryStore } from '../../../src/sources/manifests/history-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-hist-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('HistoryStore', () => {
  it('starts empty, writes atomically into a created data dir, and skips unchanged writes', () => {
    const data = join(dir, 'nested', 'data');
    const s = new HistoryStore(data);
    expect(s.load()).toBeUndefined();
    const h = { 'default/hello': { generation: 2, revisions: { 'hello-00001': 'abc', 'hello-00002': 'def' } } };
    expect(s.save(h)).toBe(true);
    expect(JSON.parse(readFileSync(join(data, 'revisions.json'), 'utf8'))).toEqual(h);
    expect(readdirSync(data)).toEqual(['revisions.json']); // no temp file left behind
    expect(s.save(JSON.parse(JSON.stringify(h)))).toBe(false);
    expect(s.save({ ...h, x: 1 })).toBe(true);

    const again = new HistoryStore(data);
    expect(again.load()).toEqual({ ...h, x: 1 });
    expect(again.save({ ...h, x: 1 })).toBe(false);
  });

  it('moves a corrupt file aside and starts fresh', () => {
    writeFileSync(join(dir, 'revisions.json'), '{"default/hello": {"gen');
    const s = new HistoryStore(dir);
    expect(s.peek()).toBeUndefined();
    expect(existsSync(join(dir, 'revisions.json'))).toBe(true); // peek has no side effects
    expect(s.load()).toBeUndefined();
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^revisions\.json\.corrupt-/);
    expect(readFileSync(join(dir, files[0]!), 'utf8')).toBe('{"default/hello": {"gen');
    expect(s.save({ a: 1 })).toBe(true);
    expect(new HistoryStore(dir).load()).toEqual({ a: 1 });
  });

  it('throws when the data dir cannot be written', () => {
    writeFileSync(join(dir, 'file'), 'x');
    const s = new HistoryStore(join(dir, 'file')); // a file where a folder should be
    expect(() => s.save({ a: 1 })).toThrow();
  });
});
