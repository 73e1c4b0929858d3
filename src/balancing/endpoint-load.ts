import type { Clock } from './types.js';
import type { OrcaState } from './orca-weight.js';

export interface EndpointLoadOptions {
  /** RTT assumed before the first sample (ms). Default 30. */
  defaultRttMs?: number;
  /** Decay time constant of the EWMA (ms). Default 10000. */
  decayMs?: number;
  /**
   * Smallest RTT sample fed in for a failed request (ms). Default 1000.
   * See `EndpointLoad.end` for how the penalty is derived.
   */
  failurePenaltyMs?: number;
}

export const DEFAULT_RTT_MS = 30;
export const DEFAULT_DECAY_MS = 10_000;
export const DEFAULT_FAILURE_PENALTY_MS = 1_000;
/**
 * Smallest per-sample weight of the smoothed mean and deviation once warmed
 * up (the first samples are averaged exactly: 1, 1/2, 1/3 …). Without a floor
 * a time-based EWMA converges in `decay` whatever the request rate: at
 * thousands of requests per second the estimate would still sit near
 * `defaultRtt` seconds after start.
 */
const MIN_SAMPLE_GAIN = 1 / 8;
const PENDING_GAIN = 1 / 16;
/** A failure penalty never exceeds this multiple of `failurePenaltyMs`, so a dead endpoint is re-probed within ~decay × ln(30 s / rtt). */
const PENALTY_CAP_FACTOR = 30;

/**
 * Per-endpoint load record shared by the proxy (which updates it) and the
 * balancing policies (which read it). Holds the number of requests in flight
 * and a peak-EWMA estimate of the round-trip time (time to first response byte).
 *
 * Peak EWMA (as in Finagle / Linkerd / tower): a sample above the current
 * estimate replaces it at once; a sample below pulls the estimate down
 * gradually, with weight `exp(-elapsed / decay)` for the old value. Between
 * samples the estimate decays towards zero with the same time constant (every
 * read acts as a zero-latency sample, as in tower), so an endpoint that was
 * slow and has since been avoided is eventually probed again; the probe's
 * sample then lifts the estimate straight back up if it is still slow.
 *
 * Lifecycle, driven by the proxy for every request sent to the endpoint:
 *   const t = load.begin();       // at dispatch
 *   load.observeRtt(t);           // at the first response byte (optional)
 *   load.end(t, failed);          // exactly once, when the response and its trailers finished or it was reset
 */
export class EndpointLoad {
  /** Requests dispatched and not yet ended. */
  pending = 0;
  /**
   * Smoothed mean of the RTT samples (ms), without the peak rule: the first
   * samples are averaged exactly, later ones weigh max(1/8, 1 − exp(−gap / decay)).
   * `defaultRtt` until the first sample. Read by the peak-ewma policy's noise test.
   */
  rttMean: number;
  /** Smoothed mean absolute deviation of the samples from `rttMean` (ms); `defaultRtt / 2` until the first sample. */
  rttDeviation: number;
  /**
   * Smoothed number of requests already in flight when one is dispatched
   * (weight 1/16 per dispatch): the concurrency the RTT samples were measured at.
   */
  pendingMean = 0;
  /** RTT samples observed so far. */
  rttSamples = 0;
  /** Clock time of the last RTT sample (construction time before the first). */
  lastSampleAt: number;

  /** Failure penalty (ms) at `penaltyStamp`; decays towards zero with `decay`. 0 = none. */
  private penalty = 0;
  private penaltyStamp = 0;
  /** What the endpoint reports about its own load (ORCA), when its service asks for reports; null otherwise. */
  orca: OrcaState | null = null;

  /** The endpoint's own utilization report (ORCA), 0–1; undefined without one. Zone-aware spill reads it. */
  get utilization(): number | undefined {
    const o = this.orca;
    return o === null || o.reports === 0 ? undefined : o.utilization;
  }

  private estimate: number;
  private stamp: number;
  private readonly decayMs: number;
  private readonly failurePenaltyMs: number;
  private readonly clock: Clock;

  constructor(clock: Clock, options: EndpointLoadOptions = {}) {
    this.clock = clock;
    const rtt = options.defaultRttMs ?? DEFAULT_RTT_MS;
    const decay = options.decayMs ?? DEFAULT_DECAY_MS;
    const penalty = options.failurePenaltyMs ?? DEFAULT_FAILURE_PENALTY_MS;
    if (!(rtt >= 0) || !Number.isFinite(rtt)) throw new RangeError('defaultRttMs must be a finite number >= 0');
    if (!(decay > 0) || !Number.isFinite(decay)) throw new RangeError('decayMs must be a finite number > 0');
    if (!(penalty >= 0) || !Number.isFinite(penalty)) throw new RangeError('failurePenaltyMs must be a finite number >= 0');
    this.estimate = rtt;
    this.decayMs = decay;
    this.failurePenaltyMs = penalty;
    this.stamp = clock.now();
    this.rttMean = rtt;
    this.rttDeviation = rtt / 2;
    this.lastSampleAt = this.stamp;
  }

