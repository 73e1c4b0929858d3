/**
 * MadeYouReset (CVE-2025-8671): instead of resetting streams itself, the
 * client sends frames that make the SERVER reset them (a WINDOW_UPDATE of 0,
 * DATA after END_STREAM, malformed headers, a PRIORITY frame of the wrong
 * size, more DATA than content-length). Each reset ends the stream for the
 * protocol while the work it started may go on, and a counter of resets
 * received never sees them. Resets the engine sends count towards the same
 * limit as the resets it receives (http2.maxResetsPerWindow).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/http2/constants.js';
import { F, RawH2Client, T, data, frame, getRequest, headers, hpackLiteral, priority, windowUpdate } from '../helpers/raw-h2.js';
import { GoodClient, assertGoodServed, counters, countersSince, downstreamState, memoryMiB, startStage, waitAttackerGone, type Stage } from './harness.js';

/** Provocations per attack: above the listener's limit of 200 resets per window. */
const ROUNDS = 300;

interface Provocation {
  name: string;
  /** The frames that make the server reset stream `id`, and the code it resets with. */
  frames(c: RawH2Client, id: number): Buffer[];
  code: number;
}

const post = (c: RawH2Client, id: number, extra: string[] = []): Buffer =>
  c.request(id, [...getRequest('/attack', 'POST'), ...extra], false);

const provocations: Provocation[] = [
  { name: 'WINDOW_UPDATE with a 0 increment', code: ErrorCode.PROTOCOL_ERROR, frames: (c, id) => [post(c, id), windowUpdate(id, 0)] },
  {
    name: 'DATA on a half-closed (remote) stream', code: ErrorCode.STREAM_CLOSED,
    frames: (c, id) => [c.request(id, getRequest('/attack'), true), data(id, Buffer.from('x'))],
  },
  {
    name: 'malformed request headers (uppercase name)', code: ErrorCode.PROTOCOL_ERROR,
    frames: (_c, id) => [headers(id, hpackLiteral([...getRequest('/attack'), 'X-Upper', 'v']), true)],
  },
  { name: 'PRIORITY frame of 6 octets', code: ErrorCode.FRAME_SIZE_ERROR, frames: (_c, id) => [priority(id, 0, 16, 6)] },
  {
    name: 'DATA beyond content-length', code: ErrorCode.PROTOCOL_ERROR,
    frames: (c, id) => [post(c, id, ['content-length', '1']), data(id, Buffer.from('xy'), true)],
  },
  {
    name: 'HEADERS after END_STREAM', code: ErrorCode.STREAM_CLOSED,
    frames: (c, id) => [c.request(id, getRequest('/attack'), true), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, c.encode(['x-trailer', '1']))],
  },
];

async function provoke(stage: Stage, good: GoodClient, p: Provocation): Promise<void> {
  const before = counters();
  const mem0 = memoryMiB();
  const attacker = await RawH2Client.connect(stage.port);
  // The first round: the server answers with the expected reset and stays up.
  const first = attacker.streamId();
  attacker.write(...p.frames(attacker, first));
  assert.equal(await attacker.waitReset(first), p.code, `${p.name}: reset code`);
  for (let batch = 0; batch < ROUNDS / 50 && !attacker.closed; batch++) {
    const frames: Buffer[] = [];
    for (let i = 0; i < 50; i++) frames.push(...p.frames(attacker, attacker.streamId()));
    await attacker.writeDrained(...frames);
    await good.servedMore(1);
  }
  const goAway = await attacker.waitGoAway();
  await attacker.waitClose();
  assert.equal(goAway.code, ErrorCode.ENHANCE_YOUR_CALM, `${p.name}: ${goAway.debug}`);
  const sent = attacker.resetsReceived(p.code);
  assert.ok(sent >= 190 && sent <= 201, `${p.name}: ${sent} resets before the GOAWAY`);
  await waitAttackerGone(stage);
  const d = countersSince(before);
  assert.equal(d.floodsDetected, 1, p.name);
  assert.ok(d.streamErrors >= 190, `${p.name}: ${d.streamErrors} stream errors counted`);
  // Only the well-behaved client's requests (two loops) may be in flight.
  assert.ok(downstreamState(stage).streams <= 2);
  const grown = memoryMiB() - mem0;
  assert.ok(grown < 64, `memory grew by ${grown.toFixed(1)} MiB`);
}

test('MadeYouReset: streams the server is made to reset count towards the reset limit (ENHANCE_YOUR_CALM), for every provocation', { timeout: 60_000 }, async (t) => {
  const stage = await startStage();
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage);
  await good.servedMore(10);
  for (const p of provocations) {
    await t.test(p.name, () => provoke(stage, good, p));
  }
  await good.servedMore(10);
  await assertGoodServed(good, 'MadeYouReset');
});
