import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { compactParts, mergeMetrics, retiredPart } from '../../src/telemetry/cluster-merge-metrics.js';
import { mergeEntries, type EntryExport } from '../../src/telemetry/cluster-merge-stats.js';
import { combineEndpointStates, mergeTopology, type TopologyExport } from '../../src/telemetry/cluster-merge-topology.js';
import { histogramSamples, ScrapeMetric, type Sample } from '../../src/telemetry/prom.js';
import { mergedPercentiles, Outcome, WindowStats } from '../../src/telemetry/window-stats.js';
import { samples, sum } from './harness.js';

/** Seeded LCG: the same latencies every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const NOW = 100_500; // ms of performance.now(): second 100
const SEC = 100;

function entry(name: string, w: WindowStats, extra: Partial<EntryExport> = {}): EntryExport {
  return { name, ...WindowStats.exported([w], NOW, 10, 1000), total: { requests: w.total, failures: w.totalFailures, cancelled: 0, refused: 0, failureReasons: {} }, ...extra };
}

test('merged percentiles of two workers equal the percentiles of the union, not an average', () => {
  const rnd = random(7);
  const a = new WindowStats();
  const b = new WindowStats();
  const union = new WindowStats();
  // Worker a: 1,000 fast requests (~1 ms); worker b: 60 slow ones (50-150 ms).
  for (let i = 0; i < 1000; i++) {
    const us = 800 + Math.floor(rnd() * 400);
    a.record(SEC - (i % 5), us, Outcome.SUCCESS);
    union.record(SEC - (i % 5), us, Outcome.SUCCESS);
  }
  for (let i = 0; i < 60; i++) {
    const us = 50_000 + Math.floor(rnd() * 100_000);
    b.record(SEC - (i % 5), us, Outcome.SUCCESS);
    union.record(SEC - (i % 5), us, Outcome.SUCCESS);
  }
  const ea = WindowStats.exported([a], NOW, 10, 1000);
  const eb = WindowStats.exported([b], NOW, 10, 1000);
  const merged = mergedPercentiles([ea.latencyHistogram, eb.latencyHistogram]);
  assert.deepEqual(merged, union.snapshot(NOW, 10, 1000).latencyMs);
  assert.deepEqual(merged, WindowStats.combined([a, b], NOW, 10, 1000).latencyMs);
  // 60 of 1,060 are slow: the median is a fast one, p99 a slow one; averaging the workers' medians is wrong by 50x.
  assert.ok(merged.p50! < 1.3, `p50 ${merged.p50}`);
  assert.ok(merged.p99! >= 50, `p99 ${merged.p99}`);
  assert.ok((ea.latencyMs.p50! + eb.latencyMs.p50!) / 2 > 40);
  assert.equal(merged.max, Math.max(ea.latencyMs.max!, eb.latencyMs.max!));
  assert.deepEqual(mergedPercentiles([]), { p50: null, p95: null, p99: null, p999: null, max: null });
});

test('merged stats entries add counts, rates and status codes and recompute the success rate', () => {
  const a = new WindowStats();
  const b = new WindowStats();
  for (let i = 0; i < 30; i++) a.record(SEC, 1000, Outcome.SUCCESS);
  for (let i = 0; i < 10; i++) b.record(SEC, 2000, i < 5 ? Outcome.SUCCESS : Outcome.FAILURE, i < 5 ? 0 : 1);
  const m = mergeEntries([
    entry('edge', a, { statusCodes: { 200: 30 }, grpcStatuses: {} }),
    entry('edge', b, { statusCodes: { 200: 5, 503: 5 }, grpcStatuses: {} }),
  ]);
  assert.equal(m.requests, 40);
  assert.equal(m.successes, 35);
  assert.equal(m.failures, 5);
  assert.equal(m.successRate, 35 / 40);
  assert.equal(m.total.requests, 40);
  assert.deepEqual(m.statusCodes, { 200: 35, 503: 5 });
  assert.equal(m.rps, WindowStats.combined([a], NOW, 10, 1000).rps + WindowStats.combined([b], NOW, 10, 1000).rps);
  assert.equal(m.latencyMs.p50, WindowStats.combined([a, b], NOW, 10, 1000).latencyMs.p50);
  assert.equal('latencyHistogram' in m, false);
});

test('an endpoint seen differently by workers shows the most severe state, with each worker\'s view', () => {
  const c = combineEndpointStates([
    { worker: 0, state: 'ready', cause: null },
    { worker: 1, state: 'ejected', cause: '5 consecutive failures' },
  ]);
  assert.equal(c.state, 'ejected');
  assert.equal(c.cause, '5 consecutive failures');
  assert.deepEqual(c.workers.map((w) => w.state), ['ready', 'ejected']);
  const ep = (state: string) => ({ id: 'e1', state, cause: null, weight: 1, terminating: false });
  const part = (worker: number, state: string, available: boolean): { worker: number; pid: number; body: TopologyExport } => ({
    worker,
    pid: 100 + worker,
    body: {
      listeners: [{ name: 'edge' }],
      services: [{ name: 'web', available, panicMode: false, discovery: { kind: 'static', description: '', healthy: true, lastError: null, lastUpdate: null, updates: 0, errors: 0 }, endpoints: [ep(state)] }],
    },
  });
  const t = mergeTopology([part(0, 'ready', true), part(1, 'connecting', false)]) as { services: { available: boolean; endpoints: { state: string; workers: unknown[] }[] }[] };
  assert.equal(t.services[0]!.available, false);
  assert.equal(t.services[0]!.endpoints[0]!.state, 'connecting');
  assert.equal(t.services[0]!.endpoints[0]!.workers.length, 2);
});

/** A worker's registry with a counter, a histogram, an additive gauge and two gauges with their own rules. */
async function workerMetrics(requests: number, latencies: number[], pending: number, estimate: number, healthy: number) {
  const reg = new Registry();
  new ScrapeMetric('switchyard_requests_total', 'r', 'counter', () => [{ labels: { service: 'web' }, value: requests }]).register(reg);
  new ScrapeMetric('switchyard_request_duration_seconds', 'd', 'histogram', () => {
    const counts = new Float64Array(18);
    let total = 0;
    for (const s of latencies) {
      counts[s < 0.001 ? 3 : 9]!++;
      total += s;
    }
    const out: Sample[] = [];
    histogramSamples('switchyard_request_duration_seconds', { service: 'web' }, counts, total, latencies.length, out);
    return out;
  }).register(reg);
  new ScrapeMetric('switchyard_endpoint_pending_requests', 'p', 'gauge', () => [{ labels: { endpoint: 'e1' }, value: pending }]).register(reg);
  new ScrapeMetric('switchyard_endpoint_latency_estimate_seconds', 'e', 'gauge', () => [{ labels: { endpoint: 'e1' }, value: estimate }]).register(reg);
  new ScrapeMetric('switchyard_discovery_healthy', 'h', 'gauge', () => [{ labels: { service: 'web' }, value: healthy }]).register(reg);
  new ScrapeMetric('switchyard_build_info', 'b', 'gauge', () => [{ labels: { version: '1.0.0' }, value: 1 }]).register(reg);
  new ScrapeMetric('switchyard_config_reload_total', 'c', 'counter', () => [{ labels: { result: 'success' }, value: 2 }, { labels: { result: 'failure' }, value: healthy === 0 ? 1 : 0 }]).register(reg);
  return reg.getMetricsAsJSON();
}