  /** A request is dispatched to the endpoint. Returns its start time, to pass to observeRtt / end. */
  begin(): number {
    this.pendingMean += (this.pending - this.pendingMean) * PENDING_GAIN;
    this.pending++;
    return this.clock.now();
  }

  /** The first response byte arrived for the request started at `startedAt`. */
  observeRtt(startedAt: number): void {
    const now = this.clock.now();
    let sample = now - startedAt;
    if (sample < 0) sample = 0;
    const elapsed = now - this.stamp;
    const w = elapsed > 0 ? Math.exp(-elapsed / this.decayMs) : 1;
    const current = this.estimate * w;
    if (sample > current) {
      this.estimate = sample;
    } else {
      this.estimate = current * w + sample * (1 - w);
    }
    this.stamp = now;
    this.observeMean(sample, now);
  }

  private observeMean(sample: number, now: number): void {
    const n = ++this.rttSamples;
    if (n === 1) {
      // The first sample replaces the default. One sample proves nothing (it often
      // includes connection set-up): a deviation as large as the sample keeps the
      // endpoint indistinguishable from any faster one until more samples agree.
      this.rttMean = sample;
      this.rttDeviation = sample;
    } else {
      let g = 1 / n;
      if (g < MIN_SAMPLE_GAIN) {
        const gap = now - this.lastSampleAt;
        g = gap > 0 ? 1 - Math.exp(-gap / this.decayMs) : 0;
        if (g < MIN_SAMPLE_GAIN) g = MIN_SAMPLE_GAIN;
      }
      const diff = sample - this.rttMean;
      this.rttMean += g * diff;
      this.rttDeviation += g * ((diff < 0 ? -diff : diff) - this.rttDeviation);
    }
    this.lastSampleAt = now;
  }

  /**
   * The request started at `startedAt` is over (response and trailers done, or reset).
   * Must be called exactly once per `begin()`.
   *
   * On failure a penalty sample is fed in, so that an endpoint which fails
   * fast never looks fast: penalty = clamp(2 × current estimate,
   * failurePenaltyMs, 30 × failurePenaltyMs). It is applied as a peak only —
   * it raises the estimate if larger and otherwise leaves it untouched, so a
   * failure never lowers the estimate. The floor (1 s by default) dwarfs
   * normal RPC latencies; doubling makes repeated failures count even for
   * slow services; the cap bounds how long a recovered endpoint stays shunned.
   */
  end(startedAt: number, failed: boolean): void {
    void startedAt;
    if (this.pending > 0) this.pending--;
    if (!failed) return;
    const now = this.clock.now();
    const current = this.decayed(now);
    let penalty = current * 2;
    if (penalty < this.failurePenaltyMs) penalty = this.failurePenaltyMs;
    const cap = this.failurePenaltyMs * PENALTY_CAP_FACTOR;
    if (penalty > cap) penalty = cap;
    if (penalty > current) {
      this.estimate = penalty;
      this.stamp = now;
    }
    if (penalty > this.penaltyAt(now)) {
      this.penalty = penalty;
      this.penaltyStamp = now;
    }
  }

  /**
   * The failure penalty (ms) decayed to `now`: 0 when the endpoint has not
   * failed, else the last penalty × exp(−elapsed / decay). Kept apart from
   * `rttMean` so that a recovered endpoint's latency statistics are not
   * polluted by a synthetic sample.
   */
  penaltyAt(now: number): number {
    const p = this.penalty;
    if (p === 0) return 0;
    const elapsed = now - this.penaltyStamp;
    return elapsed <= 0 ? p : p * Math.exp(-elapsed / this.decayMs);
  }

  /** The RTT estimate (ms) decayed to the current time. Does not modify state. */
  rttEstimate(): number {
    return this.decayed(this.clock.now());
  }

  /** Load cost used by peak-EWMA balancing: rttEstimate × (pending + 1). */
  cost(): number {
    return this.decayed(this.clock.now()) * (this.pending + 1);
  }

  /** rttEstimate() at a given clock time (lets a policy read the clock once per pick). */
  rttEstimateAt(now: number): number {
    return this.decayed(now);
  }

  /** cost() at a given clock time. */
  costAt(now: number): number {
    return this.decayed(now) * (this.pending + 1);
  }

  private decayed(now: number): number {
    const elapsed = now - this.stamp;
    if (elapsed <= 0) return this.estimate;
    return this.estimate * Math.exp(-elapsed / this.decayMs);
  }
}
