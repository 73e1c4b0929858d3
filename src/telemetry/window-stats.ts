import { createRequire } from 'node:module';
import type Int32HistogramModule from 'hdr-histogram-js/dist/Int32Histogram.js';

import { REASON_COUNT, REASON_NAMES } from './failure-reason.js';

type Int32HistogramCtor = typeof Int32HistogramModule.default;

/**
 * The package's pure-JavaScript 32-bit histogram, loaded directly: its main
 * entry also loads the WebAssembly build, which costs ~14 MB of resident
 * memory that a proxy recording with the JavaScript build never uses.
 */
const Int32Histogram = (createRequire(import.meta.url)('hdr-histogram-js/dist/Int32Histogram.js') as { default: Int32HistogramCtor }).default;

/** Latencies are recorded in microseconds, from 1 µs up to this (longer ones are clamped). */
export const MAX_LATENCY_US = 60_000_000;

/**
 * Classification of a finished request. `refused`: authorization turned it
 * away; the client's doing, so neither a success nor a failure of the
 * service (like `cancelled`, left out of the success rate).
 */
export const Outcome = { SUCCESS: 0, FAILURE: 1, CANCELLED: 2, REFUSED: 3 } as const;
export const OUTCOME_NAMES = ['success', 'failure', 'cancelled', 'refused'] as const;
/** Counters per second and outcome. */
const OUTCOMES = OUTCOME_NAMES.length;

type Histogram = InstanceType<Int32HistogramCtor>;

function newHistogram(): Histogram {
  // Pure JavaScript build (no WebAssembly), 2 significant digits: values are
  // exact to 1 %. The counters cover 16 ms and grow with what is recorded
  // (up to 60 s): ~1,150 of them (4.5 KiB) instead of ~2,600 for the whole
  // range, which counts with a histogram per second per endpoint.
  const h = new Int32Histogram(1, 16_384, 2);
  h.autoResize = true;
  return h;
}

const SECONDS = 60;
const FINE_SLOTS = 10; // one histogram per second: the 10 s window
const COARSE_SLOTS = 6; // one histogram per 10 s: the 1 min window

/** Latency percentiles of a window, in milliseconds (null when nothing was recorded). */
export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

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
 * Sliding-window statistics of one key (a listener, route, service, endpoint
 * or method): request counts per second for the last minute, and latency
 * histograms per second (last 10 s) and per 10 s (last minute), merged when
 * read. Recording costs a few array writes and two histogram records; slots
 * are reused in place (histograms are reset, never reallocated).
 */
export class WindowStats {
  private readonly secEpoch = new Float64Array(SECONDS).fill(-1);
  private readonly secCounts = new Uint32Array(SECONDS * OUTCOMES);
  private readonly fine: (Histogram | undefined)[] = new Array(FINE_SLOTS).fill(undefined);
  private readonly fineEpoch = new Float64Array(FINE_SLOTS).fill(-1);
  private readonly coarse: (Histogram | undefined)[] = new Array(COARSE_SLOTS).fill(undefined);
  private readonly coarseEpoch = new Float64Array(COARSE_SLOTS).fill(-1);
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
    const f = sec % FINE_SLOTS;
    let h = this.fine[f];
    if (h === undefined) h = this.fine[f] = newHistogram();
    if (this.fineEpoch[f] !== sec) {
      this.fineEpoch[f] = sec;
      h.reset();
    }
    h.recordValue(us);
    const ten = (sec - (sec % 10)) / 10;
    const c = ten % COARSE_SLOTS;
    let hc = this.coarse[c];
    if (hc === undefined) hc = this.coarse[c] = newHistogram();
    if (this.coarseEpoch[c] !== ten) {
      this.coarseEpoch[c] = ten;
      hc.reset();
    }
    hc.recordValue(us);
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
    const fine = windowSec <= FINE_SLOTS;
    const upTo = fine ? sec : Math.floor(sec / 10);
    const after = fine ? sec - windowSec : upTo - COARSE_SLOTS;
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
      const hs = fine ? w.fine : w.coarse;
      const epochs = fine ? w.fineEpoch : w.coarseEpoch;
      for (let i = 0; i < hs.length; i++) {
        const h = hs[i];
        const e = epochs[i]!;
        if (h === undefined || e <= after || e > upTo || h.totalCount === 0) continue;
        if (g.merged === undefined) g.merged = newHistogram();
        g.merged.add(h as never);
      }
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

function percentiles(h: Histogram | undefined): Percentiles {
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
