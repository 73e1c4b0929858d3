/**
 * A node:http2 backend in its own process, so a test can SIGKILL it.
 * Usage: node h2-backend-process.js NAME [PORT]; prints "PORT\n" when listening.
 * Answers 200 with `x-backend: NAME` after 1 ms.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

const name = process.argv[2] ?? 'backend';
const server = http2.createServer();
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.resume();
  stream.on('end', () => {
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'x-backend': name });
      stream.end('ok');
    }, 1);
  });
});
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
