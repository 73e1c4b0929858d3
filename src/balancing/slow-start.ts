/**
 * Slow start: an endpoint that just became ready takes a reduced share of new
 * requests that ramps up to its full weight over `window` ms (like Envoy's
 * slow_start_config):
 *
 *   factor = max(minWeightPercent / 100, (elapsed / window) ^ (1 / aggression))
 *
 * aggression 1 is a linear ramp; > 1 ramps faster early, < 1 slower early.
 */
export interface SlowStartConfig {
  /** Ramp duration (ms). */
  window: number;
  /** Weight at the start of the ramp, percent of the configured weight. Default 10. */
  minWeightPercent: number;
  /** Ramp curve exponent (1 = linear). Default 1. */
  aggression: number;
}

export const DEFAULT_MIN_WEIGHT_PERCENT = 10;
export const DEFAULT_AGGRESSION = 1;
/** How often (clock ms) weighted policies re-derive snapshot weights while some endpoint ramps. */
export const SLOW_START_REWEIGHT_MS = 100;

export class SlowStart {
  readonly window: number;
  readonly minFactor: number;
  readonly invAggression: number;

  constructor(config: Partial<SlowStartConfig> & { window: number }) {
    const window = config.window;
    const minPct = config.minWeightPercent ?? DEFAULT_MIN_WEIGHT_PERCENT;
    const aggression = config.aggression ?? DEFAULT_AGGRESSION;
    if (!(window >= 0) || !Number.isFinite(window)) throw new RangeError('slowStart.window must be a finite number >= 0');
    if (!(minPct >= 0 && minPct <= 100)) throw new RangeError('slowStart.minWeightPercent must be within 0..100');
    if (!(aggression > 0) || !Number.isFinite(aggression)) throw new RangeError('slowStart.aggression must be > 0');
    this.window = window;
    this.minFactor = minPct / 100;
    this.invAggression = 1 / aggression;
  }

  /** Weight multiplier in [minFactor, 1] for an endpoint ready since `readySince`. */
  factor(readySince: number, now: number): number {
    const elapsed = now - readySince;
    if (elapsed >= this.window) return 1;
    if (elapsed <= 0) return this.minFactor;
    const f = this.invAggression === 1 ? elapsed / this.window : Math.pow(elapsed / this.window, this.invAggression);
    return f > this.minFactor ? f : this.minFactor;
  }

  /** Whether an endpoint ready since `readySince` is still ramping at `now`. */
  ramping(readySince: number, now: number): boolean {
    return now - readySince < this.window;
  }
}

/** Build a SlowStart from an optional config; `undefined` (or window 0) means off. */
export function makeSlowStart(config: Partial<SlowStartConfig> & { window: number } | undefined): SlowStart | undefined {
  if (config === undefined || config.window <= 0) return undefined;
  return new SlowStart(config);
}
