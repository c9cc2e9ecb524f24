// 202 means on disk: run the broker in a child process, load it with events while a slow subscriber builds a
// backlog, kill -9 it mid-load, restart it on the same data dir, and check that every acknowledged event reaches
// the sink at least once.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { sleep, startSink, tmpDir, type Sink } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.join(here, 'support', 'broker-process.ts');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function startChild(dataDir: string, sinkUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, DATA_DIR: dataDir, SINK_URL: sinkUrl, WHARF_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('broker child did not start')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"port"'));
      if (line) {
        clearTimeout(t);
        resolve({ child, port: JSON.parse(line).port });
      }
    });
    child.on('exit', (code) => reject(new Error(`broker child exited early (${code})`)));
  });
}

describe('crash safety', () => {
  it('kill -9 during a load of acked events: after restart every acked event is delivered at least once', async () => {
    const dataDir = tmpDir('wharf-crash-');
    let slow = true;
    const sink: Sink = await startSink((_r, _n, res) => {
      if (slow) setTimeout(() => res.writeHead(200).end(), 20);
      else res.writeHead(200).end();
    });
    const { child, port } = await startChild(dataDir, sink.url);
    const agent = new Agent({ connections: 20 });
    const acked = new Set<string>();
    let stop = false;
    let seq = 0;
    const producer = async (): Promise<void> => {
      while (!stop) {
        const id = `ev-${seq++}`;
        try {
          const r = await request(`http://127.0.0.1:${port}/default/default`, {
            method: 'POST',
            dispatcher: agent,
            headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/crash', 'ce-type': 'crash.test', 'content-type': 'text/plain' },
            body: 'x'.repeat(512),
          });
          await r.body.dump();
          if (r.statusCode === 202) acked.add(id);
        } catch {
          return; // the broker died under us: this request was never acknowledged
        }
      }
    };
    const producers = Array.from({ length: 20 }, producer);
    // Load until a backlog exists (acked well ahead of delivered), then kill -9 mid-stream.
    const deadline = Date.now() + 10_000;
    while ((acked.size < 800 || acked.size - sink.received.length < 200) && Date.now() < deadline) await sleep(20);
    child.kill('SIGKILL');
    stop = true;
    await Promise.all(producers);
    // killed by a signal: exitCode stays null and signalCode is set (the exit event may already have fired)
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    const deliveredBeforeCrash = new Set(sink.ids());
    const backlog = [...acked].filter((id) => !deliveredBeforeCrash.has(id));
    expect(acked.size).toBeGreaterThan(300);
    expect(backlog.length).toBeGreaterThan(50); // the crash really left acked events undelivered

    slow = false;
    const restarted = await startChild(dataDir, sink.url);
    const until = Date.now() + 30_000;
    let missing = backlog;
    while (Date.now() < until) {
      const got = new Set(sink.ids());
      missing = [...acked].filter((id) => !got.has(id));
      if (missing.length === 0) break;
      await sleep(100);
    }
    expect(missing.slice(0, 10)).toEqual([]);
    restarted.child.kill('SIGKILL');
    await agent.close();
    await sink.close();
  }, 60_000);
});
