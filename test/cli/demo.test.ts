import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli-process.js';

interface Phase {
  name: string;
  calls: number;
  counts: Record<string, number>;
  failed: number;
  p99Ms: number;
  slowReplica?: string;
  killed?: string;
  inFlightAtKill?: number;
  added?: string[];
}

interface Story {
  phases: Phase[];
  claims: { phase: string; claim: string; holds: boolean; measured: string }[];
  ok: boolean;
  seed: number;
  durationMs: number;
}

const share = (p: Phase, r: string): number => (p.counts[r] ?? 0) / p.calls;

test('demo --json: one line; L4 pins the connection to one replica, Switchyard spreads it, avoids a slow replica, loses no call to a killed one and gives new ones their share', async () => {
  const r = await runCli(['demo', '--json'], 120_000);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.out);
  const story = JSON.parse(lines[0]!) as Story;
  assert.deepEqual(story.phases.map((p) => p.name), ['l4', 'per-request', 'slow', 'kill', 'scale-out']);
  const [l4, even, slow, kill, out] = story.phases as [Phase, Phase, Phase, Phase, Phase];
  const three = ['square-a', 'square-b', 'square-c'];
  for (const p of [l4, even, slow, kill]) assert.deepEqual(Object.keys(p.counts), three, p.name);
  assert.deepEqual(Object.keys(out.counts), [...three, 'square-d', 'square-e']);
  for (const p of story.phases) {
    assert.equal(Object.values(p.counts).reduce((a, b) => a + b, 0) + p.failed, p.calls, `${p.name}: every call answered or failed`);
    assert.ok(p.p99Ms > 0, p.name);
  }

  // The claims, checked here from the counts rather than taken from the demo's word.
  assert.deepEqual(Object.values(l4.counts).sort((a, b) => b - a), [l4.calls, 0, 0]);
  for (const n of three) assert.ok(Math.abs(share(even, n) - 1 / 3) <= 0.08 / 3, `per-request ${n}: ${JSON.stringify(even.counts)}`);
  assert.equal(slow.slowReplica, 'square-b');
  assert.ok(share(slow, 'square-b') < 0.05, `slow: ${JSON.stringify(slow.counts)}`);
  assert.equal(kill.killed, 'square-c');
  assert.equal(kill.failed, 0);
  assert.ok(kill.counts['square-c']! > 0 && kill.inFlightAtKill! > 0, 'killed mid-traffic, with calls in flight');
  assert.deepEqual(out.added, ['square-d', 'square-e']);
  for (const n of out.added!) assert.ok(share(out, n) >= 0.1, `scale-out ${n}: ${JSON.stringify(out.counts)}`);
  assert.equal(out.counts['square-c'], 0);
  for (const p of story.phases) assert.equal(p.failed, 0, p.name);

  assert.equal(story.ok, true);
  assert.equal(story.claims.length, 5);
  assert.ok(story.claims.every((c) => c.holds));
});
