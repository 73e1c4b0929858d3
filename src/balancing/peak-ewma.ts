import type { Balanceable, Clock, LoadBalancer, RandomSource } from './types.js';
import type { EndpointLoad } from './endpoint-load.js';
import { SLOW_START_REWEIGHT_MS, type SlowStart } from './slow-start.js';
import { explainSingle, RULES, type PickDecision } from './decision.js';
import { allWeightsEqual, effectiveWeights, eligible, prefixSums, randInt, searchPrefix } from './util.js';

export interface PeakEwmaOptions {
  clock: Clock;
  random: RandomSource;
  slowStart?: SlowStart | undefined;
  /** Latency differences below this many ms never count (ms). Default 1. */
  noiseFloor?: number;
  /** Width of the "indistinguishable" band in mean deviations. Default 1. 0 with noiseFloor 0 and probeAfter Infinity = classic peak-EWMA comparison of costs (on the smoothed mean). */
  noiseFactor?: number;
  /** Time (ms) after which an endpoint that has not been picked is uncertain enough to be tried again. Default 5000. */
  probeAfter?: number;
}

export const DEFAULT_NOISE_FLOOR_MS = 1;
export const DEFAULT_NOISE_FACTOR = 1;
export const DEFAULT_PROBE_AFTER_MS = 5_000;

const WHY_FEWER = 0;
const WHY_LEAST_RECENT = 1;
const WHY_WEIGHTED = 2;
const WHY_COST = 3;
const WHY_UTILIZATION = 4;
const WHY = [RULES.nearEqualFewer, RULES.nearEqualLeastRecent, RULES.nearEqualWeighted, RULES.latencyCost, RULES.nearEqualUtilization];

/**
 * 1 + the endpoint's reported utilization when both it and `other` have a
 * fresh one (ORCA), else 0 (compare latencies alone: one endpoint's report
 * says nothing about an endpoint that does not report).
 */
function orcaFactor(l: EndpointLoad, other: EndpointLoad, now: number): number {
  const u = l.orca!.utilizationAt(now);
  if (u < 0 || other.orca!.utilizationAt(now) < 0) return 0;
  return 1 + u;
}

/**
 * Peak-EWMA with power of two choices (the default policy; after Finagle /
 * Linkerd / tower), made fair between endpoints whose latency cannot be told
 * apart. Each pick draws two distinct endpoints i, j and compares them:
 *
 * 1. Latency r = max(rttMean, failure penalty) (see EndpointLoad). The two
 *    are *indistinguishable* when
 *      |r_i − r_j| ≤ noiseFloor + noiseFactor × (dev_i + dev_j + staleness_i + staleness_j)
 *    where dev is the smoothed mean absolute deviation of the samples and
 *    staleness = r × (time since the endpoint was last picked) / probeAfter:
 *    what we know of an endpoint ages, so one that has been avoided becomes
 *    a candidate again after a fraction of `probeAfter` (sooner the closer it
 *    was). An endpoint not measured yet is indistinguishable from any other;
 *    one under a failure penalty never is.
 * 2. Indistinguishable: the one with fewer requests in flight wins (least
 *    request); on equal counts the one picked less recently wins. With
 *    sequential traffic (nothing in flight) this rotates over the equals.
 * 3. Otherwise the classic cost decides: max(r, noiseFloor) × (pending + 1).
 *
 * Why not the peak estimate itself: a peak EWMA jumps to any slower sample
 * and decays over `decay` (10 s), so one slow sample (a cold connection, a
 * GC pause) makes an identical endpoint look 30× worse for half a minute and
 * P2C then never picks it, and at start-up every estimate sits near
 * `defaultRtt` for seconds, whatever the request rate. The smoothed mean
 * converges in a handful of samples; the deviation says how far apart two
 * means must be to mean anything; failures keep their peak-style penalty.
 *
 * Weights (configured weight × slow-start factor): candidates are drawn with
 * probability proportional to weight and pending counts are scaled by the
 * endpoint's weight relative to the mean ŵ (pending / ŵ). Between weighted
 * equals the first (weight-drawn) candidate wins instead of the least
 * recently picked one, so that shares follow weights at low load.
 *
 * ORCA: when both candidates report a fresh utilization u, each is weighed
 * by f = 1 + u — latency and deviation × f in steps 1 and 3, pending × f in
 * step 2, and between equals a draw with probability ∝ 1 / f instead of the
 * least recently picked (a strict rule would starve the busier one, and with
 * it its in-band reports). Equal reports leave every comparison unchanged.
 */
