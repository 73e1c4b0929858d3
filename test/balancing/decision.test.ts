import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ZONE_AWARE, EndpointLoad, LeastRequestBalancer, MaglevBalancer, ManualClock, ORCA_DEFAULTS, OrcaState, PeakEwmaBalancer,
  PickDecision, RandomBalancer, RingHashBalancer, RoundRobinBalancer, RULES, SeededRandom, WeightedRoundRobinBalancer, ZoneAwareBalancer,
  decisionJson, decisionSummary, formatDecision, newOrcaReport, type Balanceable, type Clock, type LoadBalancer, type Zoned,
} from '../../src/balancing/index.js';
import { equalEndpoints, makeEndpoints, type TestEndpoint } from './helpers.js';

/** `n` samples of `ms` each on an endpoint's load record. */
function samples(clock: ManualClock, e: Balanceable, ms: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const t = e.load.begin();
    clock.advance(ms);
    e.load.observeRtt(t);
    e.load.end(t, false);
  }
}

function explained<E extends Balanceable>(lb: LoadBalancer<E>, key?: string): { e: E | undefined; d: PickDecision } {
  const d = new PickDecision();
  const e = lb.pick(key, d);
  return { e, d };
}

function chosenId(d: PickDecision): string {
  return d.candidates[d.chosen]!.id;
}

test('decision: peak-ewma names the rule that won and the inputs of both candidates', () => {
  const clock = new ManualClock(0);
  const eps = equalEndpoints(clock, 2);
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(3) });
  lb.update(eps);
  // Nothing measured yet, one request in flight on ep-0: near-equal, fewer in flight wins.
  const t = eps[0]!.load.begin();
  let { e, d } = explained(lb);
  assert.equal(d.policy, 'peak-ewma');
  assert.equal(d.rule, RULES.nearEqualFewer);
  assert.equal(d.count, 2);
  assert.equal(e, eps[1]);
  assert.equal(chosenId(d), 'ep-1');
  assert.deepEqual([...d.candidates.slice(0, 2)].map((c) => c.pending).sort(), [0, 1]);
  eps[0]!.load.end(t, false);
  // Both idle and unmeasured: the one picked less recently (ep-0) wins.
  ({ e, d } = explained(lb));
  assert.equal(d.rule, RULES.nearEqualLeastRecent);
  assert.equal(e, eps[0]);
  // ep-0 answers in 5 ms, ep-1 in 50 ms, steadily: latency cost, and ep-0's cost is the lower.
  samples(clock, eps[0]!, 5, 6);
  samples(clock, eps[1]!, 50, 6);
  ({ e, d } = explained(lb));
  assert.equal(d.rule, RULES.latencyCost);
  assert.equal(e, eps[0]);
  const fast = d.candidates[d.chosen]!;
  const slow = d.candidates[1 - d.chosen]!;
  assert.equal(fast.latencyMs, 5);
  assert.equal(slow.latencyMs, 50);
  assert.ok(fast.deviationMs < 1 && fast.cost < slow.cost, `${fast.cost} < ${slow.cost}`);
  assert.equal(decisionSummary(d), RULES.latencyCost);
});

test('decision: explaining a pick never changes it (same seed, same picks with and without a record)', () => {
  for (const policy of ['peak-ewma', 'least-request'] as const) {
    const picks: string[][] = [];
    for (const explain of [false, true]) {
      const clock = new ManualClock(0);
      const eps = equalEndpoints(clock, 5);
      const random = new SeededRandom(17);
      const lb: LoadBalancer<TestEndpoint> = policy === 'peak-ewma' ? new PeakEwmaBalancer({ clock, random }) : new LeastRequestBalancer({ clock, random });
      lb.update(eps);
      const out: string[] = [];
      const open: { e: TestEndpoint; t: number }[] = [];
      const d = new PickDecision();
      for (let i = 0; i < 2000; i++) {
        clock.advance(1);
        d.reset();
        const e = explain ? lb.pick(undefined, d)! : lb.pick()!;
        if (explain) assert.equal(chosenId(d), e.id);
        out.push(e.id);
        open.push({ e, t: e.load.begin() });
        if (open.length > 3) {
          const r = open.shift()!;
          clock.advance(r.e.id === 'ep-2' ? 20 : 2);
          r.e.load.observeRtt(r.t);
          r.e.load.end(r.t, false);
        }
      }
      picks.push(out);
    }
    assert.deepEqual(picks[1], picks[0], policy);
  }
});

