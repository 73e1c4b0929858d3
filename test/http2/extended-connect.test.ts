/**
 * RFC 8441 in the engine: SETTINGS_ENABLE_CONNECT_PROTOCOL advertised by a
 * server that opts in and read from peers, and the :protocol pseudo-header
 * accepted only then, once, and on CONNECT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { acceptHttp2, connectHttp2, type Http2Connection } from '../../src/http2/index.js';
import { checkRequest } from '../../src/http2/message-rules.js';
import { applySettings, initialSettings } from '../../src/http2/frame/settings.js';
import { Http2Error } from '../../src/http2/errors.js';
import { waitFor } from '../helpers/wait.js';

const WS = [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', '/chat', ':authority', 'a.test'];

test(':protocol is a malformed request unless the server enabled extended CONNECT, and then only once and on CONNECT with :scheme and :path', () => {
  assert.match(checkRequest(WS) ?? '', /:protocol/);
  assert.equal(checkRequest(WS, true), null);
  assert.match(checkRequest([...WS.slice(0, 4), ...WS.slice(2)], true) ?? '', /duplicate :protocol/);
  assert.match(checkRequest([':method', 'GET', ...WS.slice(2)], true) ?? '', /without CONNECT/);
  assert.match(checkRequest([':method', 'CONNECT', ':protocol', 'websocket', ':authority', 'a.test'], true) ?? '', /missing :scheme/);
  // A plain CONNECT (RFC 9113 §8.5) is unchanged.
  assert.equal(checkRequest([':method', 'CONNECT', ':authority', 'a.test:443'], true), null);
});

test('SETTINGS_ENABLE_CONNECT_PROTOCOL is 0 or 1 and is never taken back (PROTOCOL_ERROR)', () => {
  const frame = (v: number): Buffer => {
    const b = Buffer.alloc(6);
    b.writeUInt16BE(0x8, 0);
    b.writeUInt32BE(v, 2);
    return b;
  };
  const s = initialSettings();
  assert.equal(s.enableConnectProtocol, 0);
  applySettings(s, frame(1), 0, 6, true);
  assert.equal(s.enableConnectProtocol, 1);
  assert.throws(() => applySettings(s, frame(0), 0, 6, true), Http2Error);
  assert.throws(() => applySettings(initialSettings(), frame(2), 0, 6, true), Http2Error);
});

test('an engine server with enableConnectProtocol advertises it and takes a node:http2 extended CONNECT; an engine client reads it from node', async (t) => {
  let seen: string[] = [];
  const server = net.createServer((socket) => {
    acceptHttp2(socket, {
      onStream(_c, stream, headers) {
        seen = headers;
        stream.respond([':status', '200'], true);
      },
    }, { enableConnectProtocol: true });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const nodeServer = http2.createServer({ settings: { enableConnectProtocol: true } });
  await new Promise<void>((r) => nodeServer.listen(0, '127.0.0.1', () => r()));
  const socket = net.connect((nodeServer.address() as AddressInfo).port, '127.0.0.1');
  let client: Http2Connection | undefined;
  socket.once('connect', () => (client = connectHttp2(socket, {})));
  t.after(async () => {
    session.destroy();
    client?.destroy();
    server.close();
    await new Promise<void>((r) => nodeServer.close(() => r()));
  });
  await waitFor(() => session.remoteSettings.enableConnectProtocol === true, 'SETTINGS_ENABLE_CONNECT_PROTOCOL from the engine');
  const status = await new Promise<unknown>((resolve, reject) => {
    const req = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/chat', ':scheme': 'http', ':authority': 'a.test' }, { endStream: false });
    req.once('response', (h) => resolve(h[':status']));
    req.once('error', reject);
  });
  assert.equal(status, 200);
  assert.equal(seen[seen.indexOf(':protocol') + 1], 'websocket');
  await waitFor(() => client?.peerSettingsReceived === true, "node's SETTINGS");
  assert.equal(client!.peerSettings.enableConnectProtocol, 1);
});