test('merged metrics: counters and histogram buckets add up; gauges follow their rule', async () => {
  const w0 = await workerMetrics(7, [0.0005, 0.0005, 0.05], 2, 0.004, 1);
  const w1 = await workerMetrics(5, [0.05, 0.05], 3, 0.009, 0);
  const text = await mergeMetrics([w0, w1]).metrics();
  assert.equal(sum(samples(text, 'switchyard_requests_total')), 12);
  assert.equal(sum(samples(text, 'switchyard_request_duration_seconds_count')), 5);
  assert.equal(sum(samples(text, 'switchyard_request_duration_seconds_bucket', { le: '0.001' })), 2);
  assert.equal(sum(samples(text, 'switchyard_request_duration_seconds_bucket', { le: '0.1' })), 5);
  assert.equal(sum(samples(text, 'switchyard_request_duration_seconds_bucket', { le: '+Inf' })), 5);
  assert.ok(Math.abs(sum(samples(text, 'switchyard_request_duration_seconds_sum')) - 0.151) < 1e-9);
  assert.equal(sum(samples(text, 'switchyard_endpoint_pending_requests')), 5);
  assert.equal(sum(samples(text, 'switchyard_endpoint_latency_estimate_seconds')), 0.009);
  assert.equal(sum(samples(text, 'switchyard_discovery_healthy')), 0);
  // One process, one build; a reload reaches every worker and counts once (a failure in any worker shows).
  assert.equal(sum(samples(text, 'switchyard_build_info')), 1);
  assert.equal(sum(samples(text, 'switchyard_config_reload_total', { result: 'success' })), 2);
  assert.equal(sum(samples(text, 'switchyard_config_reload_total', { result: 'failure' })), 1);
});

test('a worker that exits leaves its counters as last scraped: the sums never fall', async () => {
  const w0 = await workerMetrics(10, [0.0005], 1, 0.001, 1);
  const w1 = await workerMetrics(20, [0.05, 0.05], 4, 0.001, 1);
  const before = await mergeMetrics([w0, w1]).metrics();
  assert.equal(sum(samples(before, 'switchyard_requests_total')), 30);
  // Worker 1 exits; its replacement starts from zero; worker 0 served 1 more.
  const retired = await compactParts([retiredPart(w1)]);
  const replacement = await workerMetrics(0, [], 0, 0.001, 1);
  const w0later = await workerMetrics(11, [0.0005, 0.0005], 0, 0.001, 1);
  const after = await mergeMetrics([w0later, replacement, retired]).metrics();
  assert.equal(sum(samples(after, 'switchyard_requests_total')), 31);
  assert.equal(sum(samples(after, 'switchyard_request_duration_seconds_count')), 4);
  // Gauges leave with the worker.
  assert.equal(sum(samples(after, 'switchyard_endpoint_pending_requests')), 0);
  assert.equal(sum(samples(after, 'switchyard_discovery_healthy')), 1);
});
