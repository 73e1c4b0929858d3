import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_ZONE_AWARE, EndpointLoad, ManualClock, PeakEwmaBalancer, RoundRobinBalancer, SeededRandom,
  ZoneAwareBalancer, localEndpoints, spillFraction, zoneLoad, type Clock, type ZoneAwareOptions, type Zoned,
  OrcaState, ORCA_DEFAULTS, newOrcaReport,
} from '../../src/balancing/index.js';
import { parseScenarioYaml } from '../../src/balancing/simulation/scenario.js';
import { simulate } from '../../src/balancing/simulation/simulator.js';
import { assertBinomial } from './helpers.js';

class ZonedEndpoint implements Zoned {
  readonly load: EndpointLoad;
  readonly weight = 1;
  readonly readySince = 0;
  constructor(readonly id: string, readonly zone: string, clock: Clock, public forZones: readonly string[] = []) {
    this.load = new EndpointLoad(clock);
  }
}

/** Three zones (a, b, c) of `perZone` endpoints each. */
function threeZones(clock: Clock, perZone = 2): ZonedEndpoint[] {
  const out: ZonedEndpoint[] = [];
  for (const z of ['a', 'b', 'c']) for (let i = 0; i < perZone; i++) out.push(new ZonedEndpoint(`${z}${i}`, z, clock));
  return out;
}

const ON: ZoneAwareOptions = { ...DEFAULT_ZONE_AWARE, mode: 'on' };

function zoneBalancer(options: ZoneAwareOptions, seed = 1, local = 'a'): ZoneAwareBalancer<ZonedEndpoint> {
  const random = new SeededRandom(seed);
  return new ZoneAwareBalancer(new RoundRobinBalancer<ZonedEndpoint>({ random }), new RoundRobinBalancer<ZonedEndpoint>({ random }), random, local, options);
}

function zoneCounts(lb: ZoneAwareBalancer<ZonedEndpoint>, n: number): Record<string, number> {
  const out: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < n; i++) out[lb.pick()!.zone]!++;
  return out;
}

test('the local set is the endpoints of our zone in mode on, and nothing without a zone or with mode off', () => {
  const clock = new ManualClock(0);
  const eps = threeZones(clock);
  assert.deepEqual(localEndpoints(eps, 'a', ON)?.map((e) => e.id), ['a0', 'a1']);
  assert.equal(localEndpoints(eps, '', ON), undefined);
  assert.equal(localEndpoints(eps, 'a', { ...ON, mode: 'off' }), undefined);
  // auto honours hints only, and these endpoints carry none.
  assert.equal(localEndpoints(eps, 'a', DEFAULT_ZONE_AWARE), undefined);
  // A zone with no endpoint, or fewer than minEndpoints: every zone.
  assert.equal(localEndpoints(eps, 'd', ON), undefined);
  assert.equal(localEndpoints(eps, 'a', { ...ON, minEndpoints: 3 }), undefined);
});

test('topology hints are honoured only when every endpoint has them, as kube-proxy and Linkerd do', () => {
  const clock = new ManualClock(0);
  const eps = threeZones(clock);
  // The controller hints a0 to zone b as well (its zones are unbalanced): hints win over zones.
  for (const e of eps) e.forZones = [e.zone];
  eps[0]!.forZones = ['b'];
  assert.deepEqual(localEndpoints(eps, 'a', DEFAULT_ZONE_AWARE)?.map((e) => e.id), ['a1']);
  assert.deepEqual(localEndpoints(eps, 'b', DEFAULT_ZONE_AWARE)?.map((e) => e.id), ['a0', 'b0', 'b1']);
  // One endpoint without hints: no hint filtering (auto: no preference; on: zones).
  eps[5]!.forZones = [];
  assert.equal(localEndpoints(eps, 'a', DEFAULT_ZONE_AWARE), undefined);
  assert.deepEqual(localEndpoints(eps, 'a', ON)?.map((e) => e.id), ['a0', 'a1']);
});

