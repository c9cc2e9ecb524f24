// Test support: a broker mounted on a plain node:http server (the handler is a LocalHandler, so no router is
// needed), and sinks that record what they receive over real sockets.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/model/config.js';
import { compileEventing, BROKER_HANDLER, CHANNEL_HANDLER, type EventingModel } from '../../src/model/eventing.js';
import type { KObject } from '../../src/model/objects.js';
import type { LocalRequest } from '../../src/proxy/handler.js';
import { Eventing } from '../../src/eventing/runtime.js';
import { afterEach } from 'vitest';

export function tmpDir(prefix = 'wharf-ev-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function compile(objects: KObject[], wharf: Record<string, string> = {}): EventingModel {
  const { config } = parseConfig({ 'config-wharf': wharf });
  const out = compileEventing(objects, config);
  const errors = out.problems.filter((p) => p.severity === 'error');
  if (errors.length) throw new Error('compile problems: ' + JSON.stringify(errors));
  return out.model;
}

export const broker = (name: string, ns = 'default', spec: Record<string, unknown> = {}): KObject => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Broker',
  metadata: { name, namespace: ns },
  spec,
});

export const trigger = (name: string, spec: Record<string, unknown>, ns = 'default', annotations?: Record<string, string>): KObject => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Trigger',
  metadata: { name, namespace: ns, annotations },
  spec: { broker: 'default', ...spec },
});

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export type SinkBehaviour = (r: Received, n: number, res: ServerResponse) => void;

export interface Sink {
  url: string;
  port: number;
  received: Received[];
  behaviour: SinkBehaviour | null;
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  /** Wait until `n` received requests satisfy `pred` (e.g. a ce-id prefix); resolves with those. */
  waitMatching(pred: (r: Received) => boolean, n?: number, timeoutMs?: number): Promise<Received[]>;
  ids(): string[];
  close(): Promise<void>;
}

/** A subscriber: records every request; answers 200 (empty) unless `behaviour` writes something else. */
export async function startSink(behaviour: SinkBehaviour | null = null): Promise<Sink> {
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sink: Sink = {
    url: '',
    port: 0,
    received,
    behaviour,
    waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`sink got ${received.length} of ${n} requests`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(received);
          },
        });
      });
    },
    async waitMatching(pred, n = 1, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = received.filter(pred);
        if (got.length >= n) return got;
        if (Date.now() > deadline) throw new Error(`sink got ${got.length} of ${n} matching requests`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    ids: () => received.map((r) => String(r.headers['ce-id'])),
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      received.push(r);
      if (sink.behaviour) sink.behaviour(r, received.length, res);
      else res.writeHead(200).end();
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (received.length >= waiters[i]!.n) {
          waiters[i]!.resolve();
          waiters.splice(i, 1);
        }
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  sink.port = (server.address() as AddressInfo).port;
  sink.url = `http://127.0.0.1:${sink.port}/`;
  return sink;
}

export interface TestBroker {
  url: string;
  port: number;
  eventing: Eventing;
  dataDir: string;
  apply(objects: KObject[], wharf?: Record<string, string>): void;
  close(): Promise<void>;
}

/** Eventing runtime + a node:http server routing channel hosts to the channel handler, anything else to the broker. */
export async function startBroker(objects: KObject[], wharf: Record<string, string> = {}, givenDataDir?: string): Promise<TestBroker> {
  const dataDir = givenDataDir ?? tmpDir();
  const eventing = new Eventing({ dataDir, tickMs: 50 });
  let model = compile(objects, wharf);
  eventing.apply(model);
  await eventing.start();
  const brokerH = eventing.handlerFor(BROKER_HANDLER)!;
  const channelH = eventing.handlerFor(CHANNEL_HANDLER)!;
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const ctx = { plane: 'internal', host, requestId: 'test' } as unknown as LocalRequest;
    if (model.channelHosts.has(host)) channelH.handle(req, res, ctx);
    else brokerH.handle(req, res, ctx);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    eventing,
    dataDir,
    apply(objs, w = wharf) {
      model = compile(objs, w);
      eventing.apply(model);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await eventing.stop();
      // A data dir the test passed in may be reused by a restart; one made here is ours to remove.
      if (!givenDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A binary-mode CloudEvent POST with raw fetch. */
export function postEvent(url: string, attrs: Record<string, string>, body: string | Buffer = '', extraHeaders: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = { ...extraHeaders };
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'datacontenttype') headers['content-type'] = v;
    else headers['ce-' + k] = v;
  }
  return fetch(url, { method: 'POST', headers, body: body.length ? body : undefined });
}

export const ce = (id: string, extra: Record<string, string> = {}): Record<string, string> => ({
  specversion: '1.0',
  id,
  source: '/test',
  type: 'test.event',
  ...extra,
});

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const idIs = (...ids: string[]) => (r: Received): boolean => ids.includes(String(r.headers['ce-id']));

/** POST with full control of headers (fetch drops Host); resolves with the status code. */
export async function postWithHost(url: string, host: string, attrs: Record<string, string>, body = ''): Promise<number> {
  const { request } = await import('undici');
  const headers: Record<string, string> = { host };
  for (const [k, v] of Object.entries(attrs)) headers['ce-' + k] = v;
  const r = await request(url, { method: 'POST', headers, body });
  await r.body.dump();
  return r.statusCode;
}

/**
 * Sinks and brokers that close after each test (last started, first closed). Call once at the top of a test file;
 * `cleanup` takes any other teardown, e.g. a broker started directly to test a restart.
 */
export function perTestFixtures(): {
  cleanup: (() => Promise<void>)[];
  sinkOf: (behaviour?: Parameters<typeof startSink>[0]) => Promise<Sink>;
  brokerOf: (...args: Parameters<typeof startBroker>) => Promise<TestBroker>;
} {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });
  return {
    cleanup,
    async sinkOf(behaviour) {
      const s = await startSink(behaviour ?? null);
      cleanup.push(() => s.close());
      return s;
    },
    async brokerOf(...args) {
      const b = await startBroker(...args);
      cleanup.push(() => b.close());
      return b;
    },
  };
}
