import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { within } from '../helpers/engine-frames.js';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { parseConfigText, ConfigError } from '../../src/config/index.js';

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
}

test('hedging: with a 400 ms tail on 10% of one backend\'s calls, p99 through a hedged route drops far below it', async (t) => {
  // Every 10th call of the tail backend is slow. Without hedging it answers after 400 ms,
  // which puts a certain floor under the plain route's p99. With hedging it never answers
  // at all (until the end of the test): a hedged request can only complete because its
  // hedge won, so no wall-clock bound is needed to show that none waited for the tail.
  let n = 0;
  let hedgedPhase = false;
  const held: http2.ServerHttp2Stream[] = [];
  let heldCancelled = 0;
  let onCancel = (): void => {};
  const tail = await startH2Backend('tail', {
    handler(stream) {
      const slow = n++ % 10 === 3;
      stream.on('error', () => {});
      stream.resume();
      const answer = (): void => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'x-backend': 'tail' });
        stream.end('ok');
      };
      if (slow && hedgedPhase) {
        held.push(stream);
        stream.on('close', () => {
          heldCancelled++;
          onCancel();
        });
      } else {
        setTimeout(answer, slow ? 400 : 1);
      }
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
  hedgedPhase = true;
  const hedged = await within(measure('/hedged', 400), 60_000, 'hedged requests (one waiting for a held answer would never finish)');
  t.diagnostic(`p99 without hedging ${p99(plain).toFixed(1)} ms, with hedging ${p99(hedged).toFixed(1)} ms; ${held.length} tail answers withheld`);
  // Without hedging the tail shows (5% of requests take 400 ms); the lower bound is certain.
  assert.ok(p99(plain) >= 400);
  // The hedged route met the tail and every one of those requests completed: all were won by the hedge.
  assert.ok(held.length >= 10, `the hedged route met the tail ${held.length} times`);
  // Compared within this run, not against a fixed figure: the hedged tail is below the plain one.
  assert.ok(p99(hedged) < p99(plain), `hedged p99 ${p99(hedged)} ms, plain ${p99(plain)} ms`);
  // The losing attempts were cancelled upstream.
  await within(new Promise<void>((r) => {
    onCancel = () => heldCancelled === held.length && r();
    onCancel();
  }), 10_000, 'the held attempts to be cancelled');
  await closeSession(s);
});

test('hedging needs an idempotent route', () => {
  assert.throws(
    () => parseConfigText('listeners:\n  - name: e\n    listen: 127.0.0.1:0\n    routes:\n      - service: s\n        hedge: { delay: 10ms }\nservices:\n  - name: s\n'),
    (e: ConfigError) => e.issues.some((i) => i.path === 'listeners[0].routes[0].hedge' && /idempotent/.test(i.message)),
  );
});