test('spill is 0 up to the threshold, grows in proportion to the overload and is total at capacity', () => {
  assert.equal(spillFraction(0, 0.7), 0);
  assert.equal(spillFraction(0.7, 0.7), 0);
  assert.ok(Math.abs(spillFraction(0.85, 0.7) - 0.5) < 1e-9);
  assert.equal(spillFraction(1, 0.7), 1);
  assert.equal(spillFraction(3, 0.7), 1);
  assert.ok(Math.abs(spillFraction(1.5, 1) - 0.5) < 1e-9);
  assert.equal(spillFraction(Number.NaN, 0.5), 0);
});

test('zone load is in-flight per endpoint over capacity, or the reported utilization when every endpoint has one and it is higher', () => {
  assert.equal(zoneLoad([{ pending: 3 }, { pending: 5 }], 10), 0.4);
  assert.equal(zoneLoad([], 10), 0);
  assert.equal(zoneLoad([{ pending: 3, utilization: 0.9 }, { pending: 5, utilization: 0.7 }], 10), 0.8);
  // One endpoint without a report (NaN): in-flight only.
  assert.equal(zoneLoad([{ pending: 3, utilization: 0.9 }, { pending: 5, utilization: Number.NaN }], 10), 0.4);
  // The in-flight figure wins when higher.
  assert.equal(zoneLoad([{ pending: 10, utilization: 0.1 }, { pending: 10, utilization: 0.1 }], 10), 1);
});

test('at low load every pick stays in the local zone', () => {
  const clock = new ManualClock(0);
  const lb = zoneBalancer(ON);
  lb.update(threeZones(clock));
  assert.equal(lb.active, true);
  assert.deepEqual(zoneCounts(lb, 1000), { a: 1000, b: 0, c: 0 });
  assert.equal(lb.spills, 0);
});

test('past the threshold the spilled share follows the overload', () => {
  const clock = new ManualClock(0);
  const eps = threeZones(clock);
  const lb = zoneBalancer({ ...ON, endpointCapacity: 10, spillThreshold: 0.7 });
  lb.update(eps);
  // 17 in flight on two local endpoints of capacity 10: load 0.85, spill 0.5;
  // a spilled pick is round robin over six endpoints, a third of them local.
  for (let i = 0; i < 9; i++) eps[0]!.load.begin();
  for (let i = 0; i < 8; i++) eps[1]!.load.begin();
  const n = 6000;
  const c = zoneCounts(lb, n);
  assertBinomial(lb.spills, n, 0.5, 'spilled picks');
  assertBinomial(c.b! + c.c!, n, 0.5 * (2 / 3), 'cross-zone picks');
  // At capacity every pick is balanced over all zones.
  for (let i = 0; i < 3; i++) eps[0]!.load.begin();
  const full = zoneCounts(lb, 600);
  assert.deepEqual(full, { a: 200, b: 200, c: 200 });
});

test('a zone with no pickable endpoint strands nothing: every pick goes to the other zones', () => {
  const clock = new ManualClock(0);
  const eps = threeZones(clock);
  const lb = zoneBalancer(ON);
  lb.update(eps.filter((e) => e.zone !== 'a'));
  assert.equal(lb.active, false);
  const c = zoneCounts(lb, 600);
  assert.equal(c.a, 0);
  assert.equal(c.b! + c.c!, 600);
});

test('hash keys and panic mode bypass the zone preference', () => {
  const clock = new ManualClock(0);
  const eps = threeZones(clock);
  const lb = zoneBalancer(ON);
  lb.update(eps, true);
  assert.equal(lb.active, false);
  assert.ok(zoneCounts(lb, 600).b! > 0);
  lb.update(eps);
  assert.equal(lb.active, true);
  // Round robin ignores the key, but the all-zones policy is the one asked.
  let cross = 0;
  for (let i = 0; i < 600; i++) if (lb.pick(`k${i}`)!.zone !== 'a') cross++;
  assert.ok(cross > 300, `${cross} of 600 keyed picks left zone a`);
});

