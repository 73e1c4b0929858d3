// One version of a small HTTP/1.1 JSON app: every request is answered with
// {"version":VERSION,"replica":…,"path":…}, so a client sees which build served it.
//
//   node app.mjs VERSION PORT [PORT ...]   one replica per port on 127.0.0.1,
//                                           named VERSION-1, VERSION-2, … in order
import http from 'node:http';

const [version, ...rest] = process.argv.slice(2);
const ports = rest.map(Number);
if (version === undefined || ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
  console.error('usage: node app.mjs VERSION PORT [PORT ...]');
  process.exit(2);
}

ports.forEach((port, i) => {
  const replica = `${version}-${i + 1}`;
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ version, replica, path: req.url })}\n`);
  });
  server.listen(port, '127.0.0.1', () => console.log(`${replica} listening on 127.0.0.1:${port}`));
});
