import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario, parseScenarioYaml, parseDuration, ScenarioError } from '../../src/balancing/simulation/scenario.js';
import { simulate } from '../../src/balancing/simulation/simulator.js';
import { makeDistribution } from '../../src/balancing/simulation/distributions.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { runSimulate } from '../../src/cli/simulate.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('scenario: durations and defaults', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('10'), 10);
  assert.equal(parseDuration('soon'), undefined);
  const s = parseScenario({ requests: 10, rate: 1, groups: [{ name: 'a', count: 1, latency: 5 }] });
  assert.equal(s.seed, 1);
  assert.equal(s.requestTimeout, 10_000);
  assert.equal(s.groups[0]!.weight, 1);
});

test('scenario: errors name the offending key', () => {
  const bad = (data: unknown, path: string): void => {
    assert.throws(
      () => parseScenario(data),
      (e: unknown) => e instanceof ScenarioError && e.path === path,
      path,
    );
  };
  bad({ requests: 10, rate: 1, groups: [{ name: 'a', count: 0, latency: 5 }] }, 'groups[0].count');
  bad({ requests: 10, rate: 1, groups: [{ name: 'a', count: 1, latency: 5, lateness: 2 }] }, 'groups[0]');
  bad({ requests: 10, rate: 1, policies: ['fastest'], groups: [{ name: 'a', count: 1, latency: 5 }] }, 'policies[0]');
  bad({ requests: 10, rate: 1, groups: [{ name: 'a', count: 1, latency: { lognormal: { p50: 10, p99: 5 } } }] }, 'groups[0].latency.lognormal.p99');
  bad({ requests: 10, rate: 1, groups: [{ name: 'a', count: 1, latency: 1, events: [{ at: 'later', action: 'fail' }] }] }, 'groups[0].events[0].at');
  assert.throws(() => parseScenarioYaml('groups: [unclosed'), ScenarioError);
});

test('distributions: lognormal from p50/p99 reproduces its quantiles', () => {
  const d = makeDistribution({ lognormal: { p50: 10, p99: 100 } });
  const r = new SeededRandom(5);
  const xs = Float64Array.from({ length: 100_000 }, () => d.sample(r)).sort();
  assert.ok(Math.abs(xs[50_000]! / 10 - 1) < 0.03, `p50 ${xs[50_000]}`);
  assert.ok(Math.abs(xs[99_000]! / 100 - 1) < 0.08, `p99 ${xs[99_000]}`);
  const b = makeDistribution({ bimodal: { fast: 1, slow: 100, slowFraction: 0.25 } });
  let slow = 0;
  for (let i = 0; i < 10_000; i++) if (b.sample(r) === 100) slow++;
  assert.ok(Math.abs(slow - 2500) < 4.5 * Math.sqrt(10_000 * 0.25 * 0.75));
});

test('simulator: deterministic per seed; failures, removal and failfast behave', () => {
  const s = parseScenario({
    seed: 3,
    requests: 5000,
    rate: 1000,
    requestTimeout: 200,
    policies: ['round-robin'],
    failfast: { timeout: 100 },
    groups: [
      { name: 'a', count: 2, latency: 5, events: [{ at: '1s', action: 'remove' }, { at: '1.05s', action: 'add' }] },
      { name: 'b', count: 2, latency: 5, events: [{ at: '2s', action: 'hang' }, { at: '3s', action: 'recover' }] },
    ],
  });
  const r1 = simulate(s);
  const r2 = simulate(s);
  assert.deepEqual(
    r1.results.map((r) => [r.errors, r.groups.map((g) => g.picks), r.latency.p99]),
    r2.results.map((r) => [r.errors, r.groups.map((g) => g.picks), r.latency.p99]),
  );
  const r = r1.results[0]!;
  // group b hangs for 1 s: its requests in that second fail (round robin keeps sending half the traffic there)
  const b = r.groups.find((g) => g.name === 'b')!;
  assert.ok(b.errors > 300 && b.errors < 700, `hang errors ${b.errors}`);
  assert.equal(r.unplaced, 0);
  assert.equal(r.ok + r.errors, 5000);
});

