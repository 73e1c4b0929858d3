import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import http2 from 'node:http2';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { echoClient, unary } from '../helpers/grpc-echo.js';
import { startRawGrpcBackend } from '../helpers/raw-grpc-backend.js';

async function backendProcess(name: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.resolve('dist/test/helpers/h2-backend-process.js'), name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout! });
  const port = Number(await new Promise<string>((r) => rl.once('line', r)));
  return { child, port };
}

test('a backend killed with SIGKILL under load: zero failed requests on a route with retries', async (t) => {
  const procs = [await backendProcess('p1'), await backendProcess('p2'), await backendProcess('p3')];
  t.after(() => procs.forEach((p) => p.child.kill('SIGKILL')));
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web',
      routes: [{ match: { pathPrefix: '/' }, service: 'web', retry: { on: ['reset', 'connect-failure', 'refused-stream', 'gateway-error'], attempts: 3 } }],
    }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: procs.map((x) => `127.0.0.1:${x.port}`) }],
  });
  t.after(() => p.stop());
  await waitReady(p);
  const session = await connect(p.port());
  const total = 3000;
  let sent = 0;
  let failed = 0;
  let killed = false;
  async function worker(): Promise<void> {
    while (sent < total) {
      sent++;
      if (sent === 1000 && !killed) {
        killed = true;
        procs[0]!.child.kill('SIGKILL');
      }
      try {
        const r = await h2Request(session, { ':path': '/', ':method': 'GET' });
        if (r.status !== 200) failed++;
      } catch {
        failed++;
      }
    }
  }
  await Promise.all(Array.from({ length: 20 }, worker));
  await closeSession(session);
  assert.ok(killed);
  assert.equal(failed, 0, `${failed} of ${total} requests failed`);
});

test('UNAVAILABLE in trailers after the body started (5% of calls): attempts 3 gives ≥ 99.9% success', async (t) => {
  // Every 20th call fails: the response message is sent, then grpc-status 14 in the trailers.
  const b1 = await startRawGrpcBackend((n) => (n % 20 === 7 ? 14 : 0));
  const b2 = await startRawGrpcBackend((n) => (n % 20 === 13 ? 14 : 0));
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'g',
      routes: [{ match: { grpcService: 'test.Echo' }, service: 'g', retry: { on: ['unavailable'], attempts: 3, budget: { ratio: 0.5 } } }],
    }],
    services: [{ name: 'g', balancer: 'round-robin', endpoints: [`127.0.0.1:${b1.port}`, `127.0.0.1:${b2.port}`] }],
  });
  const client = echoClient(p.port());
  t.after(async () => {
    client.close();
    await p.stop();
    await b1.close();
    await b2.close();
  });
  await waitReady(p);
  const n = 2000;
  let ok = 0;
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.allSettled(Array.from({ length: 50 }, () => unary(client, { text: 'x' })));
    ok += batch.filter((r) => r.status === 'fulfilled').length;
  }
  const backendCalls = b1.calls + b2.calls;
  t.diagnostic(`${ok}/${n} succeeded; backends saw ${backendCalls} attempts`);
  assert.ok(ok / n >= 0.999, `success ${ok}/${n}`);
  assert.ok(backendCalls > n, 'failed attempts were retried');
  const prev = [...b1.previousAttempts, ...b2.previousAttempts];
  assert.ok(prev.length > 0 && prev.every((v) => v === '1' || v === '2'), `grpc-previous-rpc-attempts: ${prev.slice(0, 5)}`);
});

test('retries are capped by the budget: at most ratio × requests + minPerSecond × window', async (t) => {
  const b = await startRawGrpcBackend((n) => (n % 2 === 0 ? 14 : 0));
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'g',
      routes: [{ match: {}, service: 'g', retry: { on: ['unavailable'], attempts: 3, backoff: { base: '1ms', max: '2ms' }, budget: { ratio: 0.2, minPerSecond: 10, window: '10s' } } }],
    }],
    services: [{ name: 'g', endpoints: [`127.0.0.1:${b.port}`] }],
  });
  const client = echoClient(p.port());
  t.after(async () => {
    client.close();
    await p.stop();
    await b.close();
  });
  await waitReady(p);
  const n = 1000;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 50) await Promise.allSettled(Array.from({ length: 50 }, () => unary(client, { text: 'x' })));
  const seconds = (performance.now() - t0) / 1000;
  const retries = b.calls - n;
  // The window (10 s) is longer than the run, so the floor is minPerSecond × window at most.
  const cap = 0.2 * n + 10 * 10;
  t.diagnostic(`${retries} retries for ${n} requests in ${seconds.toFixed(1)} s (cap ${cap})`);
  assert.ok(retries <= cap, `${retries} retries exceed the budget ${cap}`);
  assert.ok(retries >= 0.2 * n, `the budget was used: ${retries}`);
});

