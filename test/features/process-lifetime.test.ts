// Revision processes must not outlive wharf: a SIGKILLed gateway leaves no app processes holding ports behind
// (the kernel's parent-death signal, set through util-linux setpriv).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeAgent, deadPort, get } from '../support/http.js';

const ROOT = resolve(import.meta.dirname, '../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function getText(port: number, host: string): Promise<string | null> {
  try {
    const r = await get(port, host);
    return r.status === 200 ? r.body : null;
  } catch {
    return null;
  }
}

const pids: number[] = [];
afterAll(async () => {
  await closeAgent();
  for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
});

describe('revision process lifetime', () => {
  it('a SIGKILLed wharf takes its revision processes with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-life-'));
    writeFileSync(join(dir, 'app.js'), "require('http').createServer((q, s) => s.end(String(process.pid))).listen(process.env.PORT);\n");
    writeFileSync(
      join(dir, 'svc.yaml'),
      `apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: life, namespace: default }
spec:
  template:
    spec:
      containers:
        - command: ["node", "app.js"]
`,
    );
    const [http, internal, admin] = [await deadPort(), await deadPort(), await deadPort()];
    const wharf = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(ROOT, 'src/cli.ts'), 'serve', '--config', dir, '--data-dir', join(dir, 'data'), '--http-port', String(http), '--internal-http-port', String(internal), '--admin-port', String(admin)],
      { cwd: ROOT, stdio: 'ignore' },
    );
    pids.push(wharf.pid!);
    let body: string | null = null;
    for (let i = 0; i < 200 && body === null; i++) {
      // No config-domain in the folder: Knative's default domain is svc.<cluster-domain>, served on the internal plane.
      body = await getText(internal, 'life.default.svc.cluster.local');
      if (body === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(body, 'the revision answered through wharf').toMatch(/^\d+$/);
    const appPid = Number(body);
    pids.push(appPid);
    expect(alive(appPid)).toBe(true);

    wharf.kill('SIGKILL');
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = !alive(appPid);
    }
    expect(gone, `revision process ${appPid} outlived the SIGKILLed gateway`).toBe(true);
  });
});
