import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/balancing/index.js';
import { Endpoint, type EndpointOwner } from '../../../src/proxy/endpoint.js';
import { attemptFirstByte, beginAttempt, endAttempt, takeAttempt, type AttemptLoad } from '../../../src/proxy/exchange/attempt-load.js';

function endpoint(clock: ManualClock): { ep: Endpoint; outcomes: boolean[] } {
  const owner: EndpointOwner = { onEndpointStateChange() {} };
  const ep = new Endpoint({ host: '127.0.0.1', port: 1 }, 1, clock, { defaultRttMs: 10 }, owner);
  const outcomes: boolean[] = [];
  ep.outlier = { record: (_e, failed) => void outcomes.push(failed) };
  return { ep, outcomes };
}

function attempt(): AttemptLoad {
  return { endpoint: null, loadStart: 0, firstByteSeen: false };
}

test('an attempt ends once: a second end (a reset after the response ended, a cancel after a failure) changes nothing', () => {
  const clock = new ManualClock(1000);
  const { ep, outcomes } = endpoint(clock);
  const other = attempt();
  beginAttempt(other, ep);
  const a = attempt();
  beginAttempt(a, ep);
  assert.equal(ep.load.pending, 2);
  assert.equal(ep.requestsTotal, 2);
  endAttempt(a, true, true);
  endAttempt(a, true, true);
  endAttempt(a, false, false);
  assert.equal(ep.load.pending, 1, 'only this attempt left the in-flight count');
  assert.equal(ep.failuresTotal, 1);
  assert.deepEqual(outcomes, [true]);
  assert.equal(a.endpoint, null);
});

test('the RTT is sampled at the first response byte only, from the dispatch time', () => {
  const clock = new ManualClock(1000);
  const { ep } = endpoint(clock);
  const a = attempt();
  beginAttempt(a, ep);
  clock.advance(400);
  attemptFirstByte(a);
  const afterFirst = ep.load.cost();
  clock.advance(5000);
  attemptFirstByte(a);
  // A second "first byte" 5 s later would have lifted the peak estimate.
  assert.ok(ep.load.cost() <= afterFirst, `cost ${ep.load.cost()} after ${afterFirst}`);
  assert.ok(afterFirst >= 400, `the 400 ms sample replaced the 10 ms default: ${afterFirst}`);
  endAttempt(a, false, true);
  attemptFirstByte(a);
  assert.equal(ep.load.pending, 0);
});

test('a record handed from a winning hedge to its exchange is ended once, by the exchange', () => {
  const clock = new ManualClock(0);
  const first = endpoint(clock);
  const second = endpoint(clock);
  const exchange = attempt();
  const hedge = attempt();
  beginAttempt(exchange, first.ep);
  beginAttempt(hedge, second.ep);
  hedge.firstByteSeen = true;
  // The first attempt lost: cancelled, not an outcome.
  endAttempt(exchange, false, false);
  takeAttempt(exchange, hedge);
  assert.equal(exchange.endpoint, second.ep);
  assert.equal(exchange.firstByteSeen, false, 'the RTT of the hedge is still to be sampled by the exchange');
  // The hedge's own end (a late cancel) no longer touches the record.
  endAttempt(hedge, true, true);
  endAttempt(exchange, false, true);
  assert.equal(first.ep.load.pending, 0);
  assert.equal(second.ep.load.pending, 0);
  assert.deepEqual(first.outcomes, []);
  assert.deepEqual(second.outcomes, [false]);
  assert.equal(second.ep.failuresTotal, 0);
});
