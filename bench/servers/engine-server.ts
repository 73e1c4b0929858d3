/**
 * A bare server on Switchyard's HTTP/2 engine: answers every request with
 * 200 "hello" once the request has ended. Used by the engine benchmark and the
 * conformance test. Run directly: `node dist/bench/servers/engine-server.js PORT`.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { acceptHttp2, type Http2Stream, type StreamHandler, type Http2Options } from '../../src/http2/index.js';

const BODY = Buffer.from('hello\n');
const RESPONSE = [':status', '200', 'content-type', 'text/plain', 'content-length', '6'];

function respond(s: Http2Stream): void {
  s.respond(RESPONSE, false);
  s.sendData(BODY, true);
}

const requestHandler: StreamHandler = {
  onHeaders() {},
  onData(s, data, endStream) {
    s.consume(data.length);
    if (endStream) respond(s);
  },
  onTrailers(s) {
    respond(s);
  },
  onReset() {},
  onDataSent() {},
};

export function startEngineServer(port: number, host = '127.0.0.1', options?: Http2Options): Promise<net.Server> {
  const server = net.createServer((socket) => {
    acceptHttp2(
      socket,
      {
        onStream(_c, s, _h, endStream) {
          s.handler = requestHandler;
          if (endStream) respond(s);
        },
      },
      options,
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8080);
  startEngineServer(port).then((s) => {
    const a = s.address() as net.AddressInfo;
    process.stdout.write(`engine server listening on 127.0.0.1:${a.port}\n`);
  });
}
