import type { Balanceable, Clock, LoadBalancer, RandomSource } from './types.js';
import type { EndpointLoad } from './endpoint-load.js';
import { SLOW_START_REWEIGHT_MS, type SlowStart } from './slow-start.js';
import { allWeightsEqual, effectiveWeights, eligible, prefixSums, randInt, searchPrefix } from './util.js';

export interface PeakEwmaOptions {
  clock: Clock;
  random: RandomSource;
  slowStart?: SlowStart | undefined;
}

/**
 * Peak-EWMA with power of two choices (the default policy; Finagle / Linkerd /
 * tower). Each pick draws two distinct endpoints and keeps the one with the
 * lower cost = rttEstimate × (pending + 1) (see EndpointLoad); ties go to the
 * first drawn. With a single endpoint it is returned as is.
 *
 * Weights (configured weight × slow-start factor) are honoured in two places:
 * candidates are drawn with probability proportional to weight, and pending is
 * scaled by the endpoint's weight relative to the mean ŵ:
 *   cost = rttEstimate × (pending / ŵ + 1).
 * The first makes shares follow weights when endpoints look alike (idle or
 * equal latency); the second makes the in-flight balance that P2C converges to
 * under load proportional to weight. (Dividing the whole cost by the weight,
 * as tower's Weighted wrapper does, would send every request to the heavier
 * candidate whenever nothing is in flight, starving light endpoints at low load.)
 * With equal weights this is exactly the classic unweighted algorithm.
 */
export class PeakEwmaBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'peak-ewma';
  private endpoints: E[] = [];
  private loads: EndpointLoad[] = [];
  private uniform = true;
  private weights = new Float64Array(0);
  private invRel = new Float64Array(0);
  private prefix = new Float64Array(0);
  private total = 0;
  private validUntil = Number.POSITIVE_INFINITY;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly slowStart: SlowStart | undefined;

  constructor(options: PeakEwmaOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.slowStart = options.slowStart;
  }

  update(endpoints: readonly E[]): void {
    const list = eligible(endpoints);
    const n = list.length;
    this.endpoints = list;
    this.loads = list.map((e) => e.load);
    this.weights = new Float64Array(n);
    this.invRel = new Float64Array(n);
    this.prefix = new Float64Array(n);
    this.reweight();
  }

  pick(): E | undefined {
    const n = this.endpoints.length;
    if (n < 2) return n === 1 ? this.endpoints[0] : undefined;
    const loads = this.loads;
    const random = this.random;
    const now = this.clock.now();
    if (now >= this.validUntil) this.reweight();
    if (this.uniform) {
      const i = randInt(random, n);
      let j = randInt(random, n - 1);
      if (j >= i) j++;
      return this.endpoints[loads[j]!.costAt(now) < loads[i]!.costAt(now) ? j : i];
    }
    const prefix = this.prefix;
    const total = this.total;
    const i = searchPrefix(prefix, n, random.next() * total);
    let j = searchPrefix(prefix, n, random.next() * total);
    if (j === i) j = searchPrefix(prefix, n, random.next() * total);
    if (j === i) {
      // One endpoint dominates the weights: take any other one uniformly.
      j = randInt(random, n - 1);
      if (j >= i) j++;
    }
    const li = loads[i]!;
    const lj = loads[j]!;
    const ci = li.rttEstimateAt(now) * (li.pending * this.invRel[i]! + 1);
    const cj = lj.rttEstimateAt(now) * (lj.pending * this.invRel[j]! + 1);
    return this.endpoints[cj < ci ? j : i];
  }

  private reweight(): void {
    const list = this.endpoints;
    const n = list.length;
    this.validUntil = effectiveWeights(list, this.slowStart, this.clock.now(), SLOW_START_REWEIGHT_MS, this.weights);
    this.uniform = this.validUntil === Number.POSITIVE_INFINITY && allWeightsEqual(list);
    this.total = prefixSums(this.weights, n, this.prefix);
    const mean = this.total / n;
    for (let i = 0; i < n; i++) this.invRel[i] = mean / this.weights[i]!;
  }
}
