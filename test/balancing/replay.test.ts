import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { analyzeLoad } from '../../src/balancing/simulation/replay-load.js';
import { EmpiricalDistribution } from '../../src/balancing/simulation/replay-empirical.js';
import { planReplay, ReplayError, runReplay } from '../../src/balancing/simulation/replay.js';
import type { RecordedRequest, Recording } from '../../src/balancing/simulation/replay-recording.js';

function recording(policy: string, endpoints: string[], requests: RecordedRequest[]): Recording {
  return {
    header: {
      format: 'switchyard-recording',
      version: 1,
      startedAt: '',
      startMs: 0,
      source: '',
      filter: {},
      zone: null,
      services: [{ name: 'web', policy, balancer: { policy }, endpoints: endpoints.map((id) => ({ id, weight: 1, zone: null })) }],
    },
    requests,
    end: { end: true, durationMs: 0, requests: requests.length, dropped: 0 },
  };
}

/** `clients` callers under round robin over a (5 ms) and b (20 ms), each sending its next request 1 ms after an answer. */
function closedLoopRoundRobin(clients: number, perClient: number): RecordedRequest[] {
  const out: RecordedRequest[] = [];
  let rr = 0;
  const next = new Float64Array(clients);
  // Event order: the client free earliest sends next (as the proxy would see it).
  for (let k = 0; k < clients * perClient; k++) {
    let c = 0;
    for (let i = 1; i < clients; i++) if (next[i]! < next[c]!) c = i;
    const a = rr++ % 2 === 0;
    const d = a ? 5 : 20;
    const failed = !a && k % 20 === 1;
    out.push({ t: next[c]!, d, svc: 'web', ep: a ? 'a:1' : 'b:1', st: failed ? 503 : 200, o: failed ? 'failure' : 'success' });
    next[c] = next[c]! + d + 1;
  }
  return out;
}

test('a closed-loop recording is recognised: its concurrency and its think time', () => {
  const reqs = closedLoopRoundRobin(4, 500);
  const load = analyzeLoad(reqs.map((r) => r.t), reqs.map((r) => r.d), 0);
  assert.equal(load.mode, 'closed', load.reason);
  assert.equal(load.clients, 4);
  assert.ok(Math.abs(load.thinkMs - 1) < 0.05, `think ${load.thinkMs}`);
  assert.equal(load.aboveLevel, 0);
});

test('Poisson arrivals are an open loop', () => {
  const random = new SeededRandom(7);
  const starts: number[] = [];
  const durations: number[] = [];
  let t = 0;
  for (let i = 0; i < 5000; i++) {
    t += -Math.log(1 - random.next()) * 2; // 500/s
    starts.push(t);
    durations.push(2 + 4 * random.next()); // ~2 in flight
  }
  const load = analyzeLoad(starts, durations, 0);
  assert.equal(load.mode, 'open', load.reason);
  assert.ok(load.aboveLevel > 0.2);
  assert.ok(Math.abs(load.rate - 500) < 30, `rate ${load.rate}`);
});

test('replaying a round-robin recording under round robin gives back the live shares, latencies and failures', () => {
  const reqs = closedLoopRoundRobin(4, 500);
  const plan = planReplay(recording('round_robin', ['a:1', 'b:1'], reqs));
  assert.equal(plan.livePolicy, 'round-robin');
  assert.equal(plan.load.mode, 'closed');
  assert.deepEqual(plan.endpoints.map((e) => [e.requests, e.share, e.failures, e.p50, e.p99]), [[1000, 0.5, 0, 5, 5], [1000, 0.5, 100, 20, 20]]);
  const { simulation } = runReplay(plan);
  // The live policy first, then every other one.
  assert.equal(simulation.results[0]!.policy, 'round-robin');
  assert.equal(simulation.results.length, 7);
  const rr = simulation.results[0]!;
  assert.deepEqual(rr.groups.map((g) => g.share), [0.5, 0.5]);
  assert.equal(rr.groups[0]!.errors, 0);
  assert.ok(Math.abs(rr.groups[1]!.errors - 100) <= 30, `b failed ${rr.groups[1]!.errors} of 1000 (live 100)`);
  assert.deepEqual([rr.groups[0]!.p50, rr.groups[1]!.p99], [5, 20]);
  // Same callers and latencies: the replay takes as long as the recording (within 5%).
  const last = reqs[reqs.length - 1]!;
  assert.ok(Math.abs(rr.simulatedMs / (last.t + last.d) - 1) < 0.05, `${rr.simulatedMs} ms vs ${last.t + last.d}`);
  // A latency-aware policy sends the 4x faster endpoint more than its live share.
  const ewma = simulation.results.find((r) => r.policy === 'peak-ewma')!;
  assert.ok(ewma.groups[0]!.share > 0.6, `peak-ewma a: ${ewma.groups[0]!.share}`);
});

test('an open-loop replay sends each request at its recorded time', () => {
  // Requests 100 ms apart that never overlap; one starts before the recording (t < 0).
  const reqs: RecordedRequest[] = [];
  for (let i = 0; i < 50; i++) reqs.push({ t: i * 100 - 50, d: 3, svc: 'web', ep: i % 2 === 0 ? 'a:1' : 'b:1', st: 200, o: 'success' });
  reqs.push({ t: 10, d: 0.5, svc: 'web', ep: '', st: 503, o: 'refused' });
  reqs.push({ t: 20, d: 0.5, svc: 'other', ep: 'x:1', st: 200, o: 'success' });
  const plan = planReplay(recording('peak-ewma', ['a:1', 'b:1', 'c:1'], reqs), { loop: 'open' });
  assert.equal(plan.load.mode, 'open');
  assert.equal(plan.excluded, 1);
  assert.equal(plan.arrivals!.length, 50);
  assert.deepEqual([plan.arrivals![0], plan.arrivals![49]], [0, 4900]);
  // c served nothing live: it samples the service's latencies.
  assert.equal(plan.endpoints[2]!.pooled, true);
  const r = runReplay(plan, ['round-robin']).simulation.results[0]!;
  assert.equal(r.ok, 50);
  assert.equal(r.simulatedMs, 4903);
  assert.equal(r.latency.max, 3);
});

test('a recording with nothing to replay says why', () => {
  assert.throws(() => planReplay(recording('peak-ewma', ['a:1'], [])), (e: unknown) => e instanceof ReplayError && /no request of service "web" reached an endpoint/.test(e.message));
  assert.throws(() => planReplay(recording('peak-ewma', ['a:1'], []), { service: 'nope' }), /service "nope" is not in the recording \(it has: web\)/);
});

test('an empirical distribution draws only recorded values, uniformly', () => {
  const d = new EmpiricalDistribution([30, 10, 20]);
  assert.deepEqual([d.quantile(0.5), d.quantile(0.99)], [20, 30]);
  const random = new SeededRandom(3);
  const seen = new Map<number, number>();
  for (let i = 0; i < 3000; i++) {
    const x = d.sample(random);
    seen.set(x, (seen.get(x) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), [10, 20, 30]);
  for (const n of seen.values()) assert.ok(Math.abs(n - 1000) < 100, `${n}`);
});
