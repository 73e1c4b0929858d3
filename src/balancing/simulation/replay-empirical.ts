import type { RandomSource } from '../types.js';
import type { Distribution } from './distributions.js';

/** Nearest-rank quantile of sorted data (NaN when empty). */
export function sortedQuantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil(q * n) - 1;
  return sorted[rank < 0 ? 0 : rank >= n ? n - 1 : rank]!;
}

/**
 * Latencies drawn from recorded ones (a bootstrap: each sample is one of the
 * recorded values, picked uniformly). Keeps the recording's tail and modes
 * exactly, with no fitted shape to get wrong.
 */
export class EmpiricalDistribution implements Distribution {
  readonly sorted: Float64Array;

  constructor(samples: ArrayLike<number>) {
    if (samples.length === 0) throw new RangeError('an empirical distribution needs at least one sample');
    this.sorted = Float64Array.from(samples).sort();
  }

  get size(): number {
    return this.sorted.length;
  }

  quantile(q: number): number {
    return sortedQuantile(this.sorted, q);
  }

  get label(): string {
    return `empirical(n ${this.sorted.length}, p50 ${this.quantile(0.5).toFixed(2)}ms, p99 ${this.quantile(0.99).toFixed(2)}ms)`;
  }

  sample(random: RandomSource): number {
    return this.sorted[Math.floor(random.next() * this.sorted.length)]!;
  }
}
