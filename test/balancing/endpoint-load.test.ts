import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { EndpointLoad } from '../../src/balancing/endpoint-load.js';

function sample(load: EndpointLoad, clock: ManualClock, rtt: number, failed = false): void {
  const t = load.begin();
  clock.advance(rtt);
  if (!failed) load.observeRtt(t);
  load.end(t, failed);
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);

test('EndpointLoad: starts at the default RTT, counts pending', () => {
  const clock = new ManualClock(1000);
  const load = new EndpointLoad(clock, { defaultRttMs: 25 });
  assert.equal(load.rttEstimate(), 25);
  assert.equal(load.cost(), 25);
  const a = load.begin();
  const b = load.begin();
  assert.equal(a, 1000);
  assert.equal(load.pending, 2);
  assert.equal(load.cost(), 75);
  load.end(a, false);
  load.end(b, false);
  load.end(b, false); // extra end never goes negative
  assert.equal(load.pending, 0);
});

test('EndpointLoad: a slower sample raises the estimate at once (peak)', () => {
  const clock = new ManualClock();
  const load = new EndpointLoad(clock, { defaultRttMs: 10, decayMs: 10_000 });
  sample(load, clock, 500);
  assert.equal(load.rttEstimate(), 500);
});

test('EndpointLoad: faster samples pull the estimate down per the decay window', () => {
  const clock = new ManualClock();
  const decay = 1000;
  const load = new EndpointLoad(clock, { defaultRttMs: 10, decayMs: decay });
  sample(load, clock, 400); // estimate 400 at t=400
  // one decay window later a 10 ms sample arrives
  clock.advance(decay - 10);
  const t = load.begin();
  clock.advance(10);
  load.observeRtt(t);
  load.end(t, false);
  const w = Math.exp(-1);
  close(load.rttEstimate(), 400 * w * w + 10 * (1 - w), 'after one window');
  assert.ok(load.rttEstimate() < 400 && load.rttEstimate() > 10);
  // a quick succession of fast samples barely moves it (weight of the sample ~ elapsed / decay)
  const before = load.rttEstimate();
  sample(load, clock, 1);
  assert.ok(load.rttEstimate() > before * 0.99, `${load.rttEstimate()} vs ${before}`);
  // many windows of fast samples converge to the sample
  for (let i = 0; i < 200; i++) sample(load, clock, 50);
  for (let i = 0; i < 50; i++) {
    clock.advance(200);
    sample(load, clock, 10);
  }
  assert.ok(load.rttEstimate() < 12, `converged to ${load.rttEstimate()}`);
});

test('EndpointLoad: the estimate decays towards zero while idle', () => {
  const clock = new ManualClock();
  const load = new EndpointLoad(clock, { defaultRttMs: 10, decayMs: 1000 });
  sample(load, clock, 100);
  clock.advance(1000);
  close(load.rttEstimate(), 100 * Math.exp(-1), 'one window idle');
  clock.advance(1000);
  close(load.rttEstimate(), 100 * Math.exp(-2), 'two windows idle');
});

test('EndpointLoad: failure penalty never lowers the estimate and makes fast failures look slow', () => {
  const clock = new ManualClock();
  const load = new EndpointLoad(clock, { defaultRttMs: 10, decayMs: 10_000, failurePenaltyMs: 1000 });
  sample(load, clock, 1, true); // fails in 1 ms, no response
  assert.equal(load.rttEstimate(), 1000);
  sample(load, clock, 1, true); // doubles: 2 × ~1000
  assert.ok(load.rttEstimate() > 1900, `${load.rttEstimate()}`);
  // capped at 30 × failurePenaltyMs
  for (let i = 0; i < 20; i++) sample(load, clock, 1, true);
  assert.ok(load.rttEstimate() <= 30_000);
  assert.ok(load.rttEstimate() > 29_000);

  // A failure on an endpoint whose estimate is above the penalty cap leaves it unchanged.
  const slow = new EndpointLoad(clock, { defaultRttMs: 10, decayMs: 10_000, failurePenaltyMs: 10 });
  sample(slow, clock, 5000);
  const before = slow.rttEstimate();
  sample(slow, clock, 0, true);
  assert.ok(slow.rttEstimate() >= before * Math.exp(-0 / 10_000) - 1e-9);
  // failure with a response (observeRtt then end(failed)) also never lowers it
  const t = slow.begin();
  slow.observeRtt(t);
  const mid = slow.rttEstimate();
  slow.end(t, true);
  assert.ok(slow.rttEstimate() >= mid);
});

test('EndpointLoad: rejects invalid options', () => {
  const clock = new ManualClock();
  assert.throws(() => new EndpointLoad(clock, { decayMs: 0 }), RangeError);
  assert.throws(() => new EndpointLoad(clock, { defaultRttMs: -1 }), RangeError);
});