test('peak-EWMA behind the zone subset steers spilled requests away from a slow local zone', () => {
  const clock = new ManualClock(0);
  const eps = threeZones(clock);
  const random = new SeededRandom(3);
  const lb = new ZoneAwareBalancer(new PeakEwmaBalancer<ZonedEndpoint>({ clock, random }), new PeakEwmaBalancer<ZonedEndpoint>({ clock, random }), random, 'a', { ...ON, endpointCapacity: 1 });
  lb.update(eps);
  // Zone a answers in 50 ms, the others in 5 ms; two requests are stuck in zone a (load 1: all spill).
  for (const e of eps) {
    const t = e.load.begin();
    clock.advance(e.zone === 'a' ? 50 : 5);
    e.load.observeRtt(t);
    e.load.end(t, false);
  }
  eps[0]!.load.begin();
  eps[1]!.load.begin();
  const c = zoneCounts(lb, 1000);
  assert.equal(lb.spills, 1000);
  // Zone a is picked only when P2C draws both of its endpoints (1 in 15 draws).
  assert.ok(c.a! < 110, `zone a got ${c.a} of 1000`);
});

function scenario(file: string) {
  return parseScenarioYaml(readFileSync(join(process.cwd(), 'examples', 'simulate', file), 'utf8'));
}

test('simulator, three zones at low load: at least 90% of requests stay in zone a under every policy', () => {
  const s = { ...scenario('zones-low-load.yaml'), requests: 20_000 };
  for (const r of simulate(s).results) {
    const a = r.groups.find((g) => g.name === 'zone-a')!;
    assert.ok(a.share >= 0.9, `${r.policy}: ${a.share} in zone a`);
    assert.equal(r.errors, 0);
  }
});

test('simulator, zone a saturated: requests spill to zones b and c and latency stays near the unsaturated figure', () => {
  const s = { ...scenario('zones-saturated.yaml'), requests: 20_000 };
  const zoned = simulate(s, { policies: ['peak-ewma'] }).results[0]!;
  const a = zoned.groups.find((g) => g.name === 'zone-a')!;
  assert.ok(a.share < 0.6 && a.share > 0.2, `zone a share ${a.share}`);
  assert.equal(zoned.errors, 0);
  // Balancing over every zone from the start does no better on latency.
  const everywhere = simulate({ ...s, zone: undefined }, { policies: ['peak-ewma'] }).results[0]!;
  assert.ok(zoned.latency.p99 < 1.5 * everywhere.latency.p99, `p99 spilling ${zoned.latency.p99} vs all zones ${everywhere.latency.p99}`);
  // Without spill (a capacity the threshold never reaches) zone a queues until requests time out.
  const pinned = simulate({ ...s, zoneAware: { ...s.zoneAware, endpointCapacity: 1e6 } }, { policies: ['peak-ewma'] }).results[0]!;
  assert.equal(pinned.groups.find((g) => g.name === 'zone-a')!.share, 1);
  assert.ok(pinned.latency.p99 > 10 * zoned.latency.p99, `p99 pinned ${pinned.latency.p99} vs spilling ${zoned.latency.p99}`);
});

test('an endpoint\'s ORCA report is the utilization the spill decision reads', () => {
  const clock = new ManualClock();
  const loads = [new EndpointLoad(clock), new EndpointLoad(clock)];
  // Without reports: load from requests in flight only.
  assert.equal(loads[0]!.utilization, undefined);
  assert.equal(zoneLoad(loads, 10), 0);
  for (const l of loads) {
    l.orca = new OrcaState(ORCA_DEFAULTS, clock);
    const r = newOrcaReport();
    r.cpuUtilization = 0.9;
    r.rpsFractional = 100;
    l.orca.record(r);
  }
  assert.equal(loads[0]!.utilization, 0.9);
  // Every local endpoint reports 0.9: the zone is at 90% though the proxy has nothing in flight.
  assert.equal(zoneLoad(loads, 10), 0.9);
  assert.ok(spillFraction(zoneLoad(loads, 10), DEFAULT_ZONE_AWARE.spillThreshold) > 0);
});
