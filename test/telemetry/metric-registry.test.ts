import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import test from 'node:test';
import { Registry } from 'prom-client';
import { MetricRegistry } from '../../src/telemetry/metric-registry.js';
import { ScrapeMetric } from '../../src/telemetry/prom.js';

const metric = (name: string, n: () => number): ScrapeMetric =>
  new ScrapeMetric(name, `Help of ${name}.`, 'counter', () => [{ labels: { service: 'api' }, value: n() }]);

test('metrics registered before and after the first scrape print as a prom-client registry prints them, in registration order', async () => {
  let requests = 0;
  const lazy = new MetricRegistry(false);
  const eager = new Registry();
  for (const r of [lazy, eager]) metric('x_requests_total', () => requests).register(r);
  requests = 7;
  assert.equal(await lazy.metrics(), await eager.metrics());
  for (const r of [lazy, eager]) metric('x_late_total', () => 3).register(r);
  const text = await lazy.metrics();
  assert.equal(text, await eager.metrics());
  assert.match(text, /x_requests_total\{service="api"\} 7\n[^]*# TYPE x_late_total counter\nx_late_total\{service="api"\} 3/);
  assert.equal(await lazy.contentType(), eager.contentType);
  assert.deepEqual(await lazy.getMetricsAsJSON(), await eager.getMetricsAsJSON());
});

test('with process metrics, they come first, as collectDefaultMetrics registered them before the deferral', async () => {
  const lazy = new MetricRegistry(true);
  metric('x_requests_total', () => 1).register(lazy);
  const text = await lazy.metrics();
  assert.ok(text.includes('process_cpu_user_seconds_total'));
  assert.ok(text.indexOf('nodejs_eventloop_lag_seconds') < text.indexOf('x_requests_total'));
});

test('prom-client is loaded by the first scrape, not by registering metrics', () => {
  const registry = new URL('../../src/telemetry/metric-registry.js', import.meta.url).href;
  const prom = new URL('../../src/telemetry/prom.js', import.meta.url).href;
  const script = `
    const { createRequire } = await import('node:module');
    const cache = createRequire(import.meta.url).cache;
    const loaded = () => Object.keys(cache).some((k) => k.includes('/node_modules/prom-client/'));
    const { MetricRegistry } = await import(${JSON.stringify(registry)});
    const { ScrapeMetric } = await import(${JSON.stringify(prom)});
    const r = new MetricRegistry(false);
    new ScrapeMetric('x_total', 'X.', 'counter', () => [{ labels: {}, value: 1 }]).register(r);
    const before = loaded();
    const text = await r.metrics();
    console.log(JSON.stringify({ before, after: loaded(), text }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { before: boolean; after: boolean; text: string };
  assert.deepEqual([out.before, out.after], [false, true]);
  assert.match(out.text, /^# HELP x_total X\.\n# TYPE x_total counter\nx_total 1\n/);
});
