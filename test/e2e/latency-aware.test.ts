import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSession, connect, h2Request, runConcurrently, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';

test('peak-ewma through the proxy sends < 10% of requests to a backend 10x slower', async (t) => {
  const fast1 = await startH2Backend('fast1', { delayMs: 5 });
  const fast2 = await startH2Backend('fast2', { delayMs: 5 });
  const slow = await startH2Backend('slow', { delayMs: 50 });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'peak-ewma', endpoints: [fast1, fast2, slow].map((b) => `127.0.0.1:${b.port}`) }],
  });
  t.after(async () => {
    await p.stop();
    for (const b of [fast1, fast2, slow]) await b.close();
  });
  await waitReady(p);
  const s = await connect(p.port());
  const total = 1200;
  await runConcurrently(total, 10, async () => {
    assert.equal((await h2Request(s, { ':path': '/' })).status, 200);
  });
  await closeSession(s);
  const share = slow.requests / total;
  t.diagnostic(`slow backend got ${slow.requests}/${total} (${(share * 100).toFixed(1)}%)`);
  assert.equal(fast1.requests + fast2.requests + slow.requests, total);
  assert.ok(share < 0.1, `slow share ${share}`);
});

test('a backend failing fast with 503 gets < 5% under peak-ewma (failures are a penalty, not a fast sample)', async (t) => {
  const ok1 = await startH2Backend('ok1', { delayMs: 3 });
  const ok2 = await startH2Backend('ok2', { delayMs: 3 });
  const bad = await startH2Backend('bad', {
    handler(stream) {
      stream.on('error', () => {});
      stream.respond({ ':status': 503, 'x-backend': 'bad' });
      stream.end();
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'peak-ewma', outlierDetection: { enabled: false }, endpoints: [ok1, ok2, bad].map((b) => `127.0.0.1:${b.port}`) }],
  });
  t.after(async () => {
    await p.stop();
    for (const b of [ok1, ok2, bad]) await b.close();
  });
  await waitReady(p);
  const s = await connect(p.port());
  const total = 1200;
  await runConcurrently(total, 10, async () => {
    await h2Request(s, { ':path': '/' });
  });
  await closeSession(s);
  const share = bad.requests / total;
  t.diagnostic(`fast-failing backend got ${bad.requests}/${total} (${(share * 100).toFixed(1)}%)`);
  assert.ok(share < 0.05, `failing share ${share}`);
});
