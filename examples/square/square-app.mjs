// The square-app: GET /square?input=N answers {"input":N,"result":N²,"hostname":…}
// over HTTP/1.1 with keep-alive, like the replicas of a Kubernetes Deployment
// whose pods are named square-app-….
//
//   node square-app.mjs PORT [PORT ...]   one replica per port on 127.0.0.1,
//                                          named square-app-1, square-app-2, … in order
import http from 'node:http';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
  console.error('usage: node square-app.mjs PORT [PORT ...]');
  process.exit(2);
}

ports.forEach((port, i) => {
  const hostname = `square-app-${i + 1}`;
  const server = http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url, 'http://square-app');
    const input = Number(url.searchParams.get('input'));
    const ok = url.pathname === '/square' && url.searchParams.has('input') && Number.isFinite(input);
    res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(ok ? { input, result: input * input, hostname } : { error: 'GET /square?input=N', hostname })}\n`);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => console.log(`${hostname} listening on 127.0.0.1:${port}`));
});
