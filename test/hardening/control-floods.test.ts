/**
 * Floods of frames that cost the server work without making progress: PING,
 * SETTINGS, empty DATA, WINDOW_UPDATE (tiny increments) and PRIORITY. Each
 * is counted per flood window (10 s) and past its limit the connection is
 * closed with GOAWAY ENHANCE_YOUR_CALM; well-behaved traffic stays under
 * every limit, a large download over a tiny window included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { ErrorCode } from '../../src/http2/constants.js';
import { RawH2Client, data, getRequest, ping, priority, settings, windowUpdate } from '../helpers/raw-h2.js';
import { closeSession, connect } from '../helpers/proxy-harness.js';
import { GoodClient, assertGoodServed, counters, countersSince, memoryMiB, startStage, waitAttackerGone, type Stage } from './harness.js';

interface Flood {
  name: string;
  /** Frames of the flood (a few thousand at most), after the connection is set up. */
  frames(c: RawH2Client): Buffer[];
}

const times = (n: number, f: (i: number) => Buffer): Buffer[] => Array.from({ length: n }, (_, i) => f(i));

const floods: Flood[] = [
  { name: 'PING flood (2,000 PINGs)', frames: () => times(2000, () => ping()) },
  { name: 'SETTINGS flood (200 empty SETTINGS)', frames: () => times(200, () => settings()) },
  {
    name: 'empty DATA flood (2,000 empty DATA frames on an open stream)',
    frames: (c) => [c.request(1, getRequest('/attack', 'POST'), false), ...times(2000, () => data(1, Buffer.alloc(0)))],
  },
  { name: 'WINDOW_UPDATE flood (2,000 increments of 1 on the connection)', frames: () => times(2000, () => windowUpdate(0, 1)) },
  {
    name: 'WINDOW_UPDATE flood (2,000 increments of 1 on an open stream)',
    frames: (c) => [c.request(1, getRequest('/attack', 'POST'), false), ...times(2000, () => windowUpdate(1, 1))],
  },
  { name: 'PRIORITY flood (2,000 PRIORITY frames on idle streams)', frames: () => times(2000, (i) => priority(2 * i + 101, 0)) },
];

async function flood(stage: Stage, good: GoodClient, f: Flood): Promise<void> {
  const before = counters();
  const mem0 = memoryMiB();
  const attacker = await RawH2Client.connect(stage.port);
  const frames = f.frames(attacker);
  for (let i = 0; i < frames.length && !attacker.closed; i += 250) await attacker.writeDrained(...frames.slice(i, i + 250));
  const goAway = await attacker.waitGoAway();
  await attacker.waitClose();
  assert.equal(goAway.code, ErrorCode.ENHANCE_YOUR_CALM, `${f.name}: ${goAway.debug}`);
  await waitAttackerGone(stage);
  await good.servedMore(2);
  const d = countersSince(before);
  assert.equal(d.floodsDetected, 1, f.name);
  assert.equal(d.connectionErrors, 1, f.name);
  const grown = memoryMiB() - mem0;
  assert.ok(grown < 32, `memory grew by ${grown.toFixed(1)} MiB`);
}

test('control-frame floods close the attacking connection with ENHANCE_YOUR_CALM while other clients are served', { timeout: 60_000 }, async (t) => {
  const stage = await startStage();
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage);
  await good.servedMore(10);
  for (const f of floods) await t.test(f.name, () => flood(stage, good, f));
  await assertGoodServed(good, 'control-frame floods');
});

test('a 4 MiB download over a 4 KiB stream window (about 2,000 WINDOW_UPDATEs) is not taken for a flood', { timeout: 30_000 }, async (t) => {
  const body = Buffer.alloc(4 << 20, 0x62);
  const stage = await startStage({}, {
    handler(stream) {
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      stream.end(body);
    },
  });
  t.after(() => stage.stop());
  const before = counters();
  const s = await connect(stage.port, { settings: { initialWindowSize: 4096 } } as http2.ClientSessionOptions);
  const received = await new Promise<number>((resolve, reject) => {
    const req = s.request({ ':path': '/big' });
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => resolve(n));
    req.on('error', reject);
  });
  assert.equal(received, body.length);
  await closeSession(s);
  const d = countersSince(before);
  assert.equal(d.floodsDetected, 0);
  assert.equal(d.connectionErrors, 0);
});
