/**
 * A bare HTTP/1.1 server answering every request with 200 "ok" once its body
 * has ended: on Switchyard's HTTP/1.1 codec (`codec`) or on node:http
 * (`node`). Used by the HTTP/1.1 codec benchmark.
 * Run directly: `node dist/bench/servers/http1-server.js codec|node PORT`.
 */
import http from 'node:http';
import net from 'node:net';
import { H1Server, type H1RequestHandler, type H1ServerRequest } from '../../src/http1/index.js';

const BODY = Buffer.from('ok');
const FIELDS = ['content-type', 'text/plain', 'content-length', '2'];

const requestHandler: H1RequestHandler = {
  onBodyData() {},
  onBodyEnd(req: H1ServerRequest) {
    req.respond(200, FIELDS, false);
    req.write(BODY);
    req.end();
  },
  onAborted() {},
  onDrain() {},
};

function startCodec(port: number): void {
  const server = new H1Server({
    onRequest(_c, req) {
      req.handler = requestHandler;
    },
    onUpgrade(_c, _r, socket) {
      socket.destroy();
    },
    refused() {
      return null;
    },
  }, { maxHeaderSize: 16384, maxHeaderFields: 200, headersTimeout: 60_000, idleTimeout: 60_000 });
  net.createServer({ noDelay: true }, (s) => {
    s.on('error', () => {});
    server.serve(s);
  }).listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
}

function startNode(port: number): void {
  const server = http.createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end(BODY);
    });
  });
  server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
}

const [mode, port] = process.argv.slice(2);
if (mode === 'codec') startCodec(Number(port));
else startNode(Number(port));
