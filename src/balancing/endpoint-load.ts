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
  /** What the endpoint reports about its own load (ORCA), when its service asks for reports; null otherwise. */
  orca: OrcaState | null = null;

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
  }

  /** A request is dispatched to the endpoint. Returns its start time, to pass to observeRtt / end. */
  begin(): number {
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