test('decision: least-request lists the candidates drawn with their in-flight counts; weighted endpoints report weight / (in flight + 1)', () => {
  const clock = new ManualClock(0);
  const eps = equalEndpoints(clock, 6);
  eps[0]!.load.begin();
  eps[0]!.load.begin();
  const lb = new LeastRequestBalancer<TestEndpoint>({ clock, random: new SeededRandom(5), choiceCount: 3 });
  lb.update(eps);
  for (let i = 0; i < 20; i++) {
    const { e, d } = explained(lb);
    assert.equal(d.rule, RULES.fewerInFlight);
    assert.equal(d.count, 3);
    assert.equal(new Set(d.candidates.slice(0, 3).map((c) => c.id)).size, 3, 'distinct candidates');
    const min = Math.min(...d.candidates.slice(0, 3).map((c) => c.pending));
    assert.equal(chosenId(d), e!.id);
    assert.equal(d.candidates[d.chosen]!.pending, min);
  }
  const weighted = new LeastRequestBalancer<TestEndpoint>({ clock, random: new SeededRandom(5) });
  const ws = makeEndpoints(clock, [1, 3]);
  weighted.update(ws);
  const { e, d } = explained(weighted);
  assert.equal(d.rule, RULES.leastRequestWeighted);
  assert.equal(d.count, 1);
  assert.equal(chosenId(d), e!.id);
  assert.equal(d.candidates[0]!.cost, 1 / d.candidates[0]!.weight);
});

test('decision: round-robin, random and a single endpoint', () => {
  const clock = new ManualClock(0);
  const eps = equalEndpoints(clock, 3);
  const rr = new RoundRobinBalancer<TestEndpoint>();
  rr.update(eps);
  for (let i = 0; i < 3; i++) {
    const { e, d } = explained(rr);
    assert.deepEqual([d.policy, d.rule, d.count, chosenId(d)], ['round-robin', RULES.roundRobin, 1, e!.id]);
  }
  const random = new RandomBalancer<TestEndpoint>({ clock, random: new SeededRandom(1) });
  random.update(makeEndpoints(clock, [1, 2]));
  const r = explained(random);
  assert.equal(r.d.rule, RULES.randomWeighted);
  assert.equal(chosenId(r.d), r.e!.id);
  rr.update(eps.slice(0, 1));
  assert.equal(explained(rr).d.rule, RULES.only);
});

test('decision: weighted-round-robin reports the ORCA weight it used', () => {
  const clock = new ManualClock(0);
  const eps = equalEndpoints(clock, 3);
  const settings = { ...ORCA_DEFAULTS, blackoutPeriod: 0 };
  const utilization = [0.9, 0.3, 0.3];
  eps.forEach((e, i) => {
    e.load.orca = new OrcaState(settings, clock);
    e.load.orca.record({ ...newOrcaReport(), cpuUtilization: utilization[i]!, rpsFractional: 90 });
  });
  const lb = new WeightedRoundRobinBalancer<TestEndpoint>({ clock });
  lb.update(eps);
  const seen = new Map<string, number>();
  for (let i = 0; i < 7; i++) {
    const { e, d } = explained(lb);
    assert.equal(d.rule, RULES.weightedRoundRobinOrca);
    const c = d.candidates[d.chosen]!;
    assert.equal(c.id, e!.id);
    seen.set(c.id, c.weight);
    assert.equal(c.utilization, utilization[Number(c.id.slice(3))]);
  }
  assert.ok(Math.abs(seen.get('ep-0')! - 100) < 1e-9, `ep-0 weight ${seen.get('ep-0')}`);
  assert.ok(Math.abs(seen.get('ep-1')! - 300) < 1e-9);
  // Without reports: the configured weights, and the plain rule.
  const plain = new WeightedRoundRobinBalancer<TestEndpoint>({ clock });
  plain.update(makeEndpoints(clock, [2, 1]));
  assert.equal(explained(plain).d.rule, RULES.weightedRoundRobin);
});

