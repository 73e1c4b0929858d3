import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { createBalancer, endpointLoadOptions, normalizePolicyName, POLICY_NAMES } from '../../src/balancing/registry.js';
import * as api from '../../src/balancing/index.js';
import { equalEndpoints, type TestEndpoint } from './helpers.js';

test('normalizePolicyName: canonical names and aliases', () => {
  const cases: [string, string | undefined][] = [
    ['round-robin', 'round-robin'],
    ['roundRobin', 'round-robin'],
    ['rr', 'round-robin'],
    ['least-request', 'least-request'],
    ['leastRequest', 'least-request'],
    ['least-loaded', 'least-request'],
    ['least-conn', 'least-request'],
    ['peak-ewma', 'peak-ewma'],
    ['ewma', 'peak-ewma'],
    ['ring-hash', 'ring-hash'],
    ['ketama', 'ring-hash'],
    ['maglev', 'maglev'],
    ['weighted-round-robin', 'weighted-round-robin'],
    ['wrr', 'weighted-round-robin'],
    ['random', 'random'],
    ['RING_HASH', 'ring-hash'],
    ['fastest', undefined],
  ];
  for (const [name, want] of cases) assert.equal(normalizePolicyName(name), want, name);
});

test('createBalancer: every policy builds, names itself and picks', () => {
  const clock = new ManualClock();
  const eps = equalEndpoints(clock, 4);
  for (const policy of POLICY_NAMES) {
    const lb = createBalancer<TestEndpoint>({ policy }, { clock, random: new SeededRandom(1) });
    assert.equal(lb.name, policy);
    lb.update(eps);
    assert.ok(eps.includes(lb.pick('k')!));
    assert.ok(eps.includes(lb.pick()!));
  }
});

test('createBalancer: invalid specs throw RangeError', () => {
  const deps = { clock: new ManualClock(), random: new SeededRandom(1) };
  assert.throws(() => createBalancer({ policy: 'nope' as never }, deps), RangeError);
  assert.throws(() => createBalancer({ policy: 'maglev', tableSize: 1000 }, deps), RangeError);
  assert.throws(() => createBalancer({ policy: 'ring-hash', fallback: 'maglev' }, deps), RangeError);
  assert.throws(() => createBalancer({ policy: 'ring-hash', fallback: 'bogus' }, deps), RangeError);
  assert.throws(() => createBalancer({ policy: 'least-request', choiceCount: 1 }, deps), RangeError);
});

test('endpointLoadOptions maps spec fields', () => {
  assert.deepEqual(endpointLoadOptions({ defaultRtt: 50, decay: 5000 }), { defaultRttMs: 50, decayMs: 5000 });
  assert.deepEqual(endpointLoadOptions({}), {});
});

test('index re-exports the public API', () => {
  for (const name of ['createBalancer', 'EndpointLoad', 'FailfastQueue', 'ManualClock', 'monotonicClock', 'mathRandom', 'SeededRandom', 'normalizePolicyName', 'endpointLoadOptions']) {
    assert.ok(name in api, name);
  }
  assert.ok(api.monotonicClock.now() >= 0);
  assert.ok(api.mathRandom.next() < 1);
});

test('SeededRandom: deterministic, in [0,1), roughly uniform', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const x = a.next();
    assert.equal(x, b.next());
    assert.ok(x >= 0 && x < 1);
    buckets[Math.floor(x * 10)]!++;
  }
  for (const k of buckets) assert.ok(Math.abs(k - 10_000) < 4.5 * Math.sqrt(100_000 * 0.1 * 0.9));
  assert.notEqual(new SeededRandom(1).next(), new SeededRandom(2).next());
});
