// The eventing demo's subscriber, like Knative's event_display: logs every CloudEvent it receives (binary or
// structured mode) as one line on stdout and answers 202 without a reply. wharf gives it PORT.
import { createServer } from 'node:http';

const port = Number(process.env.PORT || 8080);
const name = process.env.DISPLAY_NAME || 'event-display';

function describe(req, body) {
  const ct = req.headers['content-type'] || '';
  if (ct.startsWith('application/cloudevents+json')) {
    const ev = JSON.parse(body.toString('utf8'));
    const { data, data_base64, ...attrs } = ev;
    return { mode: 'structured', attrs, data: data !== undefined ? JSON.stringify(data) : data_base64 ?? '' };
  }
  const attrs = {};
  for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('ce-')) attrs[k.slice(3)] = decodeURIComponent(String(v));
  if (ct) attrs.datacontenttype = ct;
  return { mode: 'binary', attrs, data: body.toString('utf8') };
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200).end('ok\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const ev = describe(req, Buffer.concat(chunks));
      // One line per event: wharf logs a process's stdout line by line.
      const attrs = Object.keys(ev.attrs)
        .sort()
        .map((k) => `${k}=${ev.attrs[k]}`)
        .join(' ');
      process.stdout.write(`☁️  ${name}: cloudevents.Event (${ev.mode} mode) ${attrs} data=${ev.data}\n`);
      res.writeHead(202).end();
    } catch (e) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`not a CloudEvent: ${e.message}\n`);
    }
  });
});

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
const stop = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
