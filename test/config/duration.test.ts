import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, formatDuration, durationSchema, positiveDurationSchema, MAX_DURATION_MS } from '../../src/config/index.js';

test('parseDuration: units and plain numbers', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('100us'), 0.1);
  assert.equal(parseDuration('100µs'), 0.1);
  assert.equal(parseDuration('100μs'), 0.1);
  assert.equal(parseDuration('500ns'), 0.0005);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1h2m3s4ms'), 3_723_004);
  assert.equal(parseDuration(' 2s '), 2000);
  assert.equal(parseDuration(250), 250);
  assert.equal(parseDuration('250'), 250);
  assert.equal(parseDuration(0), 0);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('0.3s'), 300);
});

test('parseDuration: rejects bad input with a clear message', () => {
  for (const bad of ['', 'abc', '5 seconds', '5x', 's', '5s5', '-1s', '1.2.3s', '5S']) {
    assert.throws(() => parseDuration(bad), /duration/, bad);
  }
  assert.throws(() => parseDuration(-5), /negative/);
  assert.throws(() => parseDuration(Number.NaN), /invalid duration/);
  assert.throws(() => parseDuration('25d'), /invalid duration "25d"/);
  assert.throws(() => parseDuration('1000h'), /too long/);
  assert.equal(parseDuration(MAX_DURATION_MS), MAX_DURATION_MS);
});

test('durationSchema transforms to ms and reports errors', () => {
  assert.equal(durationSchema.parse('10s'), 10_000);
  assert.equal(durationSchema.parse(42), 42);
  const r = durationSchema.safeParse('ten seconds');
  assert.equal(r.success, false);
  assert.match(r.error!.issues[0]!.message, /invalid duration "ten seconds": expected a duration such as "250ms"/);
  assert.equal(durationSchema.safeParse(true).success, false);
  assert.equal(positiveDurationSchema.safeParse('0s').success, false);
  assert.equal(positiveDurationSchema.parse('1ms'), 1);
});

test('formatDuration', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(3_600_000), '1h');
  assert.equal(formatDuration(0.1), '100us');
});
