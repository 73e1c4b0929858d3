import type { Balanceable, Clock, LoadBalancer, RandomSource } from './types.js';
import type { EndpointLoad } from './endpoint-load.js';
import { SLOW_START_REWEIGHT_MS, type SlowStart } from './slow-start.js';
import { explainSingle, RULES, type PickDecision } from './decision.js';
import { allWeightsEqual, DeadlineHeap, effectiveWeights, eligible, randInt } from './util.js';

export interface LeastRequestOptions {
  clock: Clock;
  random: RandomSource;
  /** Number of distinct random candidates compared per pick (equal weights). Default 2. */
  choiceCount?: number;
  /** Exponent of the in-flight penalty for weighted endpoints: weight / (pending + 1)^bias. Default 1. */
  activeRequestBias?: number;
  slowStart?: SlowStart | undefined;
}

/**
 * Least request, as in Envoy:
 *  - all weights equal: "power of N choices" — pick `choiceCount` distinct
 *    endpoints at random and keep the one with the fewest requests in flight
 *    (ties: the first drawn);
 *  - weights differ (or slow start ramps): earliest-deadline-first over
 *    effective weights weight / (pending + 1)^bias, where an endpoint's
 *    effective weight is re-evaluated each time it is picked.
 */
export class LeastRequestBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'least-request';
  private endpoints: E[] = [];
  private loads: EndpointLoad[] = [];
  private perm = new Int32Array(0);
  private weighted = false;
  private weights = new Float64Array(0);
  private heap = new DeadlineHeap(0);
  private validUntil = Number.POSITIVE_INFINITY;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly choiceCount: number;
  private readonly bias: number;
  private readonly slowStart: SlowStart | undefined;

  constructor(options: LeastRequestOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.choiceCount = options.choiceCount ?? 2;
    this.bias = options.activeRequestBias ?? 1;
    this.slowStart = options.slowStart;
    if (!Number.isInteger(this.choiceCount) || this.choiceCount < 2) throw new RangeError('choiceCount must be an integer >= 2');
    if (!(this.bias >= 0) || !Number.isFinite(this.bias)) throw new RangeError('activeRequestBias must be a finite number >= 0');
  }

  update(endpoints: readonly E[]): void {
    const list = eligible(endpoints);
    const n = list.length;
    this.endpoints = list;
    this.loads = list.map((e) => e.load);
    this.perm = new Int32Array(n);
    for (let i = 0; i < n; i++) this.perm[i] = i;
    this.weights = new Float64Array(n);
    this.heap = new DeadlineHeap(n);
    this.reweight(0);
  }

  pick(_hashKey?: string, explain?: PickDecision): E | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) {
      if (explain !== undefined) explainSingle(explain, this.name, RULES.only, this.endpoints[0]!, Number.NaN);
      return this.endpoints[0];
    }
    if (this.validUntil !== Number.POSITIVE_INFINITY && this.clock.now() >= this.validUntil) this.reweight(this.heap.size > 0 ? this.heap.deadline[this.heap.top()]! : 0);
    return this.weighted ? this.pickWeighted(explain) : this.pickChoices(n, explain);
  }

  private pickChoices(n: number, explain: PickDecision | undefined): E | undefined {
    const loads = this.loads;
    const random = this.random;
    if (this.choiceCount === 2 || n === 2) {
      const i = randInt(random, n);
      let j = randInt(random, n - 1);
      if (j >= i) j++;
      const k = loads[j]!.pending < loads[i]!.pending ? j : i;
      if (explain !== undefined) this.explainChoices(explain, i, j, -1, k);
      return this.endpoints[k];
    }
    // Partial Fisher-Yates over a persistent permutation: distinct draws, no allocation.
    const perm = this.perm;
    const c = this.choiceCount < n ? this.choiceCount : n;
    let best = -1;
    let bestPending = Number.POSITIVE_INFINITY;
    for (let k = 0; k < c; k++) {
      const r = k + randInt(random, n - k);
      const idx = perm[r]!;
      perm[r] = perm[k]!;
      perm[k] = idx;
      const p = loads[idx]!.pending;
      if (p < bestPending) {
        bestPending = p;
        best = idx;
      }
    }
    // The candidates drawn are perm[0..c).
    if (explain !== undefined) this.explainChoices(explain, -1, -1, c, best);
    return this.endpoints[best];
  }

  /** Records the candidates compared: i and j, or perm[0..c) when c >= 0. */
  private explainChoices(d: PickDecision, i: number, j: number, c: number, chosen: number): void {
    d.policy = this.name;
    d.rule = RULES.fewerInFlight;
    const m = c >= 0 ? c : 2;
    for (let k = 0; k < m; k++) {
      const idx = c >= 0 ? this.perm[k]! : k === 0 ? i : j;
      const x = d.add(this.endpoints[idx]!);
      x.cost = x.pending;
      if (idx === chosen) d.chosen = d.count - 1;
    }
  }

  private pickWeighted(explain?: PickDecision): E | undefined {
    const heap = this.heap;
    const i = heap.top();
    const vnow = heap.deadline[i]!;
    const active = this.loads[i]!.pending + 1;
    const bias = this.bias;
    const divisor = bias === 1 ? active : bias === 0 ? 1 : Math.pow(active, bias);
    heap.replaceTopDeadline(vnow + divisor / this.weights[i]!);
    if (explain !== undefined) {
      explainSingle(explain, this.name, RULES.leastRequestWeighted, this.endpoints[i]!, this.weights[i]!);
      explain.candidates[explain.chosen]!.cost = divisor / this.weights[i]!;
    }
    return this.endpoints[i];
  }

  private reweight(vnow: number): void {
    const list = this.endpoints;
    const n = list.length;
    this.validUntil = effectiveWeights(list, this.slowStart, this.clock.now(), SLOW_START_REWEIGHT_MS, this.weights);
    this.weighted = this.validUntil !== Number.POSITIVE_INFINITY || !allWeightsEqual(list);
    if (!this.weighted) {
      this.heap.size = 0;
      return;
    }
    for (let i = 0; i < n; i++) this.heap.deadline[i] = vnow + ((i + 0.5) / n) / this.weights[i]!;
    this.heap.build(n);
  }
}
