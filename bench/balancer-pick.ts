/**
 * Micro-benchmark: nanoseconds per pick() for every balancing policy with 10,
 * 1,000 and 10,000 endpoints.
 *
 *   node dist/bench/balancer-pick.js [--picks N]
 *
 * Columns:
 *   pick       — pick() alone (endpoints carry a random, static in-flight count)
 *   pick+load  — pick() plus what the proxy does per request: begin(), and for
 *                the request 64 picks earlier observeRtt() and end()
 * Hash policies get a key from a pool of 4096 distinct keys.
 */
import { EndpointLoad } from '../src/balancing/endpoint-load.js';
import { monotonicClock } from '../src/balancing/clock.js';
import { SeededRandom } from '../src/balancing/random-source.js';
import { createBalancer, POLICY_NAMES, type PolicyName } from '../src/balancing/registry.js';
import type { Balanceable, LoadBalancer } from '../src/balancing/types.js';

interface Ep extends Balanceable {
  load: EndpointLoad;
}

const argPicks = process.argv.indexOf('--picks');
const PICKS = argPicks > 0 ? Number(process.argv[argPicks + 1]) : 1_000_000;
const SIZES = [10, 1_000, 10_000];
const KEYS = Array.from({ length: 4096 }, (_, i) => `session-${i}`);
const INFLIGHT = 64;

function setup(policy: PolicyName, n: number): { lb: LoadBalancer<Ep>; eps: Ep[]; hashed: boolean } {
  const random = new SeededRandom(n);
  const eps: Ep[] = Array.from({ length: n }, (_, i) => ({
    id: `10.0.${i >> 8}.${i & 255}:8080`,
    weight: 1,
    readySince: 0,
    load: new EndpointLoad(monotonicClock),
  }));
  for (const e of eps) {
    const p = Math.floor(random.next() * 4);
    for (let k = 0; k < p; k++) e.load.begin();
  }
  const lb = createBalancer<Ep>({ policy }, { clock: monotonicClock, random });
  lb.update(eps);
  return { lb, eps, hashed: policy === 'ring-hash' || policy === 'maglev' };
}

function timePicks(lb: LoadBalancer<Ep>, hashed: boolean, picks: number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  if (hashed) {
    for (let i = 0; i < picks; i++) sink += lb.pick(KEYS[i & 4095])!.weight;
  } else {
    for (let i = 0; i < picks; i++) sink += lb.pick()!.weight;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink < 0) console.log(sink);
  return ns / picks;
}

function timeWithLoad(lb: LoadBalancer<Ep>, hashed: boolean, picks: number): number {
  const ring: Ep[] = new Array<Ep>(INFLIGHT);
  const started = new Float64Array(INFLIGHT);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < picks; i++) {
    const slot = i & (INFLIGHT - 1);
    const old = ring[slot];
    if (old !== undefined) {
      old.load.observeRtt(started[slot]!);
      old.load.end(started[slot]!, false);
    }
    const e = hashed ? lb.pick(KEYS[i & 4095])! : lb.pick()!;
    started[slot] = e.load.begin();
    ring[slot] = e;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  for (let s = 0; s < INFLIGHT; s++) {
    const e = ring[s];
    if (e !== undefined) e.load.end(started[s]!, false);
  }
  return ns / picks;
}

const rows: string[][] = [];
for (const policy of POLICY_NAMES) {
  const row: string[] = [policy];
  for (const n of SIZES) {
    const { lb, hashed } = setup(policy, n);
    timePicks(lb, hashed, Math.min(PICKS, 200_000)); // warm-up
    timeWithLoad(lb, hashed, Math.min(PICKS, 200_000));
    const a = timePicks(lb, hashed, PICKS);
    const b = timeWithLoad(lb, hashed, PICKS);
    row.push(a.toFixed(0), b.toFixed(0));
  }
  rows.push(row);
}

const header = ['policy', ...SIZES.flatMap((n) => [`pick n=${n}`, `+load n=${n}`])];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const fmt = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(`ns per pick (${PICKS.toLocaleString('en-US')} picks; node ${process.version})`);
console.log(fmt(header));
for (const r of rows) console.log(fmt(r));