test('simulator: requests wait in the failfast queue while no endpoint is in the set', () => {
  const s = parseScenario({
    seed: 4,
    requests: 3000,
    rate: 1000,
    policies: ['peak-ewma'],
    failfast: { timeout: 500 },
    groups: [{ name: 'a', count: 2, latency: 5, events: [{ at: '1s', action: 'remove' }, { at: '1.4s', action: 'add' }] }],
  });
  const r = simulate(s).results[0]!;
  // ~400 requests arrive during the gap: they wait (latency up to 400 ms) instead of failing
  assert.equal(r.errors, 0);
  assert.ok(r.latency.max > 350, `max ${r.latency.max}`);
  // with a 100 ms failfast timeout (timer granularity 100 ms) most of them time out instead
  // (note: the queue times out a waiter up to one tick late)
  const s2 = parseScenario({ ...s, failfast: { timeout: 100 } });
  const r2 = simulate(s2).results[0]!;
  assert.ok(r2.unplaced > 150, `unplaced ${r2.unplaced}`);
  assert.equal(r2.errors, r2.unplaced);
});

test('simulator at scale: 10,000 endpoints × 200,000 requests completes with sane shares', () => {
  const s = parseScenario({
    seed: 9,
    requests: 200_000,
    rate: 20_000,
    policies: ['peak-ewma'],
    groups: [
      { name: 'healthy', count: 9_900, latency: { lognormal: { p50: 5, p99: 25 } }, concurrency: 16 },
      { name: 'slow', count: 100, latency: { lognormal: { p50: 50, p99: 250 } }, concurrency: 16 },
    ],
  });
  const t0 = performance.now();
  const r = simulate(s).results[0]!;
  const ms = performance.now() - t0;
  console.log(`# simulated 10,000 endpoints × 200,000 requests (peak-ewma) in ${ms.toFixed(0)} ms`);
  assert.equal(r.ok + r.errors, 200_000);
  assert.equal(r.errors, 0);
  const slow = r.groups.find((g) => g.name === 'slow')!;
  assert.ok(slow.share < 0.01, `slow share ${slow.share}`); // fair share would be 1%
  assert.ok(r.endpointSpread.max < 10, `max endpoint share ${r.endpointSpread.max}× even`);
});

test('runSimulate: help, usage errors, scenario errors, table and JSON output', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-'));
  try {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'name: t\nrequests: 2000\nrate: 500\ngroups:\n  - { name: fast, count: 3, latency: 5 }\n  - { name: slow, count: 1, latency: 50 }\n');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'requests: 10\nrate: 1\ngroups:\n  - { name: a, count: 1, latency: { lognormal: { p50: -1, p99: 2 } } }\n');
    const run = async (args: string[]): Promise<[number, string, string]> => {
      const out = new Sink();
      const err = new Sink();
      const code = await runSimulate(args, out, err);
      return [code, out.text, err.text];
    };
    const [h, hout] = await run(['--help']);
    assert.equal(h, 0);
    assert.match(hout, /Usage: switchyard simulate/);
    assert.equal((await run([]))[0], 2);
    assert.equal((await run([good, '--policies', 'fastest']))[0], 2);
    assert.equal((await run([good, '--seed', 'x']))[0], 2);
    assert.equal((await run([good, '--bogus']))[0], 2);
    const [b, , berr] = await run([bad]);
    assert.equal(b, 1);
    assert.match(berr, /groups\[0\]\.latency\.lognormal\.p50/);
    assert.equal((await run([join(dir, 'missing.yaml')]))[0], 1);
    const [t, tout] = await run([good, '--policies', 'rr,ewma', '--seed', '3']);
    assert.equal(t, 0);
    assert.match(tout, /round-robin/);
    assert.match(tout, /peak-ewma/);
    assert.match(tout, /fast×3/);
    const [j, jout] = await run([good, '--json', '--policies=random']);
    assert.equal(j, 0);
    const parsed = JSON.parse(jout) as { results: { policy: string; groups: { share: number }[] }[]; seed: number };
    assert.equal(parsed.results[0]!.policy, 'random');
    assert.equal(parsed.seed, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('simulator: closed loop with one client is sequential, warm-up latency applies to first answers, and rate xor clients is enforced', () => {
  const base = { seed: 2, requests: 50, policies: ['round-robin'], groups: [{ name: 'g', count: 2, latency: 1, warmup: { latency: 40 } }] };
  const r = simulate(parseScenario({ ...base, clients: 1 })).results[0]!;
  assert.equal(r.ok, 50);
  // Two warm-up answers (one per endpoint) of 40 ms and 48 of 1 ms, one at a time.
  assert.equal(r.simulatedMs, 2 * 40 + 48 * 1);
  assert.equal(r.latency.max, 40);
  assert.throws(() => parseScenario({ ...base }), /exactly one of rate/);
  assert.throws(() => parseScenario({ ...base, rate: 10, clients: 1 }), /exactly one of rate/);
});
