// wharf's data plane alone, for profiling: the runtime with a hand-built snapshot (no manifest source, no compiler)
// and the real backends layer, access log on to stdout.
// usage: node --import tsx bench/wharf-fixture.ts <port> <backend-origin>
import { Runtime } from '../src/runtime.js';
import { createBackends } from '../src/backends/index.js';
import { fixtureSnapshot } from '../test/support/snapshot.js';
import { PushSource } from '../test/support/wharf.js';
import { configureLogger } from '../src/observability/logger.js';

const [port, origin] = process.argv.slice(2);
configureLogger({ level: 'info' });
const snap = fixtureSnapshot({
  hosts: [{ hosts: ['hello.default.example.com'], routes: [{ splits: [{ backend: 'rev:default/hello-00001', percent: 100, appendHeaders: { 'Knative-Serving-Revision': 'hello-00001', 'Knative-Serving-Namespace': 'default' } }] }] }],
  backends: [{ key: 'rev:default/hello-00001', urls: [origin], revision: 'hello-00001', service: 'hello' }],
});
const rt = new Runtime({
  source: new PushSource(),
  backends: createBackends({}),
  compile: (_d, { version }) => ({ snapshot: { ...snap, version }, problems: [] }),
  external: { port: Number(port), host: '127.0.0.1' },
  internal: null,
  admin: null,
});
await rt.start();
process.stderr.write(`ready ${port}\n`);
process.on('SIGINT', () => process.exit(0));
