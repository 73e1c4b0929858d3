import type { Balanceable, Clock, LoadBalancer, RandomSource } from './types.js';
import { SLOW_START_REWEIGHT_MS, type SlowStart } from './slow-start.js';
import { explainSingle, RULES, type PickDecision } from './decision.js';
import { allWeightsEqual, effectiveWeights, eligible, prefixSums, randInt, searchPrefix } from './util.js';

export interface RandomOptions {
  clock: Clock;
  random: RandomSource;
  slowStart?: SlowStart | undefined;
}

/**
 * Weighted random: an endpoint is chosen with probability weight / total,
 * by binary search over prefix sums (O(log n)); uniform O(1) when all
 * weights are equal and nothing ramps.
 */
export class RandomBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'random';
  private endpoints: E[] = [];
  private uniform = true;
  private weights = new Float64Array(0);
  private prefix = new Float64Array(0);
  private total = 0;
  private validUntil = Number.POSITIVE_INFINITY;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly slowStart: SlowStart | undefined;

  constructor(options: RandomOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.slowStart = options.slowStart;
  }

  update(endpoints: readonly E[]): void {
    const list = eligible(endpoints);
    this.endpoints = list;
    this.weights = new Float64Array(list.length);
    this.prefix = new Float64Array(list.length);
    this.reweight();
  }

  pick(_hashKey?: string, explain?: PickDecision): E | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    if (this.validUntil !== Number.POSITIVE_INFINITY && this.clock.now() >= this.validUntil) this.reweight();
    const i = this.uniform ? randInt(this.random, n) : searchPrefix(this.prefix, n, this.random.next() * this.total);
    if (explain !== undefined) explainSingle(explain, this.name, n === 1 ? RULES.only : this.uniform ? RULES.random : RULES.randomWeighted, this.endpoints[i]!, this.weights[i]!);
    return this.endpoints[i];
  }

  private reweight(): void {
    const list = this.endpoints;
    this.validUntil = effectiveWeights(list, this.slowStart, this.clock.now(), SLOW_START_REWEIGHT_MS, this.weights);
    this.uniform = this.validUntil === Number.POSITIVE_INFINITY && allWeightsEqual(list);
    this.total = prefixSums(this.weights, list.length, this.prefix);
  }
}
