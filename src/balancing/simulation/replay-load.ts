/**
 * What kind of load a recording shows: a fixed number of callers each
 * waiting for its answer (closed loop) or arrivals that do not depend on
 * answers (open loop).
 *
 * The difference matters to a replay. Arrivals of a closed loop were paced
 * by the latencies the live policy produced; replaying them at the recorded
 * times would keep that pacing under a policy that is slower (or faster),
 * so the closed loop is replayed as closed: that many clients, each sending
 * its next request after its previous one ended plus the recorded think time.
 */

export type LoopMode = 'open' | 'closed';

export interface LoadShape {
  mode: LoopMode;
  /** Closed loop: the concurrency the recording sits at. */
  clients: number;
  /** Closed loop (or as if): mean time a client waits between an answer and its next request, ms. */
  thinkMs: number;
  /** Fraction of the observed time spent at exactly `clients` requests in flight, and above it. */
  atLevel: number;
  aboveLevel: number;
  /** Requests per second over the observed window. */
  rate: number;
  /** Why the mode was chosen, for the report. */
  reason: string;
}

/**
 * Fixed concurrency: the most common in-flight level is a ceiling (at most
 * this fraction of the time above it; an open loop of Poisson arrivals spends
 * a third or more above its most common level) …
 */
const CLOSED_ABOVE_LEVEL = 0.02;
/**
 * … where the load sits at least this fraction of the time. Below it the
 * callers spend long between an answer and their next request (each caller's
 * round trip leaves the level at C-1 for a moment: with 8 callers, 0.5 ms per
 * 15 ms request is already 25% of the time).
 */
const CLOSED_AT_LEVEL = 0.5;

/**
 * Classify the load of requests starting at `starts[i]` and lasting
 * `durations[i]` ms (any order). The observed window runs from `from` to the
 * last start less the p99 duration: requests that started later may not
 * have finished (and so not been recorded) when the recording stopped.
 */
export function analyzeLoad(starts: ArrayLike<number>, durations: ArrayLike<number>, from: number): LoadShape {
  const n = starts.length;
  const empty: LoadShape = { mode: 'open', clients: 0, thinkMs: 0, atLevel: 0, aboveLevel: 0, rate: 0, reason: 'no requests' };
  if (n === 0) return empty;
  const d = Float64Array.from(durations).sort();
  const p99 = d[Math.min(n - 1, Math.ceil(0.99 * n) - 1)]!;
  let lastStart = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (starts[i]! > lastStart) lastStart = starts[i]!;
  const to = lastStart - p99;
  if (!(to > from)) return { ...empty, reason: 'recording too short to tell the load apart' };
  // Sweep +1 at each start and -1 at each end; time at each in-flight level within [from, to].
  const times = new Float64Array(2 * n);
  const deltas = new Int8Array(2 * n);
  const order = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    times[2 * i] = starts[i]!;
    deltas[2 * i] = 1;
    times[2 * i + 1] = starts[i]! + durations[i]!;
    deltas[2 * i + 1] = -1;
  }
  for (let i = 0; i < 2 * n; i++) order[i] = i;
  // Ends before starts at the same instant: a caller that sends its next request at once never shows two.
  order.sort((a, b) => times[a]! - times[b]! || deltas[a]! - deltas[b]!);
  const atLevel = new Map<number, number>();
  let level = 0;
  let prev = from;
  let arrivals = 0;
  for (let k = 0; k < 2 * n; k++) {
    const i = order[k]!;
    const t = times[i]!;
    if (t > from) {
      const a = Math.max(prev, from);
      const b = Math.min(t, to);
      if (b > a) atLevel.set(level, (atLevel.get(level) ?? 0) + (b - a));
      prev = t;
    }
    level += deltas[i]!;
    if (deltas[i] === 1 && t >= from && t <= to) arrivals++;
    if (t >= to) break;
  }
  if (prev < to) atLevel.set(level, (atLevel.get(level) ?? 0) + (to - Math.max(prev, from)));
  const total = to - from;
  let mode = 0;
  let modeTime = -1;
  for (const [l, t] of atLevel) if (t > modeTime) [mode, modeTime] = [l, t];
  let above = 0;
  let idleClientTime = 0;
  for (const [l, t] of atLevel) {
    if (l > mode) above += t;
    else idleClientTime += (mode - l) * t;
  }
  const rate = (arrivals * 1000) / total;
  // As `mode` clients, each is idle (between an answer and its next request) for the time the level is below `mode`.
  const thinkMs = arrivals > 0 ? idleClientTime / arrivals : 0;
  const shape = { clients: mode, thinkMs, atLevel: modeTime / total, aboveLevel: above / total, rate };
  const pctAt = `${(shape.atLevel * 100).toFixed(0)}%`;
  if (mode >= 1 && shape.atLevel >= CLOSED_AT_LEVEL && shape.aboveLevel <= CLOSED_ABOVE_LEVEL) {
    return { mode: 'closed', ...shape, reason: `${mode} in flight ${pctAt} of the time, above it ${(shape.aboveLevel * 100).toFixed(1)}%: fixed concurrency` };
  }
  return { mode: 'open', ...shape, reason: `no fixed concurrency (most common: ${mode} in flight, ${pctAt} of the time): arrivals at the recorded times` };
}
