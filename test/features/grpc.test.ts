// gRPC end to end through wharf with @grpc/grpc-js on both sides: revisions whose container port is named h2c,
// reached over h2c prior knowledge and over TLS (ALPN h2). Unary, 100+ round trips on one bidi stream, deadlines
// (grpc-timeout), trailers (grpc-status/grpc-message, including trailers-only errors) and a 50/50 split where each
// stream stays on the revision it started on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { writeManifest, tempDir, configMaps } from '../support/wharf.js';
import { upstreamService, upstreamRevision } from '../support/manifests.js';
import { startEdgeWharf, tlsSecret, type EdgeWharf } from '../support/edge-wharf.js';
import { makeCa, type TestCa } from '../support/tls-certs.js';

type Msg = Record<string, unknown>;
const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(b.toString());
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/wharf.test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: ser,
  requestDeserialize: de,
  responseSerialize: ser,
  responseDeserialize: de,
});
const EchoService = {
  Echo: method('Echo', false, false),
  Fail: method('Fail', false, false),
  Chat: method('Chat', true, true),
} as unknown as grpc.ServiceDefinition;
const EchoClient = grpc.makeGenericClientConstructor(EchoService, 'Echo');

async function startGrpcBackend(name: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(EchoService, {
    Echo: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const deadline = call.getDeadline();
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', name);
      cb(null, { backend: name, msg: call.request.msg, hasDeadline: deadline instanceof Date || (typeof deadline === 'number' && Number.isFinite(deadline)) }, trailer);
    },
    // An error before any message: grpc-js answers trailers-only (status in the HEADERS frame that ends the stream).
    Fail: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb({ code: grpc.status.NOT_FOUND, details: `nothing here (${name})` }),
    Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on('data', (m: Msg) => call.write({ backend: name, n: m.n }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

const H2C = [{ name: 'h2c', containerPort: 8080 }];
const revision = (name: string, port: number) =>
  upstreamRevision({ name, service: 'grpc', upstream: `http://127.0.0.1:${port}`, image: 'test/grpc', ports: H2C });

let a: { server: grpc.Server; port: number };
let b: { server: grpc.Server; port: number };
let w: EdgeWharf;
let ca: TestCa;
const HOST = 'grpc.default.example.com';

beforeAll(async () => {
  a = await startGrpcBackend('grpc-a');
  b = await startGrpcBackend('grpc-b');
  ca = await makeCa();
  const pair = await ca.issue({ names: [HOST] });
  const dir = tempDir();
  writeManifest(dir, 'config.yaml', configMaps({ 'config-wharf': { 'access-log': 'false', 'default-certificate': 'default/grpc-tls' } }));
  writeManifest(dir, 'secret.yaml', tlsSecret('grpc-tls', 'default', pair));
  writeManifest(
    dir,
    'grpc.yaml',
    [
      revision('grpc-a', a.port),
      upstreamService({
        name: 'grpc',
        upstream: `http://127.0.0.1:${b.port}`,
        revisionName: 'grpc-b',
        image: 'test/grpc',
        ports: H2C,
        specExtra: `  traffic:
    - revisionName: grpc-a
      percent: 50
    - revisionName: grpc-b
      percent: 50
`,
      }),
    ].join('---\n'),
  );
  w = await startEdgeWharf(dir);
});

afterAll(async () => {
  await w?.stop();
  a?.server.forceShutdown();
  b?.server.forceShutdown();
});

function clients(): { name: string; make: () => grpc.Client }[] {
  const opts = { 'grpc.default_authority': HOST };
  return [
    { name: 'h2c', make: () => new EchoClient(`127.0.0.1:${w.external}`, grpc.credentials.createInsecure(), opts) },
    {
      name: 'tls',
      make: () =>
        new EchoClient(`127.0.0.1:${w.https}`, grpc.credentials.createSsl(Buffer.from(ca.cert)), { ...opts, 'grpc.ssl_target_name_override': HOST }),
    },
  ];
}

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function unary(c: grpc.Client, name: string, req: Msg, deadlineMs = 5000): Promise<{ res?: Msg; err?: grpc.ServiceError; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = (c as AnyClient)[name](req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: Msg) =>
      setImmediate(() => resolve(err ? { err, trailers } : { res, trailers })),
    ) as grpc.ClientUnaryCall;
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

/** `n` round trips on one bidi stream, each waiting for its answer; returns the backends that answered. */
async function chat(c: grpc.Client, n: number): Promise<{ backends: Set<string>; count: number; status: grpc.StatusObject }> {
  const call = (c as AnyClient).Chat() as grpc.ClientDuplexStream<Msg, Msg>;
  const backends = new Set<string>();
  let count = 0;
  const status = new Promise<grpc.StatusObject>((r) => call.on('status', r));
  const next = (): Promise<Msg> => new Promise((r, j) => {
    call.once('data', r);
    call.once('error', j);
  });
  for (let i = 0; i < n; i++) {
    const reply = next();
    call.write({ n: i });
    const m = await reply;
    expect(m.n).toBe(i);
    backends.add(String(m.backend));
    count++;
  }
  call.end();
  await new Promise<void>((r) => call.on('end', () => r()));
  return { backends, count, status: await status };
}

describe.each([['h2c'], ['tls']])('gRPC over %s', (transport) => {
  const make = () => clients().find((c) => c.name === transport)!.make();

  it('unary call, with the deadline (grpc-timeout) and response trailers carried through', async () => {
    const c = make();
    try {
      const r = await unary(c, 'Echo', { msg: 'hi' });
      expect(r.err).toBeUndefined();
      expect(r.res).toMatchObject({ msg: 'hi', hasDeadline: true });
      expect(['grpc-a', 'grpc-b']).toContain(r.res!.backend);
      // A custom trailer sent with the OK status arrived, so trailers crossed the proxy.
      expect(r.trailers?.get('x-served-by')).toEqual([r.res!.backend]);
    } finally {
      c.close();
    }
  });

  it('trailers-only error: grpc-status and grpc-message reach the client', async () => {
    const c = make();
    try {
      const r = await unary(c, 'Fail', {});
      expect(r.err?.code).toBe(grpc.status.NOT_FOUND);
      expect(r.err?.details).toMatch(/^nothing here \(grpc-[ab]\)$/);
    } finally {
      c.close();
    }
  });

  it('120 round trips on one bidi stream, all on one revision', async () => {
    const c = make();
    try {
      const r = await chat(c, 120);
      expect(r.count).toBe(120);
      expect(r.backends.size).toBe(1);
      expect(r.status.code).toBe(grpc.status.OK);
    } finally {
      c.close();
    }
  });

  it('50/50 split: each stream sticks to one revision and both revisions are used', async () => {
    const c = make();
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 24 && seen.size < 2; i++) {
        const r = await chat(c, 5);
        expect(r.backends.size).toBe(1);
        seen.add([...r.backends][0]);
      }
      expect([...seen].sort()).toEqual(['grpc-a', 'grpc-b']);
    } finally {
      c.close();
    }
  });
});
