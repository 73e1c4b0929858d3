/**
 * Slow readers: a client asks for large responses and then does not read
 * them, either by flow control (a stream window of 1 KiB it never
 * replenishes) or by TCP (it stops reading its socket). The proxy holds a
 * bounded amount per stream (it takes from the upstream only what the client
 * side accepted), the backend is back-pressured, other clients are served,
 * and when the reader goes away everything it held is released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawH2Client, getRequest } from '../helpers/raw-h2.js';
import { waitFor } from '../helpers/wait.js';
import { GoodClient, assertGoodServed, countersSince, counters, downstreamState, memoryMiB, startStage, waitAttackerGone } from './harness.js';

const STREAMS = 8;
const BODY = 32 << 20;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;

/** Resolves once `value()` stopped changing over `quiet` consecutive 50 ms polls. */
async function settled(value: () => number, quiet = 8): Promise<number> {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 400 && same < quiet; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const v = value();
    same = v === last ? same + 1 : 0;
    last = v;
  }
  return last;
}

for (const mode of ['flow control (1 KiB window, never replenished)', 'TCP (the socket is not read)'] as const) {
  test(`slow reader by ${mode}: bounded proxy buffers, back-pressured backend, others served, all released`, { timeout: 60_000 }, async (t) => {
    let written = 0;
    let cancelled = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const stage = await startStage({}, {
      handler(stream, h) {
        stream.on('error', () => {});
        stream.on('close', () => { if (!stream.writableFinished) cancelled++; });
        if (h[':path'] !== '/attack-big') {
          stream.respond({ ':status': 200 });
          stream.end('ok');
          return;
        }
        stream.respond({ ':status': 200 });
        let sent = 0;
        const pump = (): void => {
          while (sent < BODY && !stream.destroyed) {
            sent += chunk.length;
            written += chunk.length;
            if (!stream.write(chunk)) return void stream.once('drain', pump);
          }
          if (!stream.destroyed) stream.end();
        };
        pump();
      },
    });
    t.after(() => stage.stop());
    const good = await GoodClient.start(stage);
    await good.servedMore(10);
    const before = counters();
    const mem0 = memoryMiB();
    const tcp = mode.startsWith('TCP');
    const attacker = await RawH2Client.connect(stage.port, { settings: tcp ? [] : [SETTINGS_INITIAL_WINDOW_SIZE, 1024] });
    if (tcp) attacker.peer.socket.pause();
    const frames: Buffer[] = [];
    for (let i = 0; i < STREAMS; i++) frames.push(attacker.request(attacker.streamId(), getRequest('/attack-big'), true));
    attacker.write(...frames);
    await waitFor(() => stage.attackRequests === STREAMS, 'attack requests at the backend');
    const stalledAt = await settled(() => written);
    const held = downstreamState(stage);
    const grown = memoryMiB() - mem0;
    await good.servedMore(20);
    console.log(`[hardening] slow reader by ${mode}: backend stalled after ${(stalledAt / (1 << 20)).toFixed(1)} MiB of ${(STREAMS * BODY) >> 20} MiB; proxy queued ${(held.queuedBytes / (1 << 20)).toFixed(1)} MiB; heap+buffers +${grown.toFixed(1)} MiB`);
    assert.ok(stalledAt < (STREAMS * BODY) / 2, `backend wrote ${stalledAt} octets`);
    assert.ok(held.queuedBytes < 48 << 20, `proxy queued ${held.queuedBytes} octets`);
    assert.ok(grown < 96, `memory grew by ${grown.toFixed(1)} MiB`);

    // The reader goes away: its streams are cancelled upstream and nothing stays queued.
    attacker.destroy();
    await waitAttackerGone(stage);
    await waitFor(() => cancelled >= STREAMS, 'backend streams cancelled');
    assert.equal(downstreamState(stage).queuedBytes, 0);
    await assertGoodServed(good, `slow reader by ${mode}`);
    assert.equal(countersSince(before).floodsDetected, 0);
  });
}