test('decision: hash policies record the key and its owner; without a key, the fallback explains', () => {
  const clock = new ManualClock(0);
  const eps = equalEndpoints(clock, 4);
  for (const lb of [
    new RingHashBalancer<TestEndpoint>({ fallback: new RoundRobinBalancer() }),
    new MaglevBalancer<TestEndpoint>({ fallback: new RoundRobinBalancer(), tableSize: 251 }),
  ]) {
    lb.update(eps);
    const { e, d } = explained(lb, 'user-42');
    assert.deepEqual([d.policy, d.rule, d.hashKey, chosenId(d)], [lb.name, RULES.hash, 'user-42', e!.id]);
    assert.equal(e, lb.pick('user-42'), 'same owner without a record');
    assert.match(formatDecision(decisionJson(d)), /^hash: key → endpoint \(key "user-42"\) \| \*ep-\d/);
    const f = explained(lb);
    assert.deepEqual([f.d.policy, f.d.rule, f.d.hashKey], ['round-robin', RULES.roundRobin, undefined]);
  }
});

class ZonedEndpoint implements Zoned {
  readonly load: EndpointLoad;
  readonly weight = 1;
  readonly readySince = 0;
  readonly forZones: readonly string[] = [];
  constructor(readonly id: string, readonly zone: string, clock: Clock) {
    this.load = new EndpointLoad(clock);
  }
}

test('decision: zone-aware says local with the zone load, or spill with its probability, and the inner rule', () => {
  const clock = new ManualClock(0);
  const eps = ['a', 'a', 'b', 'b'].map((z, i) => new ZonedEndpoint(`${z}${i}`, z, clock));
  const random = new SeededRandom(9);
  const options = { ...DEFAULT_ZONE_AWARE, mode: 'on' as const, endpointCapacity: 10, spillThreshold: 0.5 };
  const lb = new ZoneAwareBalancer(new PeakEwmaBalancer<ZonedEndpoint>({ clock, random }), new PeakEwmaBalancer<ZonedEndpoint>({ clock, random }), random, 'a', options);
  lb.update(eps);
  let { e, d } = explained(lb);
  assert.equal(d.zone, 'local');
  assert.equal(d.zoneLoad, 0);
  assert.equal(e!.zone, 'a');
  assert.ok(d.candidates.slice(0, d.count).every((c) => c.zone === 'a'));
  assert.match(decisionSummary(d), /^zone: local \(load 0 ≤ 0\.5\); p2c: near-equal/);
  // 8 of 10 in flight on each local endpoint: load 0.8, spill (0.8 − 0.5) / 0.5 = 0.6.
  for (const x of eps.slice(0, 2)) for (let i = 0; i < 8; i++) x.load.begin();
  let spills = 0;
  for (let i = 0; i < 200; i++) {
    ({ e, d } = explained(lb));
    assert.ok(Math.abs(d.spill - 0.6) < 1e-9);
    if (d.zone === 'spill') {
      spills++;
      assert.equal(decisionSummary(d).split(';')[0], 'zone: spill (p=0.6)');
    } else {
      assert.equal(d.zone, 'local');
      assert.match(decisionSummary(d), /^zone: local \(load 0\.8 > 0\.5, spill p=0\.6 not drawn\)/);
    }
    assert.equal(chosenId(d), e!.id);
  }
  assert.ok(spills > 80 && spills < 160, `${spills} spills of 200 at p = 0.6`);
  // A hash key bypasses the zone choice.
  assert.equal(explained(lb, 'k').d.zone, '');
});

test('decision: JSON and one-line forms carry every input the policy used, and nothing it did not', () => {
  const clock = new ManualClock(0);
  const eps = equalEndpoints(clock, 2);
  samples(clock, eps[0]!, 4, 5);
  samples(clock, eps[1]!, 40, 5);
  const lb = new PeakEwmaBalancer<TestEndpoint>({ clock, random: new SeededRandom(2) });
  lb.update(eps);
  const d = new PickDecision();
  lb.pick(undefined, d);
  d.avoided = 'ep-9';
  d.panic = true;
  const j = decisionJson(d);
  assert.equal(j.chosen, 'ep-0');
  assert.equal(j.summary, `panic; retry avoided ep-9; ${RULES.latencyCost}`);
  assert.deepEqual(Object.keys(j.candidates[0]!).sort(), ['cost', 'deviationMs', 'id', 'latencyMs', 'pending', 'weight']);
  const line = formatDecision(j);
  assert.match(line, /^panic; retry avoided ep-9; p2c: latency cost \| /);
  assert.match(line, /\*ep-0 lat=4±[\d.]+ms q=0 w=1 cost=4( |$)/);
  assert.match(line, /ep-1 lat=40±[\d.]+ms q=0 w=1 cost=40( |$)/);
  // A reused record forgets the previous pick.
  d.reset();
  assert.deepEqual([d.count, d.chosen, d.avoided, d.panic, d.rule], [0, -1, '', false, '']);
});
