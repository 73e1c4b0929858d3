import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { RingHashBalancer } from '../../src/balancing/ring-hash.js';
import { MaglevBalancer } from '../../src/balancing/maglev.js';
import { RoundRobinBalancer } from '../../src/balancing/round-robin.js';
import { createBalancer } from '../../src/balancing/registry.js';
import { hashString } from '../../src/balancing/hash.js';
import type { LoadBalancer } from '../../src/balancing/types.js';
import { assertBinomial, equalEndpoints, makeEndpoints, type TestEndpoint } from './helpers.js';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

function assignment(lb: LoadBalancer<TestEndpoint>): string[] {
  return KEYS.map((k) => lb.pick(k)!.id);
}

for (const policy of ['ring-hash', 'maglev'] as const) {
  const make = (): LoadBalancer<TestEndpoint> =>
    createBalancer<TestEndpoint>({ policy }, { clock: new ManualClock(), random: new SeededRandom(1) });

  test(`${policy}: same key, same endpoint; independent of endpoint order`, () => {
    const clock = new ManualClock();
    const eps = equalEndpoints(clock, 10);
    const a = make();
    a.update(eps);
    const b = make();
    b.update([...eps].reverse());
    assert.deepEqual(assignment(a), assignment(b));
  });

  test(`${policy}: removing 1 of 10 endpoints remaps <= 15% of keys`, () => {
    const clock = new ManualClock();
    const eps = equalEndpoints(clock, 10);
    const lb = make();
    lb.update(eps);
    const before = assignment(lb);
    lb.update(eps.filter((e) => e.id !== 'ep-3'));
    const after = assignment(lb);
    let moved = 0;
    let movedFromRemaining = 0;
    let onRemaining = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] !== after[i]) moved++;
      if (before[i] !== 'ep-3') {
        onRemaining++;
        if (before[i] !== after[i]) movedFromRemaining++;
      }
    }
    assert.ok(moved / KEYS.length <= 0.15, `moved ${moved / KEYS.length}`);
    // keys of the remaining endpoints stay (exactly for the ring, nearly for maglev)
    assert.ok(movedFromRemaining / onRemaining <= 0.03, `remaining moved ${movedFromRemaining / onRemaining}`);
    assert.ok(!after.includes('ep-3'));
  });

  test(`${policy}: weights respected, weight 0 gets nothing`, () => {
    const clock = new ManualClock();
    const lb = make();
    lb.update(makeEndpoints(clock, [1, 2, 3, 0]));
    const c = new Map<string, number>();
    for (const id of assignment(lb)) c.set(id, (c.get(id) ?? 0) + 1);
    assert.equal(c.get('ep-3'), undefined);
    const n = KEYS.length;
    // Key hashing adds binomial noise; ring placement adds its own (a few %), so allow ±10% relative on top.
    for (const [i, w] of [[0, 1], [1, 2], [2, 3]] as const) {
      const share = c.get(`ep-${i}`)! / n;
      assert.ok(Math.abs(share - w / 6) <= 0.1 * (w / 6) + 4.5 * Math.sqrt((w / 6) * (1 - w / 6) / n), `ep-${i} share ${share}`);
    }
  });

  test(`${policy}: requests without a key use the fallback policy`, () => {
    const clock = new ManualClock();
    const eps = equalEndpoints(clock, 3);
    const lb = createBalancer<TestEndpoint>({ policy, fallback: 'round-robin' }, { clock, random: new SeededRandom(2) });
    lb.update(eps);
    const seq = Array.from({ length: 6 }, () => lb.pick()!.id);
    // round-robin: each endpoint exactly twice in 6 keyless picks
    for (const e of eps) assert.equal(seq.filter((x) => x === e.id).length, 2);
    // the default fallback (peak-ewma) also spreads keyless requests
    const def = make();
    def.update(eps);
    const c = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const id = def.pick()!.id;
      c.set(id, (c.get(id) ?? 0) + 1);
    }
    assert.equal(c.size, 3);
  });

  test(`${policy}: no endpoints gives undefined`, () => {
    const lb = make();
    lb.update([]);
    assert.equal(lb.pick('x'), undefined);
    assert.equal(lb.pick(), undefined);
  });
}

test('maglev: table shares within 1% of even', () => {
  const clock = new ManualClock();
  const lb = new MaglevBalancer<TestEndpoint>({ fallback: new RoundRobinBalancer() });
  lb.update(equalEndpoints(clock, 10));
  const shares = lb.tableShares();
  for (const [id, slots] of shares) {
    const share = slots / 65537;
    assert.ok(Math.abs(share - 0.1) <= 0.001, `${id} ${share}`);
  }
});

test('maglev: weighted table shares within 1% of weights', () => {
  const clock = new ManualClock();
  const lb = new MaglevBalancer<TestEndpoint>({ fallback: new RoundRobinBalancer() });
  lb.update(makeEndpoints(clock, [1, 2, 3, 4]));
  const shares = lb.tableShares();
  [1, 2, 3, 4].forEach((w, i) => {
    const share = shares.get(`ep-${i}`)! / 65537;
    assert.ok(Math.abs(share - w / 10) <= 0.01, `ep-${i} ${share}`);
  });
});

test('maglev: rejects a non-prime table size', () => {
  assert.throws(() => new MaglevBalancer({ tableSize: 65536, fallback: new RoundRobinBalancer() }), RangeError);
});

test('ring-hash: key spread over equal endpoints is near even with the default ring', () => {
  const clock = new ManualClock();
  const lb = new RingHashBalancer<TestEndpoint>({ fallback: new RoundRobinBalancer() });
  lb.update(equalEndpoints(clock, 10));
  const c = new Map<string, number>();
  for (const id of assignment(lb)) c.set(id, (c.get(id) ?? 0) + 1);
  for (const [id, k] of c) assert.ok(Math.abs(k / KEYS.length - 0.1) < 0.02, `${id} ${k}`);
});

test('hashString: stable values and good spread of sequential keys', () => {
  assert.equal(hashString(''), 0);
  assert.equal(hashString('abc'), hashString('abc'));
  assert.notEqual(hashString('abc', 1), hashString('abc', 2));
  const buckets = new Array<number>(16).fill(0);
  const n = 64_000;
  for (let i = 0; i < n; i++) buckets[hashString(`k${i}`) & 15]!++;
  buckets.forEach((b, i) => assertBinomial(b, n, 1 / 16, `bucket ${i}`));
});
