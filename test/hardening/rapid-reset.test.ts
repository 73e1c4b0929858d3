/**
 * Rapid reset (CVE-2023-44487): a client opens streams and resets them at
 * once, in a loop, so the server starts work it never gets to finish. The
 * listener counts streams reset by the peer per window (http2.maxResetsPerWindow,
 * 200 per 10 s by default) and past it closes with GOAWAY ENHANCE_YOUR_CALM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/http2/constants.js';
import { RawH2Client, getRequest, rstStream } from '../helpers/raw-h2.js';
import { GoodClient, assertGoodServed, counters, countersSince, downstreamState, memoryMiB, startStage, waitAttackerGone } from './harness.js';

test('rapid reset: 1,000 HEADERS + RST_STREAM pairs close the connection with ENHANCE_YOUR_CALM; other clients are served', { timeout: 30_000 }, async (t) => {
  const stage = await startStage();
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage);
  await good.servedMore(20);
  const before = counters();
  const mem0 = memoryMiB();

  const attacker = await RawH2Client.connect(stage.port);
  for (let batch = 0; batch < 10 && !attacker.closed; batch++) {
    const frames: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const id = attacker.streamId();
      frames.push(attacker.request(id, getRequest('/attack')), rstStream(id, ErrorCode.CANCEL));
    }
    await attacker.writeDrained(...frames);
    await good.servedMore(2);
  }
  const goAway = await attacker.waitGoAway();
  await attacker.waitClose();
  assert.equal(goAway.code, ErrorCode.ENHANCE_YOUR_CALM, goAway.debug);
  await waitAttackerGone(stage);
  await good.servedMore(20);
  await assertGoodServed(good, 'rapid reset');

  const d = countersSince(before);
  assert.equal(d.floodsDetected, 1);
  assert.equal(d.connectionErrors, 1);
  // The streams the proxy let through before the limit, not the thousand.
  assert.ok(stage.attackRequests <= 201, `backend saw ${stage.attackRequests} attack requests`);
  // Only the well-behaved client's requests (two loops) may be in flight.
  assert.ok(downstreamState(stage).streams <= 2);
  const grown = memoryMiB() - mem0;
  assert.ok(grown < 64, `memory grew by ${grown.toFixed(1)} MiB`);
});
