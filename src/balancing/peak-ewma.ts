import type { Balanceable, Clock, LoadBalancer, RandomSource } from './types.js';
import type { EndpointLoad } from './endpoint-load.js';
import { SLOW_START_REWEIGHT_MS, type SlowStart } from './slow-start.js';
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

  pick(): E | undefined {
    const n = this.endpoints.length;
    if (n < 2) return n === 1 ? this.endpoints[0] : undefined;
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
    const ri = pi > mi ? pi : mi;
    const rj = pj > mj ? pj : mj;
    const qi = this.uniform ? li.pending : li.pending * this.invRel[i]!;
    const qj = this.uniform ? lj.pending : lj.pending * this.invRel[j]!;
    if (pi <= mi && pj <= mj) {
      const stale = (ri * (now - this.pickedAt[i]!) + rj * (now - this.pickedAt[j]!)) * this.invProbe;
      const band = this.floor + this.factor * (li.rttDeviation + lj.rttDeviation + stale);
      const diff = ri - rj;
      // An endpoint never measured is as good as any until its first answer (its pending count still limits it).
      if ((diff <= band && -diff <= band) || li.rttSamples === 0 || lj.rttSamples === 0) {
        if (qi !== qj) return qj < qi ? j : i;
        if (!this.uniform) return i;
        return this.pickedSeq[j]! < this.pickedSeq[i]! ? j : i;
      }
    }
    const floor = this.floor;
    const ci = ((ri > floor ? ri : floor) * (qi + 1)) / (li.pendingMean * (this.uniform ? 1 : this.invRel[i]!) + 1);
    const cj = ((rj > floor ? rj : floor) * (qj + 1)) / (lj.pendingMean * (this.uniform ? 1 : this.invRel[j]!) + 1);
    return cj < ci ? j : i;
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
