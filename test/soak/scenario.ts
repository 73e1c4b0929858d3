/** What a soak scenario is, and the random choices scenarios share. */
import type { SoakEnvironment } from './environment.js';

export interface SoakLimits {
  /** Largest HTTP body (download or upload). */
  maxBody: number;
  /** Largest gRPC message. */
  maxMessage: number;
}

export interface ScenarioContext {
  env: SoakEnvironment;
  /** This scenario's own generator, derived from the run's seed. */
  rng: () => number;
  /** Seeds of this scenario's bodies start here. */
  seed: number;
  /** A name unique in the run (worker and sequence number), for request ids. */
  id: string;
  limits: SoakLimits;
  /** Aborted by the watchdog when the scenario runs too long (a hang). */
  signal: AbortSignal;
  /** Runs when the scenario ends, whatever the outcome (closing a connection of its own, say). */
  defer(fn: () => unknown): void;
}

export interface Outcome {
  /** What happened, e.g. "200", "cancelled", "502:SWY_ERR_UPSTREAM_RESET", "200+rst:2", "bad-digest". */
  label: string;
  /** Response bytes verified (by digest or prefix). */
  down: number;
  /** Request bytes verified by the backend's digest, or sent when cancelled on purpose. */
  up: number;
  /** Parameters and observations, printed for unexpected outcomes. */
  detail: string;
}

export interface Scenario {
  /** Row of the outcome table, e.g. "h2→h1 upload". */
  kind: string;
  weight: number;
  /** Labels that count as correct. */
  expect: readonly string[];
  run(ctx: ScenarioContext): Promise<Outcome>;
}

/** Sizes on frame, window and chunk boundaries, chosen now and then instead of a random size. */
const EDGE_SIZES = [0, 1, 16_383, 16_384, 16_385, 65_535, 65_536, 65_537, 1 << 20];

/** A body size in [min, max]: often small, sometimes on a boundary, now and then near `max`. */
export function pickSize(rng: () => number, max: number, min = 0): number {
  if (rng() < 0.15) {
    const edges = EDGE_SIZES.filter((s) => s >= min && s <= max);
    if (edges.length > 0) return edges[Math.floor(rng() * edges.length)]!;
  }
  return min + Math.floor((max - min) * rng() ** 3);
}

export function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

/** Integer in [lo, hi]. */
export function between(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}
