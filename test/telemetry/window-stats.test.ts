import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_LATENCY_US, mergedPercentiles, Outcome, WindowStats } from '../../src/telemetry/window-stats.js';

const NOW = 100_500; // ms of performance.now(): second 100
const SEC = 100;

test('latencies far beyond the first 16 ms of counters are kept exact to 1 % up to 60 s, also after export and merge', () => {
  const w = new WindowStats();
  // The counters start small and grow with what is recorded: fast ones first, then ever slower ones.
  for (let i = 0; i < 900; i++) w.record(SEC, 1000, Outcome.SUCCESS);
  for (let i = 0; i < 90; i++) w.record(SEC, 250_000, Outcome.SUCCESS);
  for (let i = 0; i < 10; i++) w.record(SEC - 1, 59_000_000, Outcome.SUCCESS);
  w.record(SEC, MAX_LATENCY_US * 10, Outcome.SUCCESS); // clamped
  const s = w.snapshot(NOW, 10, 1000).latencyMs;
  assert.ok(Math.abs(s.p50! - 1) <= 0.01, `p50 ${s.p50}`);
  assert.ok(Math.abs(s.p95! - 250) <= 2.5, `p95 ${s.p95}`);
  assert.ok(Math.abs(s.p999! - 59_000) <= 590, `p99.9 ${s.p999}`);
  assert.equal(s.max, MAX_LATENCY_US / 1000);
  const merged = mergedPercentiles([WindowStats.exported([w], NOW, 10, 1000).latencyHistogram]);
  assert.deepEqual(merged, s);
});
