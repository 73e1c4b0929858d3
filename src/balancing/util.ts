/** Internal helpers shared by the policies. Not part of the public API. */
import type { Balanceable, RandomSource } from './types.js';
import type { SlowStart } from './slow-start.js';

/** Endpoints that may take new requests: finite weight > 0. */
export function eligible<E extends Balanceable>(endpoints: readonly E[]): E[] {
  const out: E[] = [];
  for (const e of endpoints) {
    const w = e.weight;
    if (w > 0 && Number.isFinite(w)) out.push(e);
  }
  return out;
}

export function allWeightsEqual(endpoints: readonly Balanceable[]): boolean {
  for (let i = 1; i < endpoints.length; i++) {
    if (endpoints[i]!.weight !== endpoints[0]!.weight) return false;
  }
  return true;
}

/** Uniform integer in [0, n). */
export function randInt(random: RandomSource, n: number): number {
  const i = Math.floor(random.next() * n);
  return i < n ? i : n - 1;
}

/**
 * Effective weights (configured weight × slow-start factor) written into `out`.
 * Returns the clock time until which they stay valid: +Infinity when no endpoint
 * ramps, otherwise now + reweight interval (capped at the earliest ramp end).
 */
export function effectiveWeights(
  endpoints: readonly Balanceable[],
  slowStart: SlowStart | undefined,
  now: number,
  reweightMs: number,
  out: Float64Array,
): number {
  let validUntil = Number.POSITIVE_INFINITY;
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i]!;
    let w = e.weight;
    if (slowStart !== undefined && slowStart.ramping(e.readySince, now)) {
      w *= slowStart.factor(e.readySince, now);
      const rampEnd = e.readySince + slowStart.window;
      const next = Math.min(now + reweightMs, rampEnd);
      if (next < validUntil) validUntil = next;
    }
    out[i] = w;
  }
  return validUntil;
}

/** Fill `prefix` with cumulative sums of `weights`; returns the total. */
export function prefixSums(weights: Float64Array, n: number, prefix: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += weights[i]!;
    prefix[i] = sum;
  }
  return sum;
}

/** Index i with prefix[i-1] <= x < prefix[i] (binary search). */
export function searchPrefix(prefix: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (prefix[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Binary min-heap of endpoint indices ordered by deadline (ties: lower index),
 * for earliest-deadline-first scheduling. Allocation-free after construction.
 */
export class DeadlineHeap {
  readonly heap: Int32Array;
  readonly deadline: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.heap = new Int32Array(capacity);
    this.deadline = new Float64Array(capacity);
  }

  /** Heapify indices 0..n-1 using the deadlines already written. */
  build(n: number): void {
    this.size = n;
    for (let i = 0; i < n; i++) this.heap[i] = i;
    for (let i = (n >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  top(): number {
    return this.heap[0]!;
  }

  /** Change the top entry's deadline and restore heap order. */
  replaceTopDeadline(d: number): void {
    this.deadline[this.heap[0]!] = d;
    this.siftDown(0);
  }

  /**
   * Deadlines closer than a relative 1e-12 count as equal (then the lower
   * index wins), so that ties which are exact in real arithmetic resolve the
   * same way whatever the floating-point rounding.
   */
  private less(a: number, b: number): boolean {
    const da = this.deadline[a]!;
    const db = this.deadline[b]!;
    const tol = (da > 0 ? da : -da) * 1e-12;
    if (da < db - tol) return true;
    if (da > db + tol) return false;
    return a < b;
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const n = this.size;
    const item = heap[pos]!;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.less(heap[right]!, heap[child]!)) child = right;
      if (!this.less(heap[child]!, item)) break;
      heap[pos] = heap[child]!;
      pos = child;
    }
    heap[pos] = item;
  }
}