test('a hanging backend: the per-try timeout fires and the call succeeds elsewhere within the route timeout', async (t) => {
  const hang = await startH2Backend('hang', { handler() { /* never answers */ } });
  const good = await startH2Backend('good');
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web',
      routes: [{ match: {}, service: 'web', timeout: '3s', retry: { on: ['reset'], attempts: 2, perTryTimeout: '150ms' } }],
    }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: [`127.0.0.1:${hang.port}`, `127.0.0.1:${good.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await hang.close();
    await good.close();
  });
  await waitReady(p);
  const s = await connect(p.port());
  const results = await Promise.all(Array.from({ length: 20 }, () => h2Request(s, { ':path': '/' })));
  await closeSession(s);
  assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
  assert.ok(results.every((r) => r.headers['x-backend'] === 'good'));
  assert.ok(hang.requests >= 5, 'the hanging backend was tried and abandoned');
});

test('without a retry budget left or attempts left, the failure reaches the client with its status', async (t) => {
  const b = await startRawGrpcBackend(() => 14);
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'g', routes: [{ match: {}, service: 'g', retry: { on: ['unavailable'], attempts: 2 } }] }],
    services: [{ name: 'g', endpoints: [`127.0.0.1:${b.port}`] }],
  });
  const client = echoClient(p.port());
  t.after(async () => {
    client.close();
    await p.stop();
    await b.close();
  });
  await waitReady(p);
  await assert.rejects(unary(client, { text: 'x' }), (e: grpc.ServiceError) => {
    assert.equal(e.code, grpc.status.UNAVAILABLE);
    assert.equal(e.details, 'failing on purpose');
    return true;
  });
  assert.equal(b.calls, 2, 'two attempts');
});

test('circuit breaker: requests beyond maxRequests fail at once with SWY_ERR_OVERLOADED', async (t) => {
  const slow = await startH2Backend('slow', { delayMs: 300 });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', circuitBreakers: { maxRequests: 5 }, endpoints: [`127.0.0.1:${slow.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await slow.close();
  });
  await waitReady(p);
  const s = await connect(p.port());
  const results = await Promise.all(Array.from({ length: 20 }, () => h2Request(s, { ':path': '/' })));
  await closeSession(s);
  const ok = results.filter((r) => r.status === 200).length;
  const shed = results.filter((r) => r.status === 503 && r.headers['switchyard-error'] === 'SWY_ERR_OVERLOADED').length;
  assert.equal(ok, 5);
  assert.equal(shed, 15);
  assert.equal(slow.requests, 5, 'shed requests never reached the backend');
});

test('idle timeout: a stream on which nothing moves is cut short; a slow but moving one is not', async (t) => {
  const backend = await startH2Backend('trickle', {
    handler(stream, headers) {
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      if (headers[':path'] === '/stall') return; // headers, then nothing
      let n = 0;
      const tick = setInterval(() => {
        if (stream.destroyed) return clearInterval(tick);
        stream.write('x');
        if (++n === 8) {
          clearInterval(tick);
          stream.end();
        }
      }, 60);
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web', routes: [{ match: {}, service: 'web', idleTimeout: '250ms' }] }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const s = await connect(p.port());
  const moving = await h2Request(s, { ':path': '/trickle' });
  assert.equal(moving.body.toString(), 'xxxxxxxx', 'a stream that keeps moving is not cut');
  // The stalled response is cut short (RST_STREAM CANCEL) once nothing moved for 250 ms.
  const stalled = s.request({ ':path': '/stall' });
  stalled.resume();
  const t0 = performance.now();
  await new Promise<void>((r) => stalled.on('close', () => r()));
  assert.equal(stalled.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.ok(performance.now() - t0 >= 250);
  await closeSession(s);
});
