/**
 * Stream idle timeout (listeners[].http2.streamIdleTimeout and
 * services[].streamIdleTimeout, 5 minutes by default as in Envoy): a request
 * on which nothing moves is answered 504 / DEADLINE_EXCEEDED instead of
 * waiting forever; a slow but moving stream is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/config/index.js';
import { startProxy, waitReady } from '../helpers/proxy-harness.js';

test('streamIdleTimeout defaults to 5 minutes on both sides', () => {
  const c = parseConfig({
    listeners: [{ name: 'l', listen: '127.0.0.1:0', service: 's' }],
    services: [{ name: 's', endpoints: ['127.0.0.1:1'] }],
  }, 'test');
  assert.equal(c.listeners[0]!.http2.streamIdleTimeout, 300_000);
  assert.equal(c.services[0]!.streamIdleTimeout, 300_000);
});

test('a request on which nothing moves is answered 504 / DEADLINE_EXCEEDED at the idle timeout; a slow moving stream is not', async (t) => {
  const server = http2.createServer();
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const held: http2.ServerHttp2Stream[] = [];
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    const path = h[':path'];
    if (path === '/silent') {
      held.push(s); // never answers
    } else if (path === '/grpc.Test/Quiet') {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' });
      s.write(Buffer.from([0, 0, 0, 0, 1, 0x41])); // one message, then nothing
      held.push(s);
    } else {
      // Slow but moving: a chunk every 250 ms for 3 s, longer than the 1 s idle timeout.
      s.respond({ ':status': 200 });
      let n = 0;
      const timer = setInterval(() => {
        if (++n === 12) {
          clearInterval(timer);
          s.end('end');
        } else {
          s.write('tick');
        }
      }, 250);
      s.on('close', () => clearInterval(timer));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const p = await startProxy({
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', service: 's', http2: { streamIdleTimeout: '1s' } }],
    services: [{ name: 's', endpoints: [`127.0.0.1:${port}`], streamIdleTimeout: '1s' }],
  });
  await waitReady(p);
  const client = http2.connect(`http://127.0.0.1:${p.port()}`);
  t.after(async () => {
    client.destroy();
    await p.stop();
    await new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sessions) s.destroy();
    });
  });

  const call = (headers: http2.OutgoingHttpHeaders): Promise<{ status: number; grpcStatus: string; body: string; ms: number }> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = client.request(headers);
      let status = 0;
      let grpcStatus = '';
      let body = '';
      // Bounded: far beyond the 1 s timeout, so a busy machine does not fail it, but no hang.
      const timer = setTimeout(() => reject(new Error(`${String(headers[':path'])}: still waiting after 20 s`)), 20_000);
      req.on('response', (h) => {
        status = Number(h[':status']);
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      });
      req.on('trailers', (tr) => (grpcStatus = String(tr['grpc-status'])));
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('error', () => {});
      req.on('close', () => {
        clearTimeout(timer);
        resolve({ status, grpcStatus, body, ms: performance.now() - started });
      });
      req.end();
    });

  const [silent, quiet, moving] = await Promise.all([
    call({ ':path': '/silent' }),
    call({ ':path': '/grpc.Test/Quiet', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' }),
    call({ ':path': '/moving' }),
  ]);
  assert.equal(silent.status, 504);
  assert.match(silent.body, /SWY_ERR_TIMEOUT/);
  assert.equal(quiet.status, 200);
  assert.equal(quiet.grpcStatus, '4', 'DEADLINE_EXCEEDED in the trailers after the message that was relayed');
  assert.equal(moving.status, 200);
  assert.equal(moving.body, 'tick'.repeat(11) + 'end', 'the slow stream that kept moving was not cut');
  // The idle requests took at least the idle timeout (they were not failed early).
  assert.ok(silent.ms >= 900, `answered after ${silent.ms} ms`);
  let inflight = 0;
  for (const s of p.proxy.services.values()) inflight += s.inflight;
  assert.equal(inflight, 0);
  // The backend's idle streams were cancelled upstream.
  for (const s of held) {
    if (!s.closed) await new Promise((r) => s.once('close', r));
    assert.equal(s.rstCode, http2.constants.NGHTTP2_CANCEL);
  }
});
