import { REASON_COUNT, REASON_NAMES } from './failure-reason.js';
import { CompactLatencySlots } from './compact-latency-slots.js';
import { HdrLatencySlots, MAX_LATENCY_US, newHistogram, percentiles, type Histogram, type LatencySlots, type Percentiles } from './latency-histogram.js';

export { MAX_LATENCY_US, type Percentiles } from './latency-histogram.js';

/**
 * Classification of a finished request. `refused`: authorization turned it
 * away; the client's doing, so neither a success nor a failure of the
 * service (like `cancelled`, left out of the success rate).
 */
export const Outcome = { SUCCESS: 0, FAILURE: 1, CANCELLED: 2, REFUSED: 3 } as const;
export const OUTCOME_NAMES = ['success', 'failure', 'cancelled', 'refused'] as const;
/** Counters per second and outcome. */
const OUTCOMES = OUTCOME_NAMES.length;

const SECONDS = 60;

export interface WindowSnapshot {
  /** Requests that finished in the window. */
  requests: number;
  rps: number;
  successes: number;
  failures: number;
  cancelled: number;
  /** Refused by authorization. */
  refused: number;
  /** successes / (successes + failures); cancelled and refused requests are not counted; null without requests. */
  successRate: number | null;
  /** Failures and refusals by reason (`no-endpoint`, `timeout`, `upstream-5xx`, `permission-denied`…); reasons without any are left out. */
  failureReasons: Record<string, number>;
  latencyMs: Percentiles;
}

/**
 * Sliding-window statistics of one key (a listener × route × service, an
 * endpoint's series or a method): request counts per second for the last
 * minute, and latencies per second (last 10 s) and per 10 s (last minute),
 * merged when read. Recording costs a few array writes and the latency
 * slots' record; slots are reused in place.
 */
export class WindowStats {
  private readonly secEpoch = new Float64Array(SECONDS).fill(-1);
  private readonly secCounts = new Uint32Array(SECONDS * OUTCOMES);
  private readonly latency: LatencySlots;
  /** Failures per second and reason (REASON_COUNT per second), made at the first failure. */
  private secReasons: Uint32Array | undefined = undefined;
  /** Since start. */
  total = 0;
  totalFailures = 0;
  totalCancelled = 0;
  totalRefused = 0;
  /** Failures and refusals by reason index since start (failure-reason.ts), made at the first failure. */
  totalReasons: Uint32Array | undefined = undefined;

  /**
   * `compact`: latencies kept at 3-6 % resolution in a few kilobytes
   * (compact-latency-slots.ts), for keys there can be thousands of (one per
   * endpoint); otherwise exact to 1 %.
   */
  constructor(compact = false) {
    this.latency = compact ? new CompactLatencySlots() : new HdrLatencySlots();
  }

  /**
   * `sec`: the second (of performance.now()) the request finished in; `us`:
   * its latency; `reason`: the failure reason's index (0 for none).
   */
  record(sec: number, us: number, outcome: number, reason = 0): void {
    this.total++;
    if (outcome === Outcome.FAILURE) this.totalFailures++;
    else if (outcome === Outcome.CANCELLED) this.totalCancelled++;
    else if (outcome === Outcome.REFUSED) this.totalRefused++;
    const i = sec % SECONDS;
    const counts = this.secCounts;
    if (this.secEpoch[i] !== sec) {
      this.secEpoch[i] = sec;
      counts.fill(0, i * OUTCOMES, (i + 1) * OUTCOMES);
      if (this.secReasons !== undefined) this.secReasons.fill(0, i * REASON_COUNT, (i + 1) * REASON_COUNT);
    }
    counts[i * OUTCOMES + outcome]!++;
    if (reason !== 0) {
      (this.secReasons ??= new Uint32Array(SECONDS * REASON_COUNT))[i * REASON_COUNT + reason]!++;
      (this.totalReasons ??= new Uint32Array(REASON_COUNT))[reason]!++;
    }
    if (us < 1) us = 1;
    else if (us > MAX_LATENCY_US) us = MAX_LATENCY_US;
    this.latency.record(sec, us);
  }

  /**
   * The window of `windowSec` (10 or 60) seconds ending at `nowMs`
   * (performance.now()). `elapsedSec` caps the rate's denominator while the
   * process is younger than the window.
   */
  snapshot(nowMs: number, windowSec: number, elapsedSec: number): WindowSnapshot {
    return WindowStats.combined([this], nowMs, windowSec, elapsedSec);
  }

  /** One window over several keys (e.g. every series of a service), merged when read. */
  static combined(list: readonly WindowStats[], nowMs: number, windowSec: number, elapsedSec: number): WindowSnapshot {
    const g = WindowStats.gather(list, nowMs, windowSec);
    return snapshotOf(g, rateSpan(nowMs, windowSec, elapsedSec), percentiles(g.merged));
  }

