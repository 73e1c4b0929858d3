import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startProxy, waitReady } from '../helpers/proxy-harness.js';
import { h1Request, startH1Backend } from '../helpers/h1-peers.js';

/** One HTTP/2 request with node's client; resolves with the response body. */
function h2Get(port: number, headers: http2.OutgoingHttpHeaders): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':path': '/', ...headers });
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      session.close();
      resolve(Buffer.concat(chunks).toString());
    });
    req.on('error', reject);
    req.end();
  });
}

test('X-Forwarded-For is replaced for clients and appended to for trusted proxies, over HTTP/1.1 and HTTP/2, to a node:http endpoint', async () => {
  // The endpoint answers with what it was told about the client.
  const backend = await startH1Backend((req, res) => {
    res.end(JSON.stringify({ xff: req.headers['x-forwarded-for'], proto: req.headers['x-forwarded-proto'], via: req.headers.via, fwd: req.headers.forwarded }));
  });
  const p = await startProxy({
    listeners: [
      { name: 'edge', listen: '127.0.0.1:0', service: 'app' },
      { name: 'inner', listen: '127.0.0.1:0', service: 'app', forwarded: { trustedProxies: ['127.0.0.0/8'], via: true, forwarded: true } },
    ],
    services: [{ name: 'app', protocol: 'http1', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  try {
    await waitReady(p);
    const spoof = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' };

    const edge1 = JSON.parse((await h1Request(p.port('edge'), { headers: spoof })).body.toString());
    assert.deepEqual(edge1, { xff: '127.0.0.1', proto: 'http' });
    const edge2 = JSON.parse(await h2Get(p.port('edge'), spoof));
    assert.deepEqual(edge2, { xff: '127.0.0.1', proto: 'http' });

    const inner1 = JSON.parse((await h1Request(p.port('inner'), { headers: spoof })).body.toString());
    assert.deepEqual(inner1, { xff: '6.6.6.6, 127.0.0.1', proto: 'https', via: '1.1 switchyard', fwd: 'for=127.0.0.1;proto=http' });
    const inner2 = JSON.parse(await h2Get(p.port('inner'), spoof));
    assert.deepEqual(inner2, { xff: '6.6.6.6, 127.0.0.1', proto: 'https', via: '2 switchyard', fwd: 'for=127.0.0.1;proto=http' });
  } finally {
    await p.stop();
    await backend.close();
  }
});
