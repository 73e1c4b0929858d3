import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { parseConfigText, ConfigError } from '../../src/config/index.js';

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
}

test('hedging: with a 400 ms tail on 10% of one backend\'s calls, p99 through a hedged route drops far below it', async (t) => {
  let n = 0;
  const tail = await startH2Backend('tail', {
    handler(stream) {
      const slow = n++ % 10 === 3;
      stream.on('error', () => {});
      stream.resume();
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'x-backend': 'tail' });
        stream.end('ok');
      }, slow ? 400 : 1);
    },
  });
  const fast = await startH2Backend('fast', { delayMs: 1 });
  const endpoints = [`127.0.0.1:${tail.port}`, `127.0.0.1:${fast.port}`];
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'plain',
      routes: [{ match: { pathPrefix: '/hedged' }, service: 'hedged', idempotent: true, hedge: { delay: '30ms' } }],
    }],
    services: [
      { name: 'plain', balancer: 'round-robin', endpoints },
      { name: 'hedged', balancer: 'round-robin', endpoints },
    ],
  });
  t.after(async () => {
    await p.stop();
    await tail.close();
    await fast.close();
  });
  await waitReady(p);
  const s = await connect(p.port());
  async function measure(path: string, count: number): Promise<number[]> {
    const lat: number[] = [];
    for (let i = 0; i < count; i += 10) {
      await Promise.all(Array.from({ length: 10 }, async () => {
        const t0 = performance.now();
        const r = await h2Request(s, { ':path': path });
        assert.equal(r.status, 200);
        lat.push(performance.now() - t0);
      }));
    }
    return lat;
  }
  const plain = await measure('/plain', 400);
  const hedged = await measure('/hedged', 400);
  await closeSession(s);
  t.diagnostic(`p99 without hedging ${p99(plain).toFixed(1)} ms, with hedging ${p99(hedged).toFixed(1)} ms`);
  // Without hedging the tail shows (5% of requests take 400 ms); the lower bound is certain.
  assert.ok(p99(plain) >= 400);
  assert.ok(p99(hedged) < 200, `hedged p99 ${p99(hedged)} ms`);
  assert.ok(Math.max(...hedged) < 400, 'no hedged request waited for the slow answer');
});

test('hedging needs an idempotent route', () => {
  assert.throws(
    () => parseConfigText('listeners:\n  - name: e\n    listen: 127.0.0.1:0\n    routes:\n      - service: s\n        hedge: { delay: 10ms }\nservices:\n  - name: s\n'),
    (e: ConfigError) => e.issues.some((i) => i.path === 'listeners[0].routes[0].hedge' && /idempotent/.test(i.message)),
  );
});
