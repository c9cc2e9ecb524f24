// The README's configuration table is the user's reference: every key wharf knows must be listed there, so a
// capability that adds a key cannot forget to document it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../../src/model/config.js';
// Importing these registers their keys, exactly as `wharf serve` does.
import '../../src/model/eventing.js';
import '../../src/tls/config.js';
import '../../src/backends/index.js';
import '../../src/proxy/dataplane.js';
import '../../src/proxy/websocket.js';
import '../../src/tls/tls-runtime.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function table(): string {
  const start = readme.indexOf('<!-- config-keys:start');
  const end = readme.indexOf('<!-- config-keys:end');
  expect(start, 'config-keys markers in README.md').toBeGreaterThan(0);
  return readme.slice(start, end);
}

describe('README configuration table', () => {
  it('lists every registered key with its ConfigMap', () => {
    const t = table();
    const missing = CONFIG_KEYS.filter((k) => !t.includes(`| ${k.configMap} | \`${k.key}\` |`)).map((k) => `${k.configMap}/${k.key}`);
    expect(missing).toEqual([]);
    expect(CONFIG_KEYS.length).toBeGreaterThan(20);
  });

  it('opens with the two commands and the first curl', () => {
    const head = readme.slice(0, 2500);
    expect(head).toContain('npm install');
    expect(head).toContain('npm start');
    expect(head).toContain("curl -H 'Host: hello.default.example.com' localhost:8080");
  });
});
