import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { newOrcaReport, type OrcaReport } from '../../src/balancing/orca-report.js';
import { ORCA_DEFAULTS, OrcaState, type OrcaSettings } from '../../src/balancing/orca-weight.js';
import { WeightedRoundRobinBalancer } from '../../src/balancing/weighted-round-robin.js';
import { countPicks, makeEndpoints, type TestEndpoint } from './helpers.js';

function report(fields: Partial<OrcaReport>): OrcaReport {
  return { ...newOrcaReport(), ...fields };
}

function withOrca(clock: ManualClock, eps: TestEndpoint[], settings: OrcaSettings): TestEndpoint[] {
  for (const e of eps) e.load.orca = new OrcaState(settings, clock);
  return eps;
}

test('A58 weight: qps / (utilization + eps/qps × penalty); application utilization wins over cpu', () => {
  const clock = new ManualClock(1000);
  const s = new OrcaState({ ...ORCA_DEFAULTS, blackoutPeriod: 0, errorUtilizationPenalty: 2 }, clock);
  s.record(report({ cpuUtilization: 0.5, rpsFractional: 100 }));
  assert.equal(s.weightAt(clock.now(), 0), 200);
  s.record(report({ cpuUtilization: 0.5, applicationUtilization: 0.25, rpsFractional: 100 }));
  assert.equal(s.weightAt(clock.now(), 0), 400);
  // 10 errors/s of 100 qps with penalty 2: utilization 0.5 + 0.1 × 2 = 0.7.
  s.record(report({ cpuUtilization: 0.5, rpsFractional: 100, eps: 10 }));
  assert.ok(Math.abs(s.weightAt(clock.now(), 0) - 100 / 0.7) < 1e-9);
  // A report without qps or utilization changes nothing (the last weight stays), but is counted.
  s.record(report({ cpuUtilization: 0.9 }));
  s.record(report({ rpsFractional: 50 }));
  assert.ok(Math.abs(s.weightAt(clock.now(), 0) - 100 / 0.7) < 1e-9);
  assert.equal(s.reports, 5);
});

test('A58 blackout and expiry: a weight counts blackoutPeriod after the first report and stops weightExpirationPeriod after the last', () => {
  const clock = new ManualClock(0);
  const s = new OrcaState({ ...ORCA_DEFAULTS, blackoutPeriod: 10_000, weightExpirationPeriod: 180_000 }, clock);
  assert.equal(s.weightAt(clock.now(), 0), 0, 'no report yet');
  s.record(report({ cpuUtilization: 0.5, rpsFractional: 10 }));
  clock.advance(9_999);
  s.record(report({ cpuUtilization: 0.5, rpsFractional: 10 }));
  assert.equal(s.weightAt(clock.now(), 0), 0, 'still in blackout');
  clock.advance(1);
  assert.equal(s.weightAt(clock.now(), 0), 20);
  // A reconnect (the endpoint became ready again) restarts the blackout.
  assert.equal(s.weightAt(clock.now(), clock.now() - 5_000), 0);
  // The last report was at 9 999.
  clock.advance(179_998);
  assert.equal(s.weightAt(clock.now(), 0), 20);
  clock.advance(1);
  assert.equal(s.weightAt(clock.now(), 0), 0, 'expired');
  // After expiry the next report starts a new blackout.
  s.record(report({ cpuUtilization: 0.5, rpsFractional: 10 }));
  assert.equal(s.weightAt(clock.now(), 0), 0);
  clock.advance(10_000);
  assert.equal(s.weightAt(clock.now(), 0), 20);
});

test('weighted-round-robin with reports: utilization 0.9 beside two at 0.3 (equal qps) gets 1/7 of the picks', () => {
  const clock = new ManualClock(0);
  const settings = { ...ORCA_DEFAULTS, blackoutPeriod: 0, weightUpdatePeriod: 1000 };
  // Configured weights are ignored once reports count (as in gRPC and Envoy).
  const eps = withOrca(clock, makeEndpoints(clock, [5, 1, 1]), settings);
  const lb = new WeightedRoundRobinBalancer({ clock });
  lb.update(eps);
  eps[0]!.load.orca!.record(report({ cpuUtilization: 0.9, rpsFractional: 100 }));
  eps[1]!.load.orca!.record(report({ cpuUtilization: 0.3, rpsFractional: 100 }));
  eps[2]!.load.orca!.record(report({ cpuUtilization: 0.3, rpsFractional: 100 }));
  // Until the next weight update, the configured weights.
  assert.deepEqual(Object.fromEntries(countPicks(lb, 7)), { 'ep-0': 5, 'ep-1': 1, 'ep-2': 1 });
  clock.advance(1000);
  const c = countPicks(lb, 7000);
  assert.ok(Math.abs(c.get('ep-0')! - 1000) <= 2, `ep-0 ${c.get('ep-0')}`);
  assert.ok(Math.abs(c.get('ep-1')! - 3000) <= 2, `ep-1 ${c.get('ep-1')}`);
  assert.ok(Math.abs(c.get('ep-2')! - 3000) <= 2, `ep-2 ${c.get('ep-2')}`);
});

test('weighted-round-robin with reports: an endpoint without a usable weight gets the mean; weights capped at 10× the mean', () => {
  const clock = new ManualClock(0);
  const settings = { ...ORCA_DEFAULTS, blackoutPeriod: 0, weightUpdatePeriod: 100 };
  const eps = withOrca(clock, makeEndpoints(clock, [1, 1, 1]), settings);
  const lb = new WeightedRoundRobinBalancer({ clock });
  lb.update(eps);
  eps[0]!.load.orca!.record(report({ cpuUtilization: 0.5, rpsFractional: 100 })); // 200
  eps[1]!.load.orca!.record(report({ cpuUtilization: 0.5, rpsFractional: 50 })); // 100
  clock.advance(100);
  // ep-2 has not reported: it gets the mean, 150.
  let c = countPicks(lb, 4500);
  assert.deepEqual([c.get('ep-0'), c.get('ep-1'), c.get('ep-2')], [2000, 1000, 1500]);
  // A wildly high weight is capped at 10× the mean of those reported.
  eps[2]!.load.orca!.record(report({ cpuUtilization: 0.001, rpsFractional: 1000 })); // 1e6
  clock.advance(100);
  c = countPicks(lb, 1000);
  const mean = (200 + 100 + 1e6) / 3;
  assert.ok(c.get('ep-2')! / 1000 > 0.99, 'capped, yet still the most');
  assert.ok(c.get('ep-0')! >= 1 && c.get('ep-1')! >= 0, `${[...c]} mean ${mean}`);
});

test('weighted-round-robin with reports: expired weights fall back to the configured ones', () => {
  const clock = new ManualClock(0);
  const settings = { ...ORCA_DEFAULTS, blackoutPeriod: 0, weightExpirationPeriod: 5000, weightUpdatePeriod: 1000 };
  const eps = withOrca(clock, makeEndpoints(clock, [1, 1]), settings);
  const lb = new WeightedRoundRobinBalancer({ clock });
  lb.update(eps);
  eps[0]!.load.orca!.record(report({ cpuUtilization: 0.25, rpsFractional: 100 }));
  eps[1]!.load.orca!.record(report({ cpuUtilization: 0.75, rpsFractional: 100 }));
  clock.advance(1000);
  assert.deepEqual(Object.fromEntries(countPicks(lb, 400)), { 'ep-0': 300, 'ep-1': 100 });
  clock.advance(5000);
  assert.deepEqual(Object.fromEntries(countPicks(lb, 400)), { 'ep-0': 200, 'ep-1': 200 });
});
