import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkClaims } from '../../src/demo/claims.js';
import type { PhaseResult } from '../../src/demo/phases.js';
import { claimsText } from '../../src/demo/report.js';

const phase = (name: PhaseResult['name'], counts: Record<string, number>, extra: Partial<PhaseResult> = {}): PhaseResult => ({
  name,
  calls: Object.values(counts).reduce((a, b) => a + b, 0) + (extra.failed ?? 0),
  counts,
  failed: 0,
  p99Ms: 1,
  ...extra,
});

const holding = (): PhaseResult[] => [
  phase('l4', { 'square-a': 0, 'square-b': 300, 'square-c': 0 }),
  phase('per-request', { 'square-a': 276, 'square-b': 324, 'square-c': 300 }),
  phase('slow', { 'square-a': 700, 'square-b': 74, 'square-c': 726 }, { slowReplica: 'square-b' }),
  phase('kill', { 'square-a': 500, 'square-b': 250, 'square-c': 150 }, { killed: 'square-c' }),
  phase('scale-out', { 'square-a': 400, 'square-b': 400, 'square-c': 0, 'square-d': 100, 'square-e': 100 }),
];

test('demo claims: all hold at their limits', () => {
  const claims = checkClaims(holding());
  assert.deepEqual(claims.map((c) => [c.phase, c.holds]), [['l4', true], ['per-request', true], ['slow', true], ['kill', true], ['scale-out', true]]);
  assert.equal(claimsText(claims), 'All 5 claims hold.\n');
});

test('demo claims: each one past its limit fails and is named with what was measured', () => {
  const broken = holding();
  broken[0] = phase('l4', { 'square-a': 299, 'square-b': 1, 'square-c': 0 });
  broken[1] = phase('per-request', { 'square-a': 275, 'square-b': 325, 'square-c': 300 });
  broken[2] = phase('slow', { 'square-a': 700, 'square-b': 75, 'square-c': 725 }, { slowReplica: 'square-b' });
  broken[3] = phase('kill', { 'square-a': 500, 'square-b': 250, 'square-c': 149 }, { killed: 'square-c', failed: 1, errors: { '14 UNAVAILABLE: reset': 1 } });
  broken[4] = phase('scale-out', { 'square-a': 401, 'square-b': 400, 'square-c': 0, 'square-d': 99, 'square-e': 100 });
  const claims = checkClaims(broken);
  assert.ok(claims.every((c) => !c.holds), JSON.stringify(claims));
  const text = claimsText(claims);
  for (const p of ['l4', 'per-request', 'slow', 'kill', 'scale-out']) assert.match(text, new RegExp(`^claim failed: ${p}: `, 'm'));
  assert.match(text, /square-b 75 of 1500 \(5\.0%\)/);
  assert.match(text, /1 of 900 failed: 14 UNAVAILABLE: reset/);
  assert.match(text, /square-d 9\.9%, square-e 10\.0%/);
});
