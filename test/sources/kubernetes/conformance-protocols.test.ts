// Knative ingress conformance scenarios that need more than HTTP/1.1, in cluster mode: websocket, websocket/split,
// grpc, grpc/split (h2c prior knowledge downstream, h2c upstream from the Service port name), tls (a kubernetes.io/tls
// Secret named by spec.tls, SNI on 443's listener) and httpoption's HTTPS side.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver/index.js';
import { endpointSlice, kingress, service, simpleSpec, tlsSecret, until } from '../../support/k8s-fixtures.js';
import { EchoBackend, exposeBackend, get, startClusterWharf, waitReady, type ClusterWharf } from '../../support/k8s-wharf.js';
import { makeCa, type TestCa } from '../../support/tls-certs.js';

const NS = 'serving-tests';
let api: FakeApiServer;
let wharf: ClusterWharf;
let ca: TestCa;
const closers: (() => void)[] = [];

beforeAll(async () => {
  api = await startFakeApiServer();
  ca = await makeCa();
  wharf = await startClusterWharf(api, { tls: true });
});
afterAll(async () => {
  await wharf?.stop();
  for (const c of closers) c();
  await api?.close();
});

const split = (svc: string, percent: number) => ({ serviceNamespace: NS, serviceName: svc, servicePort: 80, percent });

/** Expose a loopback port as Service `name` port 80 (named `portName`) with its EndpointSlice. */
function expose(name: string, port: number, portName: string, appProtocol?: string): void {
  api.create(service(NS, name, [{ name: portName, port: 80, targetPort: port, appProtocol }]));
  api.create(endpointSlice(NS, name, `${name}-abc`, [{ ip: '127.0.0.1' }], [{ name: portName, port }]));
}

// ---- websocket ----

async function wsBackend(name: string): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (sock) => sock.on('message', (d) => sock.send(`${d.toString()} ${name}`)));
  closers.push(() => wss.close());
  return (wss.address() as AddressInfo).port;
}

/** Open ws://host/ through wharf's external listener; `n` echo round trips; returns the suffixes seen. */
async function wsRoundTrips(host: string, n: number): Promise<Set<string>> {
  const ws = new WebSocket(`ws://127.0.0.1:${wharf.external}/`, { headers: { host } });
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const reply = new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));
    ws.send(`msg-${i}`);
    const got = await reply;
    expect(got.startsWith(`msg-${i} `)).toBe(true);
    seen.add(got.slice(`msg-${i} `.length));
  }
  ws.close();
  return seen;
}

// ---- gRPC (grpc-ping style: a bidi stream echoing with the backend's name) ----

type Msg = Record<string, unknown>;
const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(b.toString());
const PingService = {
  PingStream: { path: '/ping.PingService/PingStream', requestStream: true, responseStream: true, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de },
} as unknown as grpc.ServiceDefinition;
const PingClient = grpc.makeGenericClientConstructor(PingService, 'PingService');

