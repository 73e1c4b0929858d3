/**
 * HTTP/1.1 request smuggling: requests whose length two parsers could read
 * differently (RFC 9112 §6.1, §6.3, §11.2): Content-Length with
 * Transfer-Encoding, two Content-Lengths, obfuscated Transfer-Encoding,
 * obs-fold, bare LF line endings, chunk sizes that overflow. Each is sent raw
 * to an `auto` listener whose service is an HTTP/1.1 node:http backend (a
 * parser of its own); the proxy must refuse it (400, connection closed) or
 * read it as exactly one request, and the backend must never see the request
 * hidden in the body (path /smuggled). Meanwhile an HTTP/2 client is served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startH1Backend } from '../helpers/h1-peers.js';
import { startProxy } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';
import { GoodClient, assertGoodServed, type Stage } from './harness.js';

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

interface Case {
  name: string;
  bytes: string;
  /** Must be refused with 400 (otherwise: refused, or read as one request). */
  refuse: boolean;
}

const cases: Case[] = [
  { name: 'Content-Length and Transfer-Encoding together', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 + SMUGGLED.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'two Content-Length fields with different values', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` },
  { name: 'one Content-Length field with two different values', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nContent-Length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding: chunked, identity', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding : chunked (space before the colon)', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 + SMUGGLED.length}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding:\\tchunked (a tab is whitespace: chunked)', refuse: false,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n` },
  { name: 'Transfer-Encoding: xchunked', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'obs-fold of Transfer-Encoding', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 + SMUGGLED.length}\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'obs-fold of an ordinary field', refuse: true,
    bytes: `GET /attack HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n` },
  { name: 'bare LF before Transfer-Encoding', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 + SMUGGLED.length}\r\nX-A: 1\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'bare LF line endings throughout', refuse: true,
    bytes: `GET /attack HTTP/1.1\nHost: x\n\n${SMUGGLED}` },
  { name: 'chunk size overflowing 64 bits', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000000001\r\nx\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'chunk extension with a bare LF', refuse: true,
    bytes: `POST /attack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nb\r\nx\r\n0\r\n\r\n${SMUGGLED}` },
];

interface Outcome {
  statusLine: string;
  closed: boolean;
}

/** Writes `bytes` on a new connection; resolves with the first status line and whether the proxy closed (bounded). */
function send(port: number, bytes: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from(bytes, 'latin1')));
    let got = '';
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ statusLine: got.split('\r\n')[0] ?? '', closed });
    };
    const timer = setTimeout(() => finish(false), 3000);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => finish(true));
    s.on('end', () => finish(true));
  });
}

test('HTTP/1.1 smuggling attempts are refused with 400 and close, and the backend never sees a hidden request', { timeout: 60_000 }, async (t) => {
  const paths: string[] = [];
  const backend = await startH1Backend((req, res) => {
    paths.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'web' }],
    services: [{ name: 'web', protocol: 'http1', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  const stage = { port: p.port(), goods: [] } as unknown as Stage;
  t.after(async () => {
    for (const g of stage.goods) await g.stop();
    await p.stop();
    await backend.close();
  });
  const good = await GoodClient.start(stage);
  await good.servedMore(10);
  const gaps: string[] = [];
  for (const c of cases) {
    const before = paths.filter((x) => x !== '/good').length;
    const o = await send(p.port(), c.bytes);
    await good.servedMore(2);
    const attack = paths.filter((x) => x !== '/good').slice(before);
    console.log(`[hardening] smuggling, ${c.name}: "${o.statusLine}", ${o.closed ? 'closed' : 'kept open'}, backend saw [${attack.join(' ')}]`);
    assert.ok(!attack.includes('/smuggled'), `${c.name}: the hidden request reached the backend`);
    assert.ok(attack.length <= 1, `${c.name}: the backend saw ${attack.length} requests`);
    if (c.refuse && !(o.statusLine.startsWith('HTTP/1.1 400') && o.closed && attack.length === 0)) {
      gaps.push(`${c.name}: "${o.statusLine}" ${o.closed ? 'closed' : 'open'}, backend saw ${attack.length}`);
    }
  }
  await assertGoodServed(good, 'HTTP/1.1 smuggling');
  assert.deepEqual(gaps, [], 'requests that should be refused with 400 and a close');
});
