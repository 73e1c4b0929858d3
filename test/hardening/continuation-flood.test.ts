/**
 * CONTINUATION floods (CVE-2024-27316 and its family): a header block that
 * never ends, in large CONTINUATION frames (memory) or in many tiny ones
 * (CPU). The engine bounds a block to maxContinuationFrames (32) frames and
 * twice maxHeaderListSize octets, then closes with ENHANCE_YOUR_CALM; it
 * never buffers past the bound to build a 431.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/http2/constants.js';
import { RawH2Client, continuation, getRequest, headers, ping } from '../helpers/raw-h2.js';
import { GoodClient, assertGoodServed, counters, countersSince, downstreamState, memoryMiB, startStage, waitAttackerGone, type Stage } from './harness.js';

interface Flood {
  name: string;
  /** Frames after the opening HEADERS (without END_HEADERS) on stream 1. */
  frames: (c: RawH2Client) => Buffer[];
  code: number;
  flood: boolean;
}

const floods: Flood[] = [
  {
    name: 'CONTINUATION frames of 16 KiB without END_HEADERS (memory)', code: ErrorCode.ENHANCE_YOUR_CALM, flood: true,
    frames: () => Array.from({ length: 64 }, () => continuation(1, Buffer.alloc(16_384, 0x41), false)),
  },
  {
    name: '2,000 one-octet CONTINUATION frames (CPU)', code: ErrorCode.ENHANCE_YOUR_CALM, flood: true,
    frames: () => Array.from({ length: 2000 }, () => continuation(1, Buffer.from([0x41]), false)),
  },
  {
    name: '2,000 empty CONTINUATION frames', code: ErrorCode.ENHANCE_YOUR_CALM, flood: true,
    frames: () => Array.from({ length: 2000 }, () => continuation(1, Buffer.alloc(0), false)),
  },
  {
    name: 'a header block interrupted by a PING', code: ErrorCode.PROTOCOL_ERROR, flood: false,
    frames: () => [continuation(1, Buffer.from([0x41]), false), ping()],
  },
  {
    name: 'CONTINUATION on another stream', code: ErrorCode.PROTOCOL_ERROR, flood: false,
    frames: () => [continuation(3, Buffer.from([0x41]), true)],
  },
];

async function attack(stage: Stage, good: GoodClient, f: Flood): Promise<void> {
  const before = counters();
  const mem0 = memoryMiB();
  const attacker = await RawH2Client.connect(stage.port);
  // The opening HEADERS: a valid block start, never finished.
  const start = attacker.encode(getRequest('/attack'));
  await attacker.writeDrained(headers(1, start, true, false), ...f.frames(attacker));
  const goAway = await attacker.waitGoAway();
  await attacker.waitClose();
  assert.equal(goAway.code, f.code, `${f.name}: ${goAway.debug}`);
  await waitAttackerGone(stage);
  await good.servedMore(2);
  const d = countersSince(before);
  assert.equal(d.floodsDetected, f.flood ? 1 : 0, f.name);
  assert.equal(d.connectionErrors, 1, f.name);
  assert.equal(stage.attackRequests, 0, 'no attack request reached the backend');
  assert.ok(downstreamState(stage).streams <= 2);
  const grown = memoryMiB() - mem0;
  assert.ok(grown < 32, `memory grew by ${grown.toFixed(1)} MiB`);
}

test('CONTINUATION floods close the connection (ENHANCE_YOUR_CALM, or PROTOCOL_ERROR for a broken block) while other clients are served', { timeout: 60_000 }, async (t) => {
  const stage = await startStage();
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage);
  await good.servedMore(10);
  for (const f of floods) await t.test(f.name, () => attack(stage, good, f));
  await assertGoodServed(good, 'CONTINUATION flood');
});

test('a header block of exactly 32 CONTINUATION frames is served (the bound is not off by one)', { timeout: 30_000 }, async (t) => {
  const stage = await startStage();
  t.after(() => stage.stop());
  const c = await RawH2Client.connect(stage.port);
  const block = c.encode(getRequest('/within-bound'));
  const frames = [headers(1, block.subarray(0, 1), true, false)];
  // 33 frames in all: HEADERS and 32 CONTINUATIONs, the last with END_HEADERS.
  const rest = block.subarray(1);
  for (let i = 0; i < 32; i++) {
    const piece = i < 31 ? rest.subarray(Math.min(i, rest.length), Math.min(i + 1, rest.length)) : rest.subarray(Math.min(31, rest.length));
    frames.push(continuation(1, piece, i === 31));
  }
  c.write(...frames);
  const response = await c.waitResponse(1);
  assert.equal(response[1], '200');
  c.destroy();
});
