import type { Balanceable, Clock, LoadBalancer } from './types.js';
import { SLOW_START_REWEIGHT_MS, type SlowStart } from './slow-start.js';
import { DeadlineHeap, effectiveWeights, eligible } from './util.js';
import { applyOrcaWeights, type OrcaSettings } from './orca-weight.js';
import { explainSingle, RULES, type PickDecision } from './decision.js';

export interface WeightedRoundRobinOptions {
  clock: Clock;
  slowStart?: SlowStart | undefined;
}

/**
 * Smooth weighted round robin by earliest-deadline-first scheduling (as in
 * Envoy and grpc's WRR): endpoint i owns the deadlines (k + phase_i) / w_i,
 * k = 0, 1, 2, …; each pick takes the earliest deadline. Over any whole
 * period every endpoint is picked exactly in proportion to its weight, and
 * the picks of a heavy endpoint are spread out evenly (no bursts). Phases
 * are staggered ((i + ½) / n) so that equal-weight endpoints interleave and
 * light endpoints fall at different points of the heavy endpoint's run; exact
 * ties go to the lower index. For 5,1,1 the period is A A A B A A C (longest
 * run 3 = ⌈5 / 2⌉); in general a run exceeds ⌈w / (W − w)⌉ by at most 2.
 * O(log n) per pick, allocation-free.
 *
 * When the service collects ORCA load reports (its endpoints' load records
 * carry `orca`), the weights are those of gRFC A58 — qps / utilization from
 * the reports, recomputed every `weightUpdatePeriod`, the mean for
 * endpoints without one — in place of the configured weights (as gRPC and
 * Envoy's client-side weighted round robin do); slow start still scales them.
 */
export class WeightedRoundRobinBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'weighted-round-robin';
  private endpoints: E[] = [];
  private heap = new DeadlineHeap(0);
  private weights = new Float64Array(0);
  private base = new Float64Array(0);
  private phase = new Float64Array(0);
  private count = new Float64Array(0);
  private validUntil = Number.POSITIVE_INFINITY;
  /** The weights in force come from ORCA reports (for explained picks). */
  private orcaApplied = false;
  /** The service's ORCA settings when its endpoints report load; null otherwise. */
  private orca: OrcaSettings | null = null;
  private orcaWeights = new Float64Array(0);
  private orcaScratch = new Float64Array(0);
  private readonly clock: Clock;
  private readonly slowStart: SlowStart | undefined;

  constructor(options: WeightedRoundRobinOptions) {
    this.clock = options.clock;
    this.slowStart = options.slowStart;
  }

  update(endpoints: readonly E[]): void {
    const list = eligible(endpoints);
    const n = list.length;
    this.endpoints = list;
    this.heap = new DeadlineHeap(n);
    this.weights = new Float64Array(n);
    this.base = new Float64Array(n);
    this.phase = new Float64Array(n);
    this.count = new Float64Array(n);
    for (let i = 0; i < n; i++) this.phase[i] = (i + 0.5) / n;
    this.orca = null;
    for (const e of list) {
      if (e.load.orca !== null) {
        this.orca = e.load.orca.settings;
        break;
      }
    }
    if (this.orca !== null) {
      this.orcaWeights = new Float64Array(n);
      this.orcaScratch = new Float64Array(n);
    }
    this.reschedule(0);
  }

  pick(_hashKey?: string, explain?: PickDecision): E | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) {
      if (explain !== undefined) explainSingle(explain, this.name, RULES.only, this.endpoints[0]!, Number.NaN);
      return this.endpoints[0];
    }
    if (this.validUntil !== Number.POSITIVE_INFINITY && this.clock.now() >= this.validUntil) {
      this.reschedule(this.heap.deadline[this.heap.top()]!);
    }
    const heap = this.heap;
    const i = heap.top();
    const k = this.count[i]! + 1;
    this.count[i] = k;
    heap.replaceTopDeadline(this.base[i]! + (k + this.phase[i]!) / this.weights[i]!);
    if (explain !== undefined) explainSingle(explain, this.name, this.orcaApplied ? RULES.weightedRoundRobinOrca : RULES.weightedRoundRobin, this.endpoints[i]!, this.weights[i]!);
    return this.endpoints[i];
  }

  /** (Re)compute weights and restart every endpoint's deadline sequence at virtual time `vnow`. */
  private reschedule(vnow: number): void {
    const n = this.endpoints.length;
    const now = this.clock.now();
    this.validUntil = effectiveWeights(this.endpoints, this.slowStart, now, SLOW_START_REWEIGHT_MS, this.weights);
    this.orcaApplied = false;
    if (this.orca !== null) {
      const w = this.weights;
      const ow = this.orcaWeights;
      if (applyOrcaWeights(this.endpoints, n, now, ow, this.orcaScratch)) {
        this.orcaApplied = true;
        // Reported weights replace configured ones; the slow-start factor (effective / configured) still applies.
        for (let i = 0; i < n; i++) w[i] = ow[i]! * (w[i]! / this.endpoints[i]!.weight);
      }
      const next = now + this.orca.weightUpdatePeriod;
      if (next < this.validUntil) this.validUntil = next;
    }
    for (let i = 0; i < n; i++) {
      this.base[i] = vnow;
      this.count[i] = 0;
      this.heap.deadline[i] = vnow + this.phase[i]! / this.weights[i]!;
    }
    this.heap.build(n);
  }
}
