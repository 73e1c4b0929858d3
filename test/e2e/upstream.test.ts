import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../bench/lib/processes.js';
import * as grpc from '@grpc/grpc-js';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { echoClient, unary } from '../helpers/grpc-echo.js';

test('upstream with MAX_CONCURRENT_STREAMS=10: 200 concurrent requests all succeed', async (t) => {
  const backend = await startH2Backend('limited', { maxConcurrentStreams: 10, delayMs: 20 });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', maxConnectionsPerEndpoint: 4, endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const session = await connect(p.port());
  const results = await Promise.all(Array.from({ length: 200 }, () => h2Request(session, { ':path': '/' })));
  await closeSession(session);
  assert.equal(results.filter((r) => r.status === 200).length, 200);
  assert.equal(backend.requests, 200, 'no request was sent twice or lost');
  assert.ok(backend.sessions >= 2 && backend.sessions <= 4, `more connections opened within the cap: ${backend.sessions}`);
});

test('a rolling graceful restart of 3 backends (GOAWAY, stop, start) under load loses no request', async (t) => {
  const backends = [await startH2Backend('a', { delayMs: 2 }), await startH2Backend('b', { delayMs: 2 }), await startH2Backend('c', { delayMs: 2 })];
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: backends.map((x) => `127.0.0.1:${x.port}`) }],
  });
  t.after(async () => {
    await p.stop();
    for (const x of backends) await x.close();
  });
  await waitReady(p);
  const session = await connect(p.port());
  const total = 3000;
  let sent = 0;
  let failed = 0;
  let ok = 0;
  const restarts: Promise<void>[] = [];
  async function worker(): Promise<void> {
    while (sent < total) {
      sent++;
      // Restart one backend after every 700 requests, while 50 requests are in flight.
      if (sent % 700 === 0 && restarts.length < backends.length) restarts.push(backends[restarts.length]!.restart());
      try {
        const r = await h2Request(session, { ':path': '/' });
        if (r.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  }
  await Promise.all(Array.from({ length: 50 }, worker));
  await Promise.all(restarts);
  await closeSession(session);
  assert.equal(restarts.length, 3);
  assert.equal(failed, 0, `${failed} requests failed during the restarts`);
  assert.equal(ok, total);
  const served = backends.reduce((n, x) => n + x.requests, 0);
  assert.ok(served >= total, 'every request reached a backend');
  // The last restart may end as the load does: reconnecting (eagerly, with backoff while the
  // backend was down) can finish after the last request, so wait for it rather than race it.
  for (let i = 0; i < 500 && !backends.every((x) => x.sessions >= 2); i++) await new Promise((r) => setTimeout(r, 10));
  for (const x of backends) assert.ok(x.sessions >= 2, `${x.name} was reconnected after its restart`);
});

test('all endpoints down: gRPC gets trailers-only UNAVAILABLE, HTTP gets 503 with switchyard-error', async (t) => {
  const dead1 = await freePort();
  const dead2 = await freePort();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'gone' }],
    services: [
      { name: 'gone', failfast: { timeout: '300ms' }, endpoints: [`127.0.0.1:${dead1}`, `127.0.0.1:${dead2}`] },
    ],
  });
  t.after(() => p.stop());
  const client = echoClient(p.port());
  t.after(() => client.close());
  // The first call waits in the failfast queue, then fails; the service then fails fast.
  for (const expected of ['SWY_ERR_', 'SWY_ERR_NO_ENDPOINT']) {
    await assert.rejects(unary(client, { text: 'x' }, { deadlineMs: 5000 }), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNAVAILABLE);
      assert.match(String(e.metadata.get('switchyard-error')[0]), new RegExp(`^${expected}`));
      return true;
    });
  }
  const session = await connect(p.port());
  const r = await h2Request(session, { ':path': '/' });
  await closeSession(session);
  assert.equal(r.status, 503);
  assert.equal(r.headers['switchyard-error'], 'SWY_ERR_NO_ENDPOINT');
});

test('a backend that refuses connections is skipped: requests go to the live one', async (t) => {
  const live = await startH2Backend('live');
  const dead = await freePort();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: [`127.0.0.1:${dead}`, `127.0.0.1:${live.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await live.close();
  });
  const session = await connect(p.port());
  const results = await Promise.all(Array.from({ length: 100 }, () => h2Request(session, { ':path': '/' })));
  await closeSession(session);
  assert.equal(results.filter((r) => r.status === 200).length, 100);
  assert.equal(live.requests, 100);
});
