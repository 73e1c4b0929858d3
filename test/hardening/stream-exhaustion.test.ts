/**
 * Stream exhaustion: a client opens more streams than the
 * SETTINGS_MAX_CONCURRENT_STREAMS the listener advertised (the extra ones
 * are refused, RFC 9113 §5.1.2, REFUSED_STREAM, and refusals count towards
 * the reset limit), and keeps the ones it got open forever by never sending
 * the rest of their requests (http2.streamIdleTimeout answers and resets
 * them). The limit is per connection: other clients are not affected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/http2/constants.js';
import { RawH2Client, getRequest } from '../helpers/raw-h2.js';
import { waitFor } from '../helpers/wait.js';
import { GoodClient, assertGoodServed, counters, countersSince, downstreamState, startStage, waitAttackerGone } from './harness.js';

const MAX_STREAMS = 50;

test('streams beyond MAX_CONCURRENT_STREAMS are refused; streams held open are answered and reset by the idle timeout; others are served', { timeout: 30_000 }, async (t) => {
  const stage = await startStage({ maxConcurrentStreams: MAX_STREAMS, streamIdleTimeout: '1s' });
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage);
  await good.servedMore(10);
  const before = counters();
  const attacker = await RawH2Client.connect(stage.port);
  // POSTs whose bodies never come: each holds a stream at the proxy and at the backend.
  const ids: number[] = [];
  const frames: Buffer[] = [];
  for (let i = 0; i < MAX_STREAMS + 10; i++) {
    const id = attacker.streamId();
    ids.push(id);
    frames.push(attacker.request(id, getRequest('/attack', 'POST'), false));
  }
  await attacker.writeDrained(...frames);
  for (const id of ids.slice(MAX_STREAMS)) assert.equal(await attacker.waitReset(id), ErrorCode.REFUSED_STREAM);
  assert.equal(attacker.resetsReceived(ErrorCode.REFUSED_STREAM), 10);
  await waitFor(() => stage.attackRequests === MAX_STREAMS, 'held streams at the backend');
  await good.servedMore(20);

  // Nothing moves on the held streams: the idle timeout answers each (504) and resets it.
  await waitFor(() => downstreamState(stage).streams <= 2, 'held streams released', 10_000);
  for (const id of ids.slice(0, MAX_STREAMS)) {
    const h = await attacker.waitResponse(id);
    assert.equal(h[1], '504', `stream ${id}`);
  }
  assert.equal(attacker.closed, false, 'the connection itself stays up');
  const d = countersSince(before);
  assert.equal(d.refusedStreams, 10);
  assert.ok(d.streamIdleTimeouts >= MAX_STREAMS, `${d.streamIdleTimeouts} idle timeouts`);
  assert.equal(d.floodsDetected, 0);
  attacker.destroy();
  await waitAttackerGone(stage);
  await assertGoodServed(good, 'stream exhaustion');
});

test('refusing streams in a loop closes the connection with ENHANCE_YOUR_CALM (refusals count as resets)', { timeout: 30_000 }, async (t) => {
  const stage = await startStage({ maxConcurrentStreams: 1 });
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage, 1);
  await good.servedMore(5);
  const before = counters();
  const attacker = await RawH2Client.connect(stage.port);
  const frames = [attacker.request(attacker.streamId(), getRequest('/attack', 'POST'), false)];
  for (let i = 0; i < 300; i++) frames.push(attacker.request(attacker.streamId(), getRequest('/attack'), true));
  await attacker.writeDrained(...frames);
  const goAway = await attacker.waitGoAway();
  assert.equal(goAway.code, ErrorCode.ENHANCE_YOUR_CALM, goAway.debug);
  const d = countersSince(before);
  assert.equal(d.floodsDetected, 1);
  assert.ok(d.refusedStreams >= 200 && d.refusedStreams <= 201, `${d.refusedStreams} refused`);
  await waitAttackerGone(stage);
  await good.servedMore(5);
  await assertGoodServed(good, 'refused-stream loop');
});
