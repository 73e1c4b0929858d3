import { newHistogram, type Histogram, type LatencySlots, WINDOW_COARSE_PERIODS, WINDOW_FINE_SECONDS } from './latency-histogram.js';

/*
 * Per-endpoint latency windows in a few kilobytes. A histogram per second
 * and per 10 s for every endpoint (16 of 4.5 KiB counters plus ~1 KiB of
 * object each) took ~115 MB at 1,000 endpoints, most of the proxy's memory.
 * Here only the second being recorded is a dense array (768 bytes, 16
 * sub-buckets per power of two: values within 3-6 %); a finished second is
 * kept as its non-empty buckets only, and a finished 10 s period as the sum
 * of its seconds. An endpoint sees a few distinct latency buckets per
 * second, so a finished slot takes tens of bytes, not kilobytes.
 */

/** Dense counters first made: values below 32,768 µs; grown to the whole range on the first longer one. */
const INITIAL_BUCKETS = 192;
/** Buckets up to MAX_LATENCY_US (60 s < 2^26 µs). */
const ALL_BUCKETS = 368;

/** The bucket of `us` (1 ≤ us < 2^26): exact below 32, then 16 sub-buckets per power of two (HdrHistogram's layout at 1 digit). */
export function compactBucket(us: number): number {
  const shift = 27 - Math.clz32(us | 31);
  return (shift << 4) + (us >>> shift);
}

/** The highest value that falls in bucket `i`. */
export function compactBucketHighest(i: number): number {
  if (i < 32) return i;
  const shift = (i >> 4) - 1;
  return ((i - (shift << 4)) << shift) + (1 << shift) - 1;
}

/** One scratch array for adding a period's seconds up (no per-period allocation). */
const scratch = new Uint32Array(ALL_BUCKETS);

/** A finished slot: [max µs, bucket, count, bucket, count, …] of its non-empty buckets. */
type Sparse = Uint32Array;

function sparseOf(dense: Uint32Array, max: number): Sparse {
  let n = 0;
  for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) n++;
  const out = new Uint32Array(1 + 2 * n);
  out[0] = max;
  let k = 1;
  for (let i = 0; i < dense.length; i++) {
    const c = dense[i]!;
    if (c === 0) continue;
    out[k++] = i;
    out[k++] = c;
  }
  return out;
}

/**
 * Adds buckets to a full-resolution histogram at each bucket's highest value
 * (HdrHistogram's percentiles report the highest equivalent value too); the
 * maximum's bucket is recorded at the exact maximum, so `max` stays exact.
 */
function addSparse(into: Histogram, s: Sparse): void {
  const max = s[0]!;
  const maxBucket = compactBucket(max);
  for (let k = 1; k < s.length; k += 2) {
    const b = s[k]!;
    into.recordValueWithCount(b === maxBucket ? max : compactBucketHighest(b), s[k + 1]!);
  }
}

function addDense(into: Histogram, d: Uint32Array, max: number): void {
  const maxBucket = compactBucket(max);
  for (let b = 0; b < d.length; b++) {
    const c = d[b]!;
    if (c !== 0) into.recordValueWithCount(b === maxBucket ? max : compactBucketHighest(b), c);
  }
}

/**
 * The same 10 s and 1 min windows as HdrLatencySlots at a coarser
 * resolution, for the many per-endpoint series. Nothing is allocated until
 * the first record.
 */
export class CompactLatencySlots implements LatencySlots {
  /** Counts of the second being recorded (`sec`), made at the first record. */
  private current: Uint32Array | undefined = undefined;
  private currentMax = 0;
  private sec = -1;
  private readonly fine: (Sparse | undefined)[] = new Array(WINDOW_FINE_SECONDS).fill(undefined);
  private readonly fineEpoch = new Float64Array(WINDOW_FINE_SECONDS).fill(-1);
  private readonly coarse: (Sparse | undefined)[] = new Array(WINDOW_COARSE_PERIODS).fill(undefined);
  private readonly coarseEpoch = new Float64Array(WINDOW_COARSE_PERIODS).fill(-1);

  record(sec: number, us: number): void {
    if (sec !== this.sec) this.roll(sec);
    const b = compactBucket(us);
    let d = this.current!;
    if (b >= d.length) {
      const grown = new Uint32Array(ALL_BUCKETS);
      grown.set(d);
      d = this.current = grown;
    }
    d[b]!++;
    if (us > this.currentMax) this.currentMax = us;
  }

  /** Files the finished second (and its 10 s period once that is over); `sec` becomes current. */
  private roll(sec: number): void {
    const prev = this.sec;
    this.sec = sec;
    const d = this.current;
    if (d === undefined) {
      this.current = new Uint32Array(INITIAL_BUCKETS);
      return;
    }
    const f = prev % WINDOW_FINE_SECONDS;
    this.fine[f] = sparseOf(d, this.currentMax);
    this.fineEpoch[f] = prev;
    d.fill(0);
    this.currentMax = 0;
    const period = Math.floor(prev / 10);
    if (Math.floor(sec / 10) !== period) this.closePeriod(period);
  }

  /** The seconds of a finished 10 s period (all still in the 10 fine slots) as one coarse slot. */
  private closePeriod(period: number): void {
    let max = 0;
    let any = false;
    for (let i = 0; i < WINDOW_FINE_SECONDS; i++) {
      const s = this.fine[i];
      if (s === undefined || Math.floor(this.fineEpoch[i]! / 10) !== period) continue;
      any = true;
      if (s[0]! > max) max = s[0]!;
      for (let k = 1; k < s.length; k += 2) scratch[s[k]!]! += s[k + 1]!;
    }
    if (!any) return;
    const c = period % WINDOW_COARSE_PERIODS;
    this.coarse[c] = sparseOf(scratch, max);
    this.coarseEpoch[c] = period;
    scratch.fill(0);
  }

  mergeInto(into: Histogram | undefined, sec: number, windowSec: number): Histogram | undefined {
    if (this.current === undefined) return into;
    const fineWindow = windowSec <= WINDOW_FINE_SECONDS;
    // Seconds after `after` up to `sec` are in the window.
    const after = fineWindow ? sec - windowSec : (Math.floor(sec / 10) - WINDOW_COARSE_PERIODS) * 10 + 9;
    if (this.sec > after && this.sec <= sec && this.currentMax > 0) addDense((into ??= newHistogram()), this.current, this.currentMax);
    // The open period (that of the current second) is only in the fine slots; finished ones are in the coarse slots.
    const open = Math.floor(this.sec / 10);
    for (let i = 0; i < WINDOW_FINE_SECONDS; i++) {
      const s = this.fine[i];
      const e = this.fineEpoch[i]!;
      if (s === undefined || e <= after || e > sec || s.length === 1) continue;
      if (!fineWindow && Math.floor(e / 10) !== open) continue;
      addSparse((into ??= newHistogram()), s);
    }
    if (fineWindow) return into;
    for (let i = 0; i < WINDOW_COARSE_PERIODS; i++) {
      const s = this.coarse[i];
      const e = this.coarseEpoch[i]!;
      if (s === undefined || e * 10 + 9 <= after || e * 10 > sec || s.length === 1) continue;
      addSparse((into ??= newHistogram()), s);
    }
    return into;
  }
}
