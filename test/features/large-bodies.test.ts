// Bodies stream with backpressure: a 100 MB upload and a 100 MB download pass through `wharf serve` (a child
// process, so its RSS is its own), and the proxy's resident memory grows by less than 64 MB while they do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { deadPort } from '../support/http.js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService } from '../support/manifests.js';
import { spawnCli, waitReady, killCli, type CliProcess } from '../support/cli.js';

const MB = 1024 * 1024;
const SIZE = 100 * MB;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const HOST = 'big.default.example.com';

let backend: http.Server;
let wharf: CliProcess | null = null;
let port = 0;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Sample the child's RSS every 50 ms while `work` runs; returns the peak. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ peak: number; result: T }> {
  let peak = rssBytes(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
  try {
    const result = await work();
    peak = Math.max(peak, rssBytes(pid));
    return { peak, result };
  } finally {
    clearInterval(timer);
  }
}

/** Write `size` bytes with backpressure (wait for 'drain' whenever write() says so). */
async function pump(out: NodeJS.WritableStream, size: number): Promise<void> {
  let sent = 0;
  while (sent < size) {
    const n = Math.min(CHUNK.length, size - sent);
    sent += n;
    if (!out.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) await new Promise((r) => out.once('drain', r));
  }
}

beforeAll(async () => {
  backend = http.createServer((req, res) => {
    if (req.method === 'POST') {
      // A slow-ish consumer (a short pause every 4 MB): backpressure has to reach the uploading client.
      let n = 0;
      let mark = 4 * MB;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n >= mark) {
          mark += 4 * MB;
          req.pause();
          setTimeout(() => req.resume(), 30);
        }
      });
      req.on('end', () => res.end(String(n)));
      return;
    }
    const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes') ?? '0');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    pump(res, size).then(() => res.end());
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const dir = tempDir();
  writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false' } }));
  writeManifest(dir, 'big.yaml', upstreamService({ name: 'big', upstream: origin, image: 'test/big' }));
  const [http1, internal, admin] = [await deadPort(), await deadPort(), await deadPort()];
  port = http1;
  wharf = spawnCli(
    ['serve', '--config', dir, '--data-dir', tempDir('wharf-data-'), '--http-port', String(http1), '--internal-http-port', String(internal), '--admin-port', String(admin), '--log-level', 'warn'],
    // Body chunks of 64 KB are malloc'ed; with glibc's default threshold freed ones stay in its free lists and
    // count as RSS long after the proxy dropped them. mmap'ed chunks go back to the OS when freed, so RSS tracks
    // what the proxy holds (plus garbage V8 has not collected yet), which is what this test is about.
    { env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '32768' } },
  );
  await waitReady(wharf, admin, 30_000);
}, 40_000);

afterAll(async () => {
  killCli(wharf);
  await new Promise<void>((r) => backend?.close(() => r()));
});

function upload(size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', headers: { host: HOST, 'content-type': 'application/octet-stream' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    pump(req, size).then(() => req.end(), reject);
  });
}

/** Download with a slow-ish consumer: a short pause every 8 MB, so backpressure has to reach the backend. */
function download(size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/down?bytes=${size}`, headers: { host: HOST }, agent: false }, (res) => {
        let n = 0;
        let mark = 8 * MB;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n >= mark) {
            mark += 8 * MB;
            res.pause();
            setTimeout(() => res.resume(), 20);
          }
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('large bodies through wharf serve', () => {
  it('100 MB up and 100 MB down with less than 64 MB of RSS growth', async () => {
    const pid = wharf!.child.pid!;
    // Warm up both paths (16 MB each) so JIT-compiled code, pools and V8 heap sizing are in the baseline; a proxy
    // that buffered bodies would still grow by ~100 MB below.
    expect(await upload(16 * MB)).toBe(String(16 * MB));
    expect(await download(16 * MB)).toBe(16 * MB);
    const baseline = rssBytes(pid);
    const up = await peakRss(pid, () => upload(SIZE));
    expect(up.result).toBe(String(SIZE));
    const down = await peakRss(pid, () => download(SIZE));
    expect(down.result).toBe(SIZE);
    const growth = Math.max(up.peak, down.peak) - baseline;
    expect(growth, `RSS grew by ${(growth / MB).toFixed(1)} MB (baseline ${(baseline / MB).toFixed(1)} MB)`).toBeLessThan(64 * MB);
  }, 60_000);

  it('the same over h2c prior knowledge (HTTP/2 flow control as backpressure)', async () => {
    const pid = wharf!.child.pid!;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const h2up = (size: number) =>
        new Promise<string>((resolve, reject) => {
          const st = session.request({ ':method': 'POST', ':path': '/up', ':authority': HOST });
          let body = '';
          st.on('data', (c) => (body += c));
          st.on('end', () => resolve(body));
          st.on('error', reject);
          pump(st, size).then(() => st.end(), reject);
        });
      const h2down = (size: number) =>
        new Promise<number>((resolve, reject) => {
          const st = session.request({ ':path': `/down?bytes=${size}`, ':authority': HOST });
          let n = 0;
          let mark = 8 * MB;
          st.on('data', (c: Buffer) => {
            n += c.length;
            if (n >= mark) {
              mark += 8 * MB;
              st.pause();
              setTimeout(() => st.resume(), 20);
            }
          });
          st.on('end', () => resolve(n));
          st.on('error', reject);
          st.end();
        });
      expect(await h2up(16 * MB)).toBe(String(16 * MB));
      expect(await h2down(16 * MB)).toBe(16 * MB);
      const baseline = rssBytes(pid);
      const up = await peakRss(pid, () => h2up(SIZE));
      expect(up.result).toBe(String(SIZE));
      const down = await peakRss(pid, () => h2down(SIZE));
      expect(down.result).toBe(SIZE);
      const growth = Math.max(up.peak, down.peak) - baseline;
      expect(growth, `RSS grew by ${(growth / MB).toFixed(1)} MB (baseline ${(baseline / MB).toFixed(1)} MB)`).toBeLessThan(64 * MB);
    } finally {
      session.close();
    }
  }, 60_000);
});
