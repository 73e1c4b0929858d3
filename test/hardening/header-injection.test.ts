/**
 * HTTP/2 → HTTP/1.1 header injection: an HTTP/2 field may carry octets that
 * mean framing in HTTP/1.1 (CR, LF, NUL, leading or trailing whitespace,
 * RFC 9113 §8.2.1), names that are not lowercase tokens, or
 * connection-specific fields (§8.2.2). Such a request is malformed: a stream
 * error PROTOCOL_ERROR, and it never reaches the HTTP/1.1 backend — here a
 * raw TCP server that counts the request heads it receives with no parser of
 * its own to be lenient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ErrorCode } from '../../src/http2/constants.js';
import { RawH2Client, getRequest, headers, hpackLiteral } from '../helpers/raw-h2.js';
import { startProxy } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';
import { counters, countersSince } from './harness.js';

/** A raw HTTP/1.1 backend: answers every request head (GET only) with 200 and keeps every octet it received. */
async function startRawH1Backend(): Promise<{ port: number; received: () => string; heads: () => number; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  let heads = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      pending += d.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        heads++;
        pending = pending.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(chunks).toString('latin1'),
    heads: () => heads,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sockets) s.destroy();
    }),
  };
}

const base = (path = '/attack'): string[] => getRequest(path);
const cases: Array<[string, string[]]> = [
  ['CRLF in a value', [...base(), 'x-a', 'v\r\nx-injected: 1']],
  ['bare LF in a value', [...base(), 'x-a', 'v\nx-injected: 1']],
  ['bare CR in a value', [...base(), 'x-a', 'v\rx-injected: 1']],
  ['NUL in a value', [...base(), 'x-a', 'v\0x-injected']],
  ['leading space in a value', [...base(), 'x-a', ' v']],
  ['trailing tab in a value', [...base(), 'x-a', 'v\t']],
  ['uppercase name', [...base(), 'X-Injected', '1']],
  ['CRLF and a colon in a name', [...base(), 'x-a: 1\r\nx-injected', '1']],
  ['space in a name', [...base(), 'x injected', '1']],
  ['NUL in a name', [...base(), 'x\0injected', '1']],
  ['empty name', [...base(), '', '1']],
  ['connection', [...base(), 'connection', 'close']],
  ['transfer-encoding', [...base(), 'transfer-encoding', 'chunked']],
  ['keep-alive', [...base(), 'keep-alive', 'timeout=5']],
  ['proxy-connection', [...base(), 'proxy-connection', 'keep-alive']],
  ['upgrade', [...base(), 'upgrade', 'websocket']],
  ['te other than trailers', [...base(), 'te', 'gzip']],
  ['CRLF in :path', base('/attack\r\nx-injected: 1')],
  ['space in :path', base('/attack HTTP/1.1\r\nx-injected: 1')],
  ['space in :path (request-line split)', base('/attack /x')],
  ['CRLF in :authority', [':method', 'GET', ':scheme', 'http', ':path', '/attack', ':authority', 'h\r\nx-injected: 1']],
  ['space in :method', [':method', 'GET /x', ':scheme', 'http', ':path', '/attack', ':authority', 'localhost']],
  ['unknown pseudo-header', [...base(), ':x-injected', '1']],
  ['pseudo-header after a regular field', [':method', 'GET', ':scheme', 'http', 'x-a', '1', ':path', '/attack', ':authority', 'localhost']],
];

test('malformed HTTP/2 requests are reset (PROTOCOL_ERROR) and never reach an HTTP/1.1 backend', { timeout: 30_000 }, async (t) => {
  const backend = await startRawH1Backend();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', protocol: 'http1', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  const before = counters();
  const c = await RawH2Client.connect(p.port());
  const failures: string[] = [];
  for (const [name, fields] of cases) {
    const id = c.streamId();
    // Literal, stateless encoding: a block the server rejects leaves no state to fall out of step.
    c.write(headers(id, hpackLiteral(fields), true));
    const f = await c.waitFrame((x) => x.streamId === id, `answer to ${name}`);
    if (f.type !== 3 || f.payload.readUInt32BE(0) !== ErrorCode.PROTOCOL_ERROR) failures.push(`${name}: frame type ${f.type}`);
  }
  // A well-formed request on the same connection is relayed once.
  const ok = c.streamId();
  c.write(headers(ok, hpackLiteral(getRequest('/fine')), true));
  assert.equal((await c.waitResponse(ok))[1], '200');
  c.destroy();
  await waitFor(() => backend.heads() >= 1, 'the well-formed request');
  assert.deepEqual(failures, []);
  assert.equal(backend.heads(), 1, `backend received:\n${backend.received()}`);
  assert.ok(!backend.received().toLowerCase().includes('injected'), backend.received());
  assert.equal(countersSince(before).streamErrors, cases.length);
});
