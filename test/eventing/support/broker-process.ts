// A broker in its own process, for the crash test: serves the broker ingress on 127.0.0.1 (port 0) with one
// trigger to SINK_URL, using DATA_DIR for the log. Prints {"port": n} on stdout once ready.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../../src/model/config.js';
import { BROKER_HANDLER, compileEventing } from '../../../src/model/eventing.js';
import type { LocalRequest } from '../../../src/proxy/handler.js';
import { Eventing } from '../../../src/eventing/runtime.js';

const dataDir = process.env.DATA_DIR!;
const sinkUrl = process.env.SINK_URL!;
const concurrency = process.env.CONCURRENCY ?? '4';
const { config } = parseConfig({ 'config-wharf': { 'broker-segment-bytes': '65536' } });
const { model } = compileEventing(
  [
    { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'default', namespace: 'default' } },
    {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'sink', namespace: 'default', annotations: { 'wharf.dev/delivery-concurrency': concurrency } },
      spec: { broker: 'default', subscriber: { uri: sinkUrl }, delivery: { retry: 20, backoffPolicy: 'linear', backoffDelay: 'PT0.05S' } },
    },
  ],
  config,
);
const eventing = new Eventing({ dataDir, tickMs: 50 });
eventing.apply(model);
await eventing.start();
const handler = eventing.handlerFor(BROKER_HANDLER)!;
const server = http.createServer((req, res) => handler.handle(req, res, { plane: 'internal', host: 'broker-ingress' } as unknown as LocalRequest));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});
process.on('SIGTERM', () => {
  void eventing.stop().then(() => process.exit(0));
});
