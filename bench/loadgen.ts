// Open-loop load generator: sends requests on a fixed schedule (rate per second) regardless of how fast answers come
// back (enough connections that none waits for another), and measures each latency from the moment it was sent.
// The schedule ticks on a 1 ms timer rather than spinning, so it does not steal the CPU it shares with the backend.
// Prints one JSON line: {sent, ok, errors, p50, p90, p99, max} in milliseconds.
// usage: node --import tsx bench/loadgen.ts <url> <host> <rate> <seconds>
import { Pool } from 'undici';

const [url, host, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const u = new URL(url);
const pool = new Pool(u.origin, { connections: 64, pipelining: 1, keepAliveTimeout: 10_000 });
const total = Math.round(rate * seconds);
const lat = new Float64Array(total);
let ok = 0;
let errors = 0;
let done = 0;
const intervalNs = 1e9 / rate;

const fire = (i: number) => {
  const sentAt = process.hrtime.bigint();
  pool
    .request({ path: u.pathname, method: 'GET', headers: { host } })
    .then(async (res) => {
      await res.body.dump();
      if (res.statusCode === 200) ok++;
      else errors++;
    })
    .catch(() => errors++)
    .finally(() => {
      lat[i] = Number(process.hrtime.bigint() - sentAt) / 1e6;
      if (++done === total) finish();
    });
};

function finish() {
  const sorted = Array.from(lat).sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  process.stdout.write(JSON.stringify({ sent: total, ok, errors, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: sorted[sorted.length - 1] }) + '\n');
  void pool.close().then(() => process.exit(0));
}

// Warm the pool so connection setup is not in the measurement.
await Promise.all(Array.from({ length: 8 }, () => pool.request({ path: u.pathname, method: 'GET', headers: { host } }).then((r) => r.body.dump())));
const start = process.hrtime.bigint();
let sent = 0;
const tick = () => {
  const now = process.hrtime.bigint();
  // Catch up on every request whose scheduled time has passed (the timer only wakes about once a millisecond).
  while (sent < total) {
    const due = start + BigInt(Math.round(sent * intervalNs));
    if (due > now) break;
    fire(sent);
    sent++;
  }
  if (sent < total) setTimeout(tick, 1);
};
tick();
