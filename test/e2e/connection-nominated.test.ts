/**
 * RFC 9110 §7.6.1: fields named in a Connection field describe one hop; a
 * proxy removes them before forwarding, in both directions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http2';
import { connectionNominated } from '../../src/proxy/headers.js';
import { startH1Backend } from '../helpers/h1-peers.js';
import { startH2Backend, startProxy } from '../helpers/proxy-harness.js';

/** One raw HTTP/1.1 request, written byte for byte; resolves with the response head. */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      data += d;
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0) {
        s.destroy();
        resolve(data.slice(0, end).toLowerCase());
      }
    });
    s.on('error', reject);
  });
}

test('connectionNominated: only names beyond the usual options, none allocated for plain messages', () => {
  assert.equal(connectionNominated(['Host', 'a', 'Connection', 'keep-alive']), null);
  assert.equal(connectionNominated(['Connection', 'close, Upgrade']), null);
  assert.deepEqual(connectionNominated(['Connection', 'keep-alive, X-Secret', 'connection', ' x-two ,']), new Set(['x-secret', 'x-two']));
});

test('fields a client nominates in Connection are not forwarded (HTTP/2 and HTTP/1.1 endpoints); nor are those an endpoint nominates', async (t) => {
  let seenH2: IncomingHttpHeaders = {};
  const h2 = await startH2Backend('h2', {
    handler: (stream, headers) => {
      seenH2 = headers;
      stream.respond({ ':status': 200 });
      stream.end('ok');
    },
  });
  let seenH1: Record<string, string | string[] | undefined> = {};
  const h1 = await startH1Backend((req, res) => {
    seenH1 = req.headers;
    res.writeHead(200, { connection: 'keep-alive, X-Internal', 'x-internal': 'hop only', 'x-public': 'for the client' });
    res.end('ok');
  });
  const p = await startProxy({
    listeners: [
      { name: 'to-h2', listen: '127.0.0.1:0', protocol: 'http1', service: 'h2' },
      { name: 'to-h1', listen: '127.0.0.1:0', protocol: 'http1', service: 'h1' },
    ],
    services: [
      { name: 'h2', endpoints: [`127.0.0.1:${h2.port}`] },
      { name: 'h1', protocol: 'http1', endpoints: [`127.0.0.1:${h1.port}`] },
    ],
  });
  t.after(async () => {
    await p.stop();
    await Promise.all([h2.close(), h1.close()]);
  });
  const request = 'GET / HTTP/1.1\r\nHost: example\r\nConnection: keep-alive, X-Secret\r\nX-Secret: for this hop\r\nX-Other: forwarded\r\n\r\n';
  const a = await rawRequest(p.port('to-h2'), request);
  assert.match(a, /^http\/1\.1 200/);
  assert.equal(seenH2['x-secret'], undefined);
  assert.equal(seenH2['x-other'], 'forwarded');

  const b = await rawRequest(p.port('to-h1'), request);
  assert.match(b, /^http\/1\.1 200/);
  assert.equal(seenH1['x-secret'], undefined);
  assert.equal(seenH1['x-other'], 'forwarded');
  // The endpoint's own nominated field stays on its hop; its other fields arrive.
  assert.doesNotMatch(b, /x-internal/);
  assert.match(b, /x-public: for the client/);
});
