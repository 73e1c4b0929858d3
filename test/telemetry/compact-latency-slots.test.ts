import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactBucket, compactBucketHighest } from '../../src/telemetry/compact-latency-slots.js';
import { MAX_LATENCY_US, mergedPercentiles, Outcome, WindowStats, type Percentiles } from '../../src/telemetry/window-stats.js';

/** A seeded generator (the same latencies on every run). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
}

function assertClose(compact: Percentiles, exact: Percentiles, what: string): void {
  for (const k of ['p50', 'p95', 'p99', 'p999'] as const) {
    const c = compact[k]!;
    const e = exact[k]!;
    // Never below the exact histogram's figure (both report a bucket's highest value), at most 7 % above.
    assert.ok(c >= e * 0.99 && c <= e * 1.07, `${what} ${k}: compact ${c}, exact ${e}`);
  }
  assert.equal(compact.max, exact.max, `${what} max`);
}

test('buckets cover 1 µs to 60 s contiguously, each value inside its bucket, 16 per power of two', () => {
  let prevHighest = -1;
  for (let b = 0; b <= compactBucket(MAX_LATENCY_US); b++) {
    const hi = compactBucketHighest(b);
    assert.ok(hi > prevHighest, `bucket ${b}`);
    assert.equal(compactBucket(prevHighest + 1), b);
    assert.equal(compactBucket(hi), b);
    if (hi >= 32) assert.ok((hi - prevHighest) / (prevHighest + 1) <= 1 / 16, `bucket ${b} width`);
    prevHighest = hi;
  }
  assert.ok(compactBucket(MAX_LATENCY_US) < 368);
});

test('an endpoint series reports the 10 s and 1 min percentiles within 7 % of the exact windows, and the same counts', () => {
  const compact = new WindowStats(true);
  const exact = new WindowStats();
  const rnd = lcg(7);
  // 75 s of traffic: old seconds and periods must leave the windows as they do for the exact ones.
  for (let sec = 1000; sec < 1075; sec++) {
    const n = sec % 13 === 0 ? 0 : 5 + Math.floor(rnd() * 40);
    for (let i = 0; i < n; i++) {
      const slow = rnd() < 0.02;
      const us = slow ? 40_000 + Math.floor(rnd() * 2_000_000) : 300 + Math.floor(rnd() * rnd() * 8_000);
      const outcome = rnd() < 0.05 ? Outcome.FAILURE : Outcome.SUCCESS;
      compact.record(sec, us, outcome);
      exact.record(sec, us, outcome);
    }
    for (const windowSec of [10, 60]) {
      const nowMs = sec * 1000 + 400;
      const c = compact.snapshot(nowMs, windowSec, 1e6);
      const e = exact.snapshot(nowMs, windowSec, 1e6);
      assert.deepEqual({ ...c, latencyMs: null }, { ...e, latencyMs: null }, `second ${sec} window ${windowSec}`);
      if (e.latencyMs.p50 === null) assert.equal(c.latencyMs.p50, null);
      else assertClose(c.latencyMs, e.latencyMs, `second ${sec} window ${windowSec}`);
    }
  }
  // Read later without new records: the windows empty out as the exact ones do.
  for (const [nowMs, windowSec] of [[1080_000, 10], [1086_000, 10], [1100_000, 60], [1140_000, 60]] as const) {
    const c = compact.snapshot(nowMs, windowSec, 1e6).latencyMs;
    const e = exact.snapshot(nowMs, windowSec, 1e6).latencyMs;
    if (e.p50 === null) assert.equal(c.p50, null, `${nowMs} ${windowSec}`);
    else assertClose(c, e, `${nowMs} ${windowSec}`);
  }
  assert.equal(compact.snapshot(1086_000, 10, 1e6).latencyMs.p50, null);
  assert.equal(compact.snapshot(1140_000, 60, 1e6).latencyMs.p50, null);
});

test('an endpoint window exported for worker mode merges like one process recording every request', () => {
  const a = new WindowStats(true);
  const b = new WindowStats(true);
  const rnd = lcg(11);
  for (let sec = 200; sec < 230; sec++) {
    for (let i = 0; i < 20; i++) {
      a.record(sec, 500 + Math.floor(rnd() * 3_000), Outcome.SUCCESS);
      b.record(sec, 900 + Math.floor(rnd() * 90_000), Outcome.SUCCESS);
    }
  }
  for (const windowSec of [10, 60]) {
    const merged = mergedPercentiles([WindowStats.exported([a], 229_500, windowSec, 1e6).latencyHistogram, WindowStats.exported([b], 229_500, windowSec, 1e6).latencyHistogram]);
    assert.deepEqual(merged, WindowStats.combined([a, b], 229_500, windowSec, 1e6).latencyMs);
  }
});

test('a series that never recorded keeps no latency slots and reports none', () => {
  const w = new WindowStats(true);
  const s = w.snapshot(5_000, 60, 1e6);
  assert.equal(s.requests, 0);
  assert.deepEqual(s.latencyMs, { p50: null, p95: null, p99: null, p999: null, max: null });
  assert.deepEqual(WindowStats.exported([w], 5_000, 10, 1e6).latencyHistogram, { counts: [], maxUs: 0 });
});