async function grpcBackend(name: string): Promise<number> {
  const server = new grpc.Server();
  server.addService(PingService, {
    PingStream: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on('data', (m: Msg) => call.write({ msg: `${String(m.msg)} ${name}` }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  closers.push(() => server.forceShutdown());
  return port;
}

async function pingStream(host: string, n: number): Promise<Set<string>> {
  const c = new PingClient(`127.0.0.1:${wharf.external}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': host });
  try {
    const call = (c as unknown as { PingStream(): grpc.ClientDuplexStream<Msg, Msg> }).PingStream();
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const reply = new Promise<Msg>((r, j) => {
        call.once('data', r);
        call.once('error', j);
      });
      call.write({ msg: `ping-${i}` });
      const m = String((await reply).msg);
      expect(m.startsWith(`ping-${i} `)).toBe(true);
      seen.add(m.slice(`ping-${i} `.length));
    }
    call.end();
    await new Promise<void>((r) => call.on('end', () => r()));
    return seen;
  } finally {
    c.close();
  }
}

function httpsGet(host: string, path = '/'): Promise<{ status: number; body: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: wharf.replicas[0].https(), path, servername: host, headers: { host }, ca: ca.cert, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol ?? false }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ingress conformance, protocols (cluster mode)', () => {
  it('websocket (100 echo round trips)', async () => {
    expose('ws', await wsBackend('ws'), 'http');
    api.create(kingress(NS, 'ws', { ...simpleSpec(NS, 'ws.example.com', 'ws'), httpOption: 'Enabled' }));
    await waitReady(api, NS, 'ws');
    expect([...(await wsRoundTrips('ws.example.com', 100))]).toEqual(['ws']);
  });

  it('websocket/split (each connection pinned, both backends seen)', async () => {
    expose('ws-a', await wsBackend('ws-a'), 'http');
    expose('ws-b', await wsBackend('ws-b'), 'http');
    api.create(kingress(NS, 'ws-split', { rules: [{ hosts: ['ws-split.example.com'], http: { paths: [{ splits: [split('ws-a', 50), split('ws-b', 50)] }] } }], httpOption: 'Enabled' }));
    await waitReady(api, NS, 'ws-split');
    const seen = new Set<string>();
    for (let i = 0; i < 100 && seen.size < 2; i++) {
      const s = await wsRoundTrips('ws-split.example.com', 10);
      expect(s.size).toBe(1);
      seen.add([...s][0]);
    }
    expect([...seen].sort()).toEqual(['ws-a', 'ws-b']);
  });

  it('grpc (h2c prior knowledge, 100 round trips on a bidi stream)', async () => {
    expose('grpc', await grpcBackend('grpc'), 'http2', 'kubernetes.io/h2c');
    api.create(kingress(NS, 'grpc', { ...simpleSpec(NS, 'grpc.example.com', 'grpc'), httpOption: 'Enabled' }));
    await waitReady(api, NS, 'grpc');
    expect([...(await pingStream('grpc.example.com', 100))]).toEqual(['grpc']);
  });

  it('grpc/split (each stream pinned, both backends seen)', async () => {
    expose('grpc-a', await grpcBackend('grpc-a'), 'http2', 'kubernetes.io/h2c');
    expose('grpc-b', await grpcBackend('grpc-b'), 'http2', 'kubernetes.io/h2c');
    api.create(kingress(NS, 'grpc-split', { rules: [{ hosts: ['grpc-split.example.com'], http: { paths: [{ splits: [split('grpc-a', 50), split('grpc-b', 50)] }] } }], httpOption: 'Enabled' }));
    await waitReady(api, NS, 'grpc-split');
    const seen = new Set<string>();
    for (let i = 0; i < 100 && seen.size < 2; i++) {
      const s = await pingStream('grpc-split.example.com', 10);
      expect(s.size).toBe(1);
      seen.add([...s][0]);
    }
    expect([...seen].sort()).toEqual(['grpc-a', 'grpc-b']);
  });

  it('tls (http and https with SNI from a kubernetes.io/tls Secret), and httpoption Redirected over https', async () => {
    const b = await new EchoBackend('tls').start();
    closers.push(() => b.close());
    exposeBackend(api, NS, 'tls', b);
    const hosts = ['tls.example.com', 'redirected.example.com'];
    const pair = await ca.issue({ names: hosts });
    api.create(tlsSecret(NS, 'tls-cert', pair.cert, pair.key));
    const tlsSpec = [{ hosts, secretName: 'tls-cert', secretNamespace: NS }];
    api.create(kingress(NS, 'tls', { tls: tlsSpec, rules: simpleSpec(NS, 'tls.example.com', 'tls').rules, httpOption: 'Enabled' }));
    api.create(kingress(NS, 'redirected', { tls: tlsSpec, rules: simpleSpec(NS, 'redirected.example.com', 'tls').rules, httpOption: 'Redirected' }));
    await waitReady(api, NS, 'tls');
    await waitReady(api, NS, 'redirected');
    await until(() => wharf.replicas[0].https() > 0, 5000, 'TLS listener open');
    expect((await get(wharf.external, 'tls.example.com')).status).toBe(200);
    const r = await httpsGet('tls.example.com');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).backend).toBe('tls');
    expect((await get(wharf.external, 'redirected.example.com', '/x')).status).toBe(301);
    expect((await httpsGet('redirected.example.com')).status).toBe(200);
  });

  it('host-rewrite (vanity hosts → rewriteHost → ExternalName Service to the internal plane, h2c hairpin)', async () => {
    const b = await new EchoBackend('private').start();
    closers.push(() => b.close());
    exposeBackend(api, NS, 'private', b);
    const privateHost = `p.${NS}.svc.cluster.local`;
    api.create(kingress(NS, 'p', { rules: [{ hosts: [privateHost], visibility: 'ClusterLocal', http: { paths: [{ splits: [{ serviceNamespace: NS, serviceName: 'private', servicePort: 80 }] }] } }], httpOption: 'Enabled' }));
    // Serving's placeholder: an ExternalName Service pointing at the private load balancer. In the cluster that is
    // wharf-internal:80; here the internal listener is on 127.0.0.1 at a random port, so the Service port is that port.
    const internal = wharf.internal;
    api.create(service(NS, 'p', [{ name: 'http2', port: internal }], { externalName: '127.0.0.1' }));
    const vanity = ['vanity-1.example.com', 'vanity-2.example.com'];
    api.create(kingress(NS, 'vanity', { rules: [{ hosts: vanity, http: { paths: [{ rewriteHost: privateHost, splits: [{ serviceNamespace: NS, serviceName: 'p', servicePort: internal }] }] } }], httpOption: 'Enabled' }));
    await waitReady(api, NS, 'p');
    await waitReady(api, NS, 'vanity');
    for (const h of vanity) {
      const r = await get(wharf.external, h);
      expect(r.status, h).toBe(200);
      expect(r.json.backend).toBe('private');
      expect(r.json.request.host).toBe(privateHost);
    }
  });
});
