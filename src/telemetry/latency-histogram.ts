import { createRequire } from 'node:module';
import type Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';

type Int32HistogramCtor = typeof Int32HistogramModule.default;

/**
 * The package's pure-JavaScript 32-bit histogram, loaded directly: its main
 * entry also loads the WebAssembly build, which costs ~14 MB of resident
 * memory that a proxy recording with the JavaScript build never uses.
 */
const Int32Histogram = (createRequire(import.meta.url)('hdr-histogram-js/dist/Int32Histogram.js') as { default: Int32HistogramCtor }).default;

/**
 * The package's 32-bit histogram with its value-to-counter index in integer
 * arithmetic. The package computes it with Math.log2, Math.pow and a
 * division, so that it works up to 2^53; latencies stay below 2^31 µs
 * (MAX_LATENCY_US), where count-leading-zeros and shifts give the same
 * index. Two pow calls per recorded value were 2.7% of the proxy's CPU at
 * 1 x 100 streams (perf); values at or above 2^31 take the package's path.
 */
class LatencyHistogram extends Int32Histogram {
  override countsArrayIndex(value: number): number {
    if (!(value >= 0 && value < 2_147_483_648)) return super.countsArrayIndex(value);
    const unit = this.unitMagnitude;
    const half = this.subBucketHalfCountMagnitude;
    // floor(log2(value)) is 31 - clz32(value) for value >= 1; for value < 1 both give bucket 0 here.
    let bucket = 31 - Math.clz32(value) - half - unit;
    if (bucket < 0) bucket = 0;
    // floor(value / 2^(bucket + unit)): >>> truncates first, which floors a positive value.
    const sub = value >>> (bucket + unit);
    return ((bucket + 1) << half) + sub - this.subBucketHalfCount;
  }
}

export type Histogram = InstanceType<Int32HistogramCtor>;

/** Latencies are recorded in microseconds, from 1 µs up to this (longer ones are clamped). */
export const MAX_LATENCY_US = 60_000_000;

/**
 * The histogram of the windows that are read and exported: values exact to
 * 1 % (2 significant digits), the same bucket layout in every process so
 * that exported counts add up bucket by bucket.
 */
export function newHistogram(): Histogram {
  // Pure JavaScript build (no WebAssembly). The counters cover 16 ms and
  // grow with what is recorded (up to 60 s): ~1,150 of them (4.5 KiB)
  // instead of ~2,600 for the whole range.
  const h = new LatencyHistogram(1, 16_384, 2);
  h.autoResize = true;
  return h;
}

/** Latency percentiles of a window, in milliseconds (null when nothing was recorded). */
export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

export function percentiles(h: Histogram | undefined): Percentiles {
  if (h === undefined || h.totalCount === 0) return { p50: null, p95: null, p99: null, p999: null, max: null };
  const ms = (v: number): number => Math.round(v) / 1000;
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/**
 * Where a window's latency samples are kept: `mergeInto` adds those of the
 * window (the seconds after `after` up to `sec`, with `sec` the current
 * second) to `into`, made on first need, and returns it.
 */
export interface LatencySlots {
  record(sec: number, us: number): void;
  mergeInto(into: Histogram | undefined, sec: number, windowSec: number): Histogram | undefined;
}

const FINE_SLOTS = 10; // one histogram per second: the 10 s window
const COARSE_SLOTS = 6; // one histogram per 10 s: the 1 min window
export const WINDOW_FINE_SECONDS = FINE_SLOTS;
export const WINDOW_COARSE_PERIODS = COARSE_SLOTS;

/** The histogram of slot `i` for `epoch`: made on first use, reset when the slot held an older epoch. */
function slotOf(slots: (Histogram | undefined)[], epochs: Float64Array, i: number, epoch: number): Histogram {
  let h = slots[i];
  if (h === undefined) h = slots[i] = newHistogram();
  if (epochs[i] !== epoch) {
    epochs[i] = epoch;
    h.reset();
  }
  return h;
}

/**
 * Full-resolution slots (listener × route × service, paths): one histogram
 * per second for the last 10 s and one per 10 s for the last minute, made
 * on first use and reset in place (never reallocated).
 */
export class HdrLatencySlots implements LatencySlots {
  private readonly fine: (Histogram | undefined)[] = new Array(FINE_SLOTS).fill(undefined);
  private readonly fineEpoch = new Float64Array(FINE_SLOTS).fill(-1);
  private readonly coarse: (Histogram | undefined)[] = new Array(COARSE_SLOTS).fill(undefined);
  private readonly coarseEpoch = new Float64Array(COARSE_SLOTS).fill(-1);

  record(sec: number, us: number): void {
    slotOf(this.fine, this.fineEpoch, sec % FINE_SLOTS, sec).recordValue(us);
    const ten = (sec - (sec % 10)) / 10;
    slotOf(this.coarse, this.coarseEpoch, ten % COARSE_SLOTS, ten).recordValue(us);
  }

  mergeInto(into: Histogram | undefined, sec: number, windowSec: number): Histogram | undefined {
    const fine = windowSec <= FINE_SLOTS;
    const upTo = fine ? sec : Math.floor(sec / 10);
    const after = fine ? sec - windowSec : upTo - COARSE_SLOTS;
    const hs = fine ? this.fine : this.coarse;
    const epochs = fine ? this.fineEpoch : this.coarseEpoch;
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i];
      const e = epochs[i]!;
      if (h === undefined || e <= after || e > upTo || h.totalCount === 0) continue;
      into ??= newHistogram();
      into.add(h as never);
    }
    return into;
  }
}
