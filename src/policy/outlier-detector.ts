/**
 * Passive outlier detection: the outcomes of real requests eject failing
 * endpoints for a while. Envoy's consecutive-failure and ejection-time rules
 * combined with Linkerd's probation:
 *
 * - `consecutiveFailures` failed outcomes in a row eject the endpoint; with
 *   `minSuccessRate` > 0, an endpoint with at least `minRequests` outcomes in
 *   an `interval` and a lower success rate is ejected too (checked once per
 *   interval).
 * - The n-th ejection lasts min(maxEjectionTime, baseEjectionTime × 2^(n−1)),
 *   spread by ± 10 %. The multiplier stops growing at the cap and shrinks by
 *   one for every `interval` the endpoint served without being ejected.
 * - When the time is up the endpoint is on probation: pickable again, and the
 *   next outcome decides. A success returns it fully; a failure ejects it
 *   again at once, for longer.
 * - No more than `maxEjectionPercent` of the service's endpoints are ejected
 *   at once (an ejection that would exceed it does not happen; the endpoint is
 *   ejected on a later failure once room is made).
 *
 * `record()` runs on the data path once per outcome: a map lookup and a few
 * counter updates, no allocation, no timer. Timers run only while an endpoint
 * is ejected, plus one per service for the success-rate window when enabled.
 */
import type { z } from 'zod';
import { mathRandom, type Clock, type RandomSource } from '../balancing/index.js';
import type { outlierDetectionSchema } from '../config/resilience-schema.js';
import type { Endpoint, OutcomeRecorder } from '../proxy/endpoint.js';
import { jittered, timerScheduler, type Scheduler, type Timer } from './health-check.js';

export type OutlierDetectionConfig = z.output<typeof outlierDetectionSchema>;

/** Spread of every ejection time, in percent. */
export const EJECTION_JITTER_PERCENT = 10;

export const OutlierPhase = {
  /** Taking traffic normally. */
  ACTIVE: 0,
  /** Ejected: not pickable until its ejection time is up. */
  EJECTED: 1,
  /** Back after an ejection: pickable, and the next outcome decides. */
  PROBATION: 2,
} as const;

const PHASE_NAMES = ['active', 'ejected', 'probation'] as const;
export type OutlierPhaseName = (typeof PHASE_NAMES)[number];

export type EjectionReason = 'consecutive-failures' | 'success-rate' | 'probation-failed';

export interface OutlierDetectorDeps {
  clock: Clock;
  random?: RandomSource;
  scheduler?: Scheduler;
  /** An endpoint was ejected for `durationMs`. */
  onEject?: (endpoint: Endpoint, reason: EjectionReason, durationMs: number) => void;
  /** An endpoint's ejection ended (`probation`) or its probation succeeded (`returned`). */
  onReturn?: (endpoint: Endpoint, phase: 'probation' | 'returned') => void;
}

/** Outlier state of one endpoint. */
class OutlierState {
  phase: number = OutlierPhase.ACTIVE;
  consecutive = 0;
  windowSuccesses = 0;
  windowFailures = 0;
  /** Ejection multiplier: the next ejection lasts base × 2^multiplier. */
  multiplier = 0;
  ejectionsTotal = 0;
  /** When the multiplier was last set (ejection or full return): it decays from here. */
  since: number;
  ejectedUntil = 0;
  timer: Timer | undefined = undefined;

  constructor(readonly endpoint: Endpoint, now: number) {
    this.since = now;
  }
}

export interface OutlierStatus {
  phase: OutlierPhaseName;
  consecutiveFailures: number;
  /** Ejections so far. */
  ejections: number;
  /** The multiplier of the next ejection (base × 2^multiplier), before decay. */
  multiplier: number;
  /** Clock time at which the current ejection ends (0 when not ejected). */
  ejectedUntil: number;
}

/**
 * Outlier detection of one service. The constructor puts itself in the
 * `outlier` slot of every endpoint; `start()` runs the success-rate window;
 * `stop()` cancels timers and empties the slots.
 */
export class OutlierDetector implements OutcomeRecorder {
  readonly config: OutlierDetectionConfig;
  private readonly states = new Map<Endpoint, OutlierState>();
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly scheduler: Scheduler;
  private readonly deps: OutlierDetectorDeps;
  private total: number;
  private ejected = 0;
  private windowTimer: Timer | undefined = undefined;
  private running = false;
  /** Ejections refused because of maxEjectionPercent (telemetry, tests). */
  refusedEjections = 0;

  constructor(config: OutlierDetectionConfig, endpoints: readonly Endpoint[], deps: OutlierDetectorDeps) {
    this.config = config;
    this.deps = deps;
    this.clock = deps.clock;
    this.random = deps.random ?? mathRandom;
    this.scheduler = deps.scheduler ?? timerScheduler;
    this.total = endpoints.length;
    if (!config.enabled) return;
    const now = this.clock.now();
    for (const ep of endpoints) {
      this.states.set(ep, new OutlierState(ep, now));
      ep.outlier = this;
    }
  }

  /** Endpoints currently ejected. */
  get ejectedCount(): number {
    return this.ejected;
  }

  /** Starts the success-rate window (when `minSuccessRate` > 0). */
  start(): void {
    if (this.running || !this.config.enabled) return;
    this.running = true;
    if (this.config.minSuccessRate > 0) this.scheduleWindow();
  }

