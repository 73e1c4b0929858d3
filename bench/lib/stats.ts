/**
 * Figures over repeated runs: median with min and max, and the spread flag
 * that marks a figure too noisy to read a small difference from.
 */

/** A figure over runs. `spread` is (max - min) / median; `flagged` when it exceeds the limit. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Finite values the figure was taken from. */
  n: number;
  spread: number;
  flagged: boolean;
}

/** Spread above which a figure is flagged: (max - min) / median > 20%. */
export const SPREAD_LIMIT = 0.2;

/** Median of the finite values (NaN if none). */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Median, min, max and spread of the finite values; non-finite values are left out. */
export function spreadOf(values: readonly number[], limit = SPREAD_LIMIT): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0, spread: NaN, flagged: false };
  const m = median(v);
  const min = Math.min(...v);
  const max = Math.max(...v);
  const spread = m !== 0 ? (max - min) / Math.abs(m) : max === min ? 0 : Infinity;
  return { median: m, min, max, n: v.length, spread, flagged: spread > limit };
}

/** The mark a flagged figure carries in tables. */
export const SPREAD_MARK = "±";

/**
 * "12.3 (11.9-13.0)" with `fmt` for each number, "±" appended when flagged;
 * only the median when there was a single run; "-" without any value.
 */
export function fmtSpread(s: Spread | undefined, fmt: (n: number) => string): string {
  if (!s || s.n === 0) return "-";
  const mark = s.flagged ? SPREAD_MARK : "";
  if (s.n === 1 || s.min === s.max) return `${fmt(s.median)}${mark}`;
  return `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})${mark}`;
}

/** The footnote under a table that holds flagged figures ("" when none is). */
export function spreadFootnote(anyFlagged: boolean, limit = SPREAD_LIMIT): string {
  if (!anyFlagged) return "";
  return (
    `${SPREAD_MARK}: spread over the runs, (max - min) / median, above ${Math.round(limit * 100)}%: ` +
    `the runs disagree (a busy machine, or a system that is not steady); do not read a difference smaller than the spread from such a figure.`
  );
}
