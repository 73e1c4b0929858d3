import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { MAX_LATENCY_US, newHistogram, percentiles } from '../../src/telemetry/latency-histogram.js';

type Hist = { countsArrayIndex(v: number): number; recordValue(v: number): void; autoResize: boolean; totalCount: number };
const Int32Histogram = (createRequire(import.meta.url)('hdr-histogram-js/dist/Int32Histogram.js') as {
  default: new (lo: number, hi: number, digits: number) => Hist;
}).default;

/** A seeded generator (the same values on every run). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
}

test('the integer counter index equals the package index: every value to 70,000, bucket edges to 2^31, fractions, beyond 2^31', () => {
  const ours = newHistogram() as unknown as Hist;
  const theirs = new Int32Histogram(1, 16_384, 2);
  const check = (v: number): void => assert.equal(ours.countsArrayIndex(v), theirs.countsArrayIndex(v), `value ${v}`);
  for (let v = 0; v <= 70_000; v++) check(v);
  for (let p = 0; p <= 33; p++) for (const d of [-1, 0, 1]) if (2 ** p + d >= 0) check(2 ** p + d);
  const rnd = lcg(7);
  for (let i = 0; i < 20_000; i++) {
    check(rnd() * 100); // fractions below one bucket's width
    check(rnd() * MAX_LATENCY_US);
  }
  check(0.25);
  check(2 ** 40 + 3); // past 2^31: the package's own path
});

test('a histogram recording through the integer index reads the same percentiles as the package, also after it grew', () => {
  const ours = newHistogram();
  const theirs = new Int32Histogram(1, 16_384, 2);
  theirs.autoResize = true;
  const rnd = lcg(11);
  for (let i = 0; i < 50_000; i++) {
    // Mostly sub-millisecond, a tail to seconds: the histogram resizes past its initial 16 ms.
    const v = i % 100 === 0 ? Math.floor(rnd() * MAX_LATENCY_US) : Math.floor(200 + rnd() * 800);
    ours.recordValue(v);
    theirs.recordValue(v);
  }
  assert.equal(ours.totalCount, 50_000);
  assert.deepEqual(percentiles(ours), percentiles(theirs as never));
});