  /** An endpoint joined the service (discovery): it is watched from now on. */
  add(endpoint: Endpoint): void {
    if (!this.config.enabled || this.states.has(endpoint)) return;
    this.states.set(endpoint, new OutlierState(endpoint, this.clock.now()));
    endpoint.outlier = this;
    this.total++;
  }

  /** An endpoint left the service: forgotten, and no longer counted against maxEjectionPercent. */
  remove(endpoint: Endpoint): void {
    const s = this.states.get(endpoint);
    if (s === undefined) return;
    this.states.delete(endpoint);
    this.total--;
    s.timer?.cancel();
    s.timer = undefined;
    if (s.phase === OutlierPhase.EJECTED) this.ejected--;
    if (endpoint.outlier === this) endpoint.outlier = undefined;
  }

  /** Stops timers and leaves the endpoints' slots empty. Ejected endpoints stay ejected. */
  stop(): void {
    this.running = false;
    this.windowTimer?.cancel();
    this.windowTimer = undefined;
    for (const s of this.states.values()) {
      s.timer?.cancel();
      s.timer = undefined;
      if (s.endpoint.outlier === this) s.endpoint.outlier = undefined;
    }
  }

  /** The data path's report of one real outcome. O(1), no allocation. */
  record(endpoint: Endpoint, failed: boolean): void {
    const s = this.states.get(endpoint);
    // Outcomes of requests that were in flight when it was ejected (or sent in panic mode) do not count.
    if (s === undefined || s.phase === OutlierPhase.EJECTED) return;
    if (failed) {
      s.windowFailures++;
      s.consecutive++;
      if (s.phase === OutlierPhase.PROBATION) this.eject(s, 'probation-failed');
      else if (s.consecutive >= this.config.consecutiveFailures) this.eject(s, 'consecutive-failures');
    } else {
      s.windowSuccesses++;
      s.consecutive = 0;
      if (s.phase === OutlierPhase.PROBATION) {
        s.phase = OutlierPhase.ACTIVE;
        s.since = this.clock.now();
        this.deps.onReturn?.(endpoint, 'returned');
      }
    }
  }

  /** Outlier state of an endpoint (telemetry, tests). */
  status(endpoint: Endpoint): OutlierStatus | undefined {
    const s = this.states.get(endpoint);
    if (s === undefined) return undefined;
    return {
      phase: PHASE_NAMES[s.phase]!,
      consecutiveFailures: s.consecutive,
      ejections: s.ejectionsTotal,
      multiplier: s.multiplier,
      ejectedUntil: s.phase === OutlierPhase.EJECTED ? s.ejectedUntil : 0,
    };
  }

  /** Duration of the next ejection of `s` with multiplier `m`, before jitter. */
  private nominal(m: number): number {
    return Math.min(this.config.maxEjectionTime, this.config.baseEjectionTime * 2 ** m);
  }

  private eject(s: OutlierState, reason: EjectionReason): boolean {
    // Envoy's rule: eject only if the ejected share stays within the limit afterwards.
    if ((this.ejected + 1) * 100 > this.config.maxEjectionPercent * this.total) {
      this.refusedEjections++;
      return false;
    }
    const now = this.clock.now();
    if (s.phase === OutlierPhase.ACTIVE && s.multiplier > 0) {
      // One step down for every interval served since the last ejection or return.
      const steps = Math.floor((now - s.since) / this.config.interval);
      s.multiplier = Math.max(0, s.multiplier - steps);
    }
    const nominal = this.nominal(s.multiplier);
    const duration = Math.min(this.config.maxEjectionTime, jittered(nominal, EJECTION_JITTER_PERCENT, this.random));
    // The multiplier stops growing once the cap is reached, so that it decays back quickly.
    if (nominal < this.config.maxEjectionTime) s.multiplier++;
    s.ejectionsTotal++;
    s.since = now;
    s.phase = OutlierPhase.EJECTED;
    s.consecutive = 0;
    s.ejectedUntil = now + duration;
    this.ejected++;
    s.timer = this.scheduler(duration, () => this.endEjection(s));
    s.endpoint.setEjected(true);
    this.deps.onEject?.(s.endpoint, reason, duration);
    return true;
  }

  private endEjection(s: OutlierState): void {
    s.timer = undefined;
    if (s.phase !== OutlierPhase.EJECTED) return;
    this.ejected--;
    s.phase = OutlierPhase.PROBATION;
    s.consecutive = 0;
    s.windowSuccesses = 0;
    s.windowFailures = 0;
    s.ejectedUntil = 0;
    s.endpoint.setEjected(false);
    this.deps.onReturn?.(s.endpoint, 'probation');
  }

  private scheduleWindow(): void {
    this.windowTimer = this.scheduler(this.config.interval, () => {
      this.windowTimer = undefined;
      if (!this.running) return;
      this.evaluateSuccessRate();
      this.scheduleWindow();
    });
  }

  /** The success-rate check over the window that just ended; the worst endpoints go first. */
  evaluateSuccessRate(): void {
    const min = this.config.minSuccessRate;
    const candidates: { s: OutlierState; rate: number }[] = [];
    for (const s of this.states.values()) {
      const n = s.windowSuccesses + s.windowFailures;
      if (s.phase === OutlierPhase.ACTIVE && n >= this.config.minRequests) {
        const rate = (s.windowSuccesses * 100) / n;
        if (rate < min) candidates.push({ s, rate });
      }
      s.windowSuccesses = 0;
      s.windowFailures = 0;
    }
    candidates.sort((a, b) => a.rate - b.rate);
    for (const c of candidates) this.eject(c.s, 'success-rate');
  }
}