export class PeakEwmaBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'peak-ewma';
  private endpoints: E[] = [];
  private loads: EndpointLoad[] = [];
  private uniform = true;
  private weights = new Float64Array(0);
  private invRel = new Float64Array(0);
  private prefix = new Float64Array(0);
  /** Clock time each endpoint was last picked (staleness). */
  private pickedAt = new Float64Array(0);
  /** Pick sequence number of each endpoint's last pick (least-recently-picked tie break). */
  private pickedSeq = new Float64Array(0);
  private seq = 0;
  private total = 0;
  private validUntil = Number.POSITIVE_INFINITY;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly slowStart: SlowStart | undefined;
  private readonly floor: number;
  private readonly factor: number;
  /** 1 / probeAfter (0 when probing is off). */
  private readonly invProbe: number;
  /** The rule behind the last comparison (an index into WHY), read only by explained picks. */
  private why = 0;

  constructor(options: PeakEwmaOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.slowStart = options.slowStart;
    const floor = options.noiseFloor ?? DEFAULT_NOISE_FLOOR_MS;
    const factor = options.noiseFactor ?? DEFAULT_NOISE_FACTOR;
    const probe = options.probeAfter ?? DEFAULT_PROBE_AFTER_MS;
    if (!(floor >= 0) || !Number.isFinite(floor)) throw new RangeError('noiseFloor must be a finite number >= 0');
    if (!(factor >= 0) || !Number.isFinite(factor)) throw new RangeError('noiseFactor must be a finite number >= 0');
    if (!(probe > 0)) throw new RangeError('probeAfter must be > 0');
    this.floor = floor;
    this.factor = factor;
    this.invProbe = 1 / probe;
  }

  update(endpoints: readonly E[]): void {
    const list = eligible(endpoints);
    const n = list.length;
    // Endpoints that stay keep their pick history, so an update does not reset probing.
    const oldAt = new Map<E, number>();
    for (let i = 0; i < this.endpoints.length; i++) oldAt.set(this.endpoints[i]!, i);
    const pickedAt = new Float64Array(n);
    const pickedSeq = new Float64Array(n);
    const now = this.clock.now();
    for (let i = 0; i < n; i++) {
      const k = oldAt.get(list[i]!);
      pickedAt[i] = k === undefined ? now : this.pickedAt[k]!;
      pickedSeq[i] = k === undefined ? 0 : this.pickedSeq[k]!;
    }
    this.pickedAt = pickedAt;
    this.pickedSeq = pickedSeq;
    this.endpoints = list;
    this.loads = list.map((e) => e.load);
    this.weights = new Float64Array(n);
    this.invRel = new Float64Array(n);
    this.prefix = new Float64Array(n);
    this.reweight();
  }

  pick(_hashKey?: string, explain?: PickDecision): E | undefined {
    const n = this.endpoints.length;
    if (n < 2) {
      if (n === 1 && explain !== undefined) explainSingle(explain, this.name, RULES.only, this.endpoints[0]!, Number.NaN);
      return n === 1 ? this.endpoints[0] : undefined;
    }
    const random = this.random;
    const now = this.clock.now();
    if (now >= this.validUntil) this.reweight();
    let i: number;
    let j: number;
    if (this.uniform) {
      i = randInt(random, n);
      j = randInt(random, n - 1);
      if (j >= i) j++;
    } else {
      const prefix = this.prefix;
      const total = this.total;
      i = searchPrefix(prefix, n, random.next() * total);
      j = searchPrefix(prefix, n, random.next() * total);
      if (j === i) j = searchPrefix(prefix, n, random.next() * total);
      if (j === i) {
        // One endpoint dominates the weights: take any other one uniformly.
        j = randInt(random, n - 1);
        if (j >= i) j++;
      }
    }
    const k = this.choose(i, j, now);
    if (explain !== undefined) this.explain(explain, i, j, k, now);
    this.pickedAt[k] = now;
    this.pickedSeq[k] = ++this.seq;
    return this.endpoints[k];
  }

  /** The better of candidates i and j (i first drawn). */
  private choose(i: number, j: number, now: number): number {
    const li = this.loads[i]!;
    const lj = this.loads[j]!;
    const mi = li.rttMean;
    const mj = lj.rttMean;
    const pi = li.penaltyAt(now);
    const pj = lj.penaltyAt(now);
    let ri = pi > mi ? pi : mi;
    let rj = pj > mj ? pj : mj;
    let di = li.rttDeviation;
    let dj = lj.rttDeviation;
    // Both report their utilization (ORCA): every comparison below weighs each by f = 1 + utilization.
    let fi = 1;
    let fj = 1;
    if (li.orca !== null && lj.orca !== null) {
      const f = orcaFactor(li, lj, now);
      if (f !== 0) {
        fi = f;
        fj = orcaFactor(lj, li, now);
        ri *= fi;
        di *= fi;
        rj *= fj;
        dj *= fj;
      }
    }
    const qi = this.uniform ? li.pending : li.pending * this.invRel[i]!;
    const qj = this.uniform ? lj.pending : lj.pending * this.invRel[j]!;
    if (pi <= mi && pj <= mj) {
      const stale = (ri * (now - this.pickedAt[i]!) + rj * (now - this.pickedAt[j]!)) * this.invProbe;
      const band = this.floor + this.factor * (di + dj + stale);
      const diff = ri - rj;
      // An endpoint never measured is as good as any until its first answer (its pending count still limits it).
      if ((diff <= band && -diff <= band) || li.rttSamples === 0 || lj.rttSamples === 0) {
        const wi = qi * fi;
        const wj = qj * fj;
        if (wi !== wj) {
          this.why = WHY_FEWER;
          return wj < wi ? j : i;
        }
        if (!this.uniform) {
          this.why = WHY_WEIGHTED;
          return i;
        }
        if (fi !== fj) {
          // Different utilization reports: shares in proportion to 1 / f (a strict rule would starve the busier one, and with it its reports).
          this.why = WHY_UTILIZATION;
          return this.random.next() * (fi + fj) < fi ? j : i;
        }
        this.why = WHY_LEAST_RECENT;
        return this.pickedSeq[j]! < this.pickedSeq[i]! ? j : i;
      }
    }
    this.why = WHY_COST;
    return this.cost(j, rj, qj) < this.cost(i, ri, qi) ? j : i;
  }

  /** Latency cost: max(r, noiseFloor) × (pending + 1) / (usual pending + 1), pending counts scaled by relative weight. */
  private cost(i: number, r: number, q: number): number {
    const floor = this.floor;
    return ((r > floor ? r : floor) * (q + 1)) / (this.loads[i]!.pendingMean * (this.uniform ? 1 : this.invRel[i]!) + 1);
  }

  /** Records candidates i and j (k picked) with their cost inputs. Off the hot path: only explained picks come here. */
  private explain(d: PickDecision, i: number, j: number, k: number, now: number): void {
    d.policy = this.name;
    d.rule = WHY[this.why]!;
    for (const x of [i, j]) {
      const l = this.loads[x]!;
      const c = d.add(this.endpoints[x]!);
      const p = l.penaltyAt(now);
      let r = p > l.rttMean ? p : l.rttMean;
      const other = this.loads[x === i ? j : i]!;
      if (l.orca !== null && other.orca !== null) {
        const f = orcaFactor(l, other, now);
        if (f !== 0) r *= f;
      }
      c.latencyMs = p > l.rttMean ? p : l.rttMean;
      c.weight = this.weights[x]!;
      c.cost = this.cost(x, r, this.uniform ? l.pending : l.pending * this.invRel[x]!);
      if (x === k) d.chosen = d.count - 1;
    }
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
