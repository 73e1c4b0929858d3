import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { closeSession, connect, startH2Backend, startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { curl, findExecutable, h1Request, startH1Backend, startNginx, tempFile } from '../helpers/h1-peers.js';

/**
 * Backends that answer before reading the request body (413, 401 with a
 * body) reach every kind of client with their own status and body, with and
 * without `Expect: 100-continue`, and the proxy is fine afterwards.
 */

const UPLOAD = 2 * 1024 * 1024;
const NGINX = findExecutable('nginx');

function inflight(p: RunningProxy): number {
  let n = 0;
  for (const s of p.proxy.services.values()) n += s.inflight;
  return n;
}

async function noneInFlight(p: RunningProxy): Promise<void> {
  for (let i = 0; i < 500 && inflight(p) > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(inflight(p), 0, 'no request left in flight');
}

interface Answer {
  status: number;
  body: string;
}

/** A POST over HTTP/2 that may be answered before its body is sent; errors after the answer do not count. */
function h2Post(session: http2.ClientHttp2Session, path: string, body: Buffer, expectContinue: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': path, 'content-length': body.length };
    if (expectContinue) headers.expect = '100-continue';
    const req = session.request(headers);
    let status = 0;
    let text = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: string) => (text += d));
    req.on('end', () => {
      // Answered without a 100 Continue: the body will not be sent (RFC 9110 §10.1.1); end the stream.
      if (!req.writableEnded) req.close(http2.constants.NGHTTP2_NO_ERROR);
      resolve({ status, body: text });
    });
    req.on('error', (e) => {
      if (status === 0) reject(e);
    });
    // An HTTP/2 client that asked for a 100 Continue may get the final answer instead (RFC 9110 §10.1.1).
    if (expectContinue) req.on('continue', () => req.end(body));
    else req.end(body);
  });
}

/** The answers of one backend path, seen through the proxy by every client kind. */
interface Case {
  path: string;
  status: number;
  /** A piece of the backend's own body. */
  body: string;
}

/**
 * Runs every client kind against `cases` through the proxy, each followed by
 * a normal GET on `okPath` (which must answer 200 `okBody`).
 */
async function everyClient(p: RunningProxy, cases: readonly Case[], okPath: string, okBody: string, clients: { h1: boolean; h2: boolean }): Promise<void> {
  const port = p.port();
  const upload = tempFile(UPLOAD);
  try {
    const followUp = async (label: string): Promise<void> => {
      const r = await h1Request(port, { path: okPath });
      assert.equal(r.status, 200, `${label}: the next request succeeds`);
      assert.equal(r.body.toString(), okBody, label);
    };
    for (const c of cases) {
      if (clients.h1) {
        for (const expect of [true, false]) {
          const label = `curl ${c.path} ${expect ? 'with' : 'without'} Expect`;
          const r = await curl([...(expect ? [] : ['-H', 'Expect:']), '--data-binary', `@${upload.file}`, `http://127.0.0.1:${port}${c.path}`]);
          assert.equal(r.status, c.status, `${label}: ${r.stderr} ${r.body.toString()}`);
          assert.ok(r.body.toString().includes(c.body), `${label}: the backend's own body: ${r.body.toString()}`);
          await followUp(label);
        }
        for (const expect of [true, false]) {
          const label = `node:http ${c.path} ${expect ? 'with' : 'without'} Expect`;
          const r = await h1Request(port, { method: 'POST', path: c.path, body: upload.data, expectContinue: expect });
          assert.equal(r.status, c.status, label);
          assert.ok(r.body.toString().includes(c.body), `${label}: ${r.body.toString()}`);
          await followUp(label);
        }
      }
      if (clients.h2) {
        const session = await connect(port);
        try {
          for (const expect of [false, true]) {
            const label = `node:http2 ${c.path} ${expect ? 'with' : 'without'} Expect`;
            const r = await h2Post(session, c.path, upload.data, expect);
            assert.equal(r.status, c.status, label);
            assert.ok(r.body.includes(c.body), `${label}: ${r.body}`);
            await followUp(label);
          }
        } finally {
          await closeSession(session);
        }
      }
    }
    await noneInFlight(p);
  } finally {
    upload.cleanup();
  }
}

test('HTTP/1.1 upstream nginx answering 413 and 401 before reading the body: every client gets them', { skip: NGINX === undefined ? 'nginx not installed' : false }, async (t) => {
  const nginx = await startNginx(
    NGINX!,
    `        client_max_body_size 1k;
        location = /ok { return 200 "ok"; }
        location = /private { client_max_body_size 0; return 401 "who are you"; }
        location / { return 200 "ok"; }`,
  );
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'nginx' }],
    services: [{ name: 'nginx', protocol: 'http1', endpoints: [`127.0.0.1:${nginx.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await nginx.stop();
  });
  await everyClient(
    p,
    [
      { path: '/upload', status: 413, body: '413 Request Entity Too Large' },
      { path: '/private', status: 401, body: 'who are you' },
    ],
    '/ok',
    'ok',
    { h1: true, h2: true },
  );
});

test('HTTP/1.1 upstream node:http answering 413 and 401 without reading the body: every client gets them', async (t) => {
  const backend = await startH1Backend((req, res) => {
    if (req.url === '/413') {
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('too large: keep it under 1 KiB\n');
    } else if (req.url === '/401') {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
      res.end('who are you\n');
    } else {
      req.resume();
      req.on('end', () => res.end('ok'));
    }
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'h1' }],
    services: [{ name: 'h1', protocol: 'http1', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await everyClient(
    p,
    [
      { path: '/413', status: 413, body: 'too large: keep it under 1 KiB' },
      { path: '/401', status: 401, body: 'who are you' },
    ],
    '/ok',
    'ok',
    { h1: true, h2: true },
  );
});

test('HTTP/2 upstream answering 413 and ending its stream without reading the body: HTTP/1.1 and HTTP/2 clients get it', async (t) => {
  const backend = await startH2Backend('early', {
    handler(stream, headers) {
      stream.on('error', () => {});
      if (headers[':path'] === '/413') {
        stream.respond({ ':status': 413, 'content-type': 'text/plain' });
        stream.end('too large: keep it under 1 KiB\n');
      } else {
        stream.resume();
        stream.on('end', () => {
          stream.respond({ ':status': 200 });
          stream.end('ok');
        });
      }
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'h2' }],
    services: [{ name: 'h2', protocol: 'http2', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  await everyClient(p, [{ path: '/413', status: 413, body: 'too large: keep it under 1 KiB' }], '/ok', 'ok', { h1: true, h2: true });
});