  /**
   * The same window plus its latency histogram as plain numbers, so that
   * another process can add windows of several processes up and compute
   * percentiles of the union (worker mode: the primary merges the workers').
   */
  static exported(list: readonly WindowStats[], nowMs: number, windowSec: number, elapsedSec: number): WindowExport {
    const g = WindowStats.gather(list, nowMs, windowSec);
    return { ...snapshotOf(g, rateSpan(nowMs, windowSec, elapsedSec), percentiles(g.merged)), latencyHistogram: exportHistogram(g.merged) };
  }

  private static gather(list: readonly WindowStats[], nowMs: number, windowSec: number): Gathered {
    const sec = Math.floor(nowMs / 1000);
    const g: Gathered = { s: 0, f: 0, c: 0, x: 0, reasons: undefined, merged: undefined };
    for (const w of list) {
      const wr = w.secReasons;
      for (let i = 0; i < SECONDS; i++) {
        const e = w.secEpoch[i]!;
        if (e > sec - windowSec && e <= sec) {
          const k = i * OUTCOMES;
          g.s += w.secCounts[k]!;
          g.f += w.secCounts[k + Outcome.FAILURE]!;
          g.c += w.secCounts[k + Outcome.CANCELLED]!;
          g.x += w.secCounts[k + Outcome.REFUSED]!;
          if (wr !== undefined && (w.secCounts[k + Outcome.FAILURE]! > 0 || w.secCounts[k + Outcome.REFUSED]! > 0)) {
            g.reasons ??= new Uint32Array(REASON_COUNT);
            for (let r = 1; r < REASON_COUNT; r++) g.reasons[r]! += wr[i * REASON_COUNT + r]!;
          }
        }
      }
      g.merged = w.latency.mergeInto(g.merged, sec, windowSec);
    }
    return g;
  }
}

/** A latency histogram as plain numbers: [bucket index, count] pairs of its non-empty buckets and the exact maximum (µs). */
export interface HistogramExport {
  counts: number[];
  maxUs: number;
}

export interface WindowExport extends WindowSnapshot {
  latencyHistogram: HistogramExport;
}

interface Gathered {
  s: number;
  f: number;
  c: number;
  x: number;
  reasons: Uint32Array | undefined;
  merged: Histogram | undefined;
}

/** The seconds a window's rate is divided by. */
function rateSpan(nowMs: number, windowSec: number, elapsedSec: number): number {
  // The slots cover the last windowSec - 1 whole seconds and the current partial one.
  let span = windowSec - 1 + (nowMs / 1000 - Math.floor(nowMs / 1000));
  if (elapsedSec < span) span = elapsedSec;
  if (span < 1) span = 1;
  return span;
}

function snapshotOf(g: Gathered, span: number, latencyMs: Percentiles): WindowSnapshot {
  const requests = g.s + g.f + g.c + g.x;
  return {
    requests,
    rps: requests / span,
    successes: g.s,
    failures: g.f,
    cancelled: g.c,
    refused: g.x,
    successRate: g.s + g.f > 0 ? g.s / (g.s + g.f) : null,
    failureReasons: reasonRecord(g.reasons),
    latencyMs,
  };
}

function exportHistogram(h: Histogram | undefined): HistogramExport {
  const counts: number[] = [];
  if (h === undefined || h.totalCount === 0) return { counts, maxUs: 0 };
  for (let i = 0; i < h.countsArrayLength; i++) {
    const n = h.getCountAtIndex(i);
    if (n > 0) counts.push(i, n);
  }
  return { counts, maxUs: h.maxValue };
}

/**
 * Percentiles of the union of exported histograms: their counts are added
 * bucket by bucket (same layout in every process), so the result is what
 * one process recording every request would report, never an average of
 * percentiles.
 */
export function mergedPercentiles(list: readonly HistogramExport[]): Percentiles {
  let h: Histogram | undefined;
  for (const x of list) {
    if (x.counts.length === 0) continue;
    h ??= newHistogram();
    const maxIndex = h.countsArrayIndex(x.maxUs);
    for (let k = 0; k < x.counts.length; k += 2) {
      const i = x.counts[k]!;
      // The bucket of the maximum is recorded at the maximum itself, so max stays exact.
      h.recordValueWithCount(i === maxIndex ? x.maxUs : h.valueFromIndex(i), x.counts[k + 1]!);
    }
  }
  return percentiles(h);
}

/** Non-zero reason counts by name, most frequent first. */
export function reasonRecord(counts: Uint32Array | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (counts === undefined) return out;
  const order: number[] = [];
  for (let r = 1; r < counts.length; r++) if (counts[r]! > 0) order.push(r);
  order.sort((a, b) => counts[b]! - counts[a]!);
  for (const r of order) out[REASON_NAMES[r]!] = counts[r]!;
  return out;
}
