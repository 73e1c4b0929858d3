import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

test('idleTimeout closes an idle HTTP/1.1 keep-alive connection and sends GOAWAY to an HTTP/2 connection without streams', async () => {
  const backend = await startH2Backend('a');
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'app', limits: { idleTimeout: '300ms' } }],
    services: [{ name: 'app', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  try {
    await waitReady(p);
    const port = p.port();
    // HTTP/1.1: one request, then nothing.
    const h1 = net.connect(port, '127.0.0.1');
    let h1Data = '';
    let h1Closed = false;
    h1.on('data', (d: Buffer) => {
      h1Data += d.toString();
    });
    h1.on('close', () => {
      h1Closed = true;
    });
    h1.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    // HTTP/2: a connection that keeps a stream open is not idle; once it ends, the connection is.
    const session = http2.connect(`http://127.0.0.1:${port}`);
    let goaway = -1;
    session.on('goaway', (code) => {
      goaway = code;
    });
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
    assert.equal(status, 200);
    await waitFor(() => h1Closed && goaway >= 0, 'both idle connections to be closed', 4000);
    assert.match(h1Data, /^HTTP\/1\.1 200 /);
    assert.equal(goaway, http2.constants.NGHTTP2_NO_ERROR);
    session.destroy();
    await waitFor(() => p.proxy.listeners[0]!.openConnections === 0, 'no client connection left');
  } finally {
    await p.stop();
    await backend.close();
  }
});
