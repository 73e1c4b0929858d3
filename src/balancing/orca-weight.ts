/**
 * An endpoint's weight from its own load reports (gRFC A58, gRPC's
 * weighted_round_robin and Envoy's client_side_weighted_round_robin):
 *
 *   weight = qps / (utilization + eps / qps × errorUtilizationPenalty)
 *
 * with utilization = application_utilization when reported (> 0), else
 * cpu_utilization. A report without qps or utilization changes nothing. A
 * weight counts only once `blackoutPeriod` has passed since the first
 * usable report (a fresh backend's first figures are noise: it has had no
 * traffic yet), and stops counting `weightExpirationPeriod` after the last
 * one (a backend that stopped reporting is not trusted on stale figures);
 * after expiry the blackout starts again.
 */
import type { Clock } from './types.js';
import type { OrcaReport } from './orca-report.js';

/** The service's settings, one object shared by its endpoints (a reload updates it in place). Times in ms. */
export interface OrcaSettings {
  blackoutPeriod: number;
  weightExpirationPeriod: number;
  errorUtilizationPenalty: number;
  /** How often weighted round robin recomputes weights from the reports. */
  weightUpdatePeriod: number;
}

export const ORCA_DEFAULTS: Readonly<OrcaSettings> = {
  blackoutPeriod: 10_000,
  weightExpirationPeriod: 180_000,
  errorUtilizationPenalty: 1,
  weightUpdatePeriod: 1_000,
};

/**
 * What an endpoint reported last and the weight derived from it. Lives on
 * the endpoint's load record (`EndpointLoad.orca`), where any policy can
 * read it: weighted round robin uses `weightAt`, a latency-aware policy may
 * use `utilization`.
 */
export class OrcaState {
  /** Last reported utilization (application_utilization if > 0, else cpu_utilization); 0 before any report. */
  utilization = 0;
  /** Last reported queries per second (rps_fractional) and errors per second. */
  qps = 0;
  eps = 0;
  /** Reports read (in-band and out-of-band; usable or not). */
  reports = 0;
  /** Clock time of the last report. */
  reportedAt = 0;
  /** Reports that could not be read. */
  malformed = 0;
  /** Weight from the last usable report (before blackout and expiry are applied). */
  private weight = 0;
  private lastUpdated = 0;
  /** When the current run of usable reports began; NaN when none (never, or expired). */
  private nonEmptySince = Number.NaN;

  constructor(
    readonly settings: OrcaSettings,
    private readonly clock: Clock,
  ) {}

  /** Takes a decoded report into account. */
  record(r: OrcaReport): void {
    this.reports++;
    this.reportedAt = this.clock.now();
    let utilization = r.applicationUtilization > 0 ? r.applicationUtilization : r.cpuUtilization;
    const qps = r.rpsFractional > 0 ? r.rpsFractional : r.rps;
    this.utilization = utilization;
    this.qps = qps;
    this.eps = r.eps;
    if (!(utilization > 0) || !(qps > 0) || !Number.isFinite(utilization) || !Number.isFinite(qps)) return;
    if (r.eps > 0) utilization += (r.eps / qps) * this.settings.errorUtilizationPenalty;
    const now = this.clock.now();
    this.weight = qps / utilization;
    this.lastUpdated = now;
    if (Number.isNaN(this.nonEmptySince)) this.nonEmptySince = now;
  }

  /**
   * The weight to balance with at `now`, or 0 when there is none yet (no
   * usable report, still in blackout, or expired). `readySince`: when the
   * endpoint last became pickable; as in gRPC, a reconnected endpoint goes
   * through the blackout again.
   */
  weightAt(now: number, readySince: number): number {
    if (Number.isNaN(this.nonEmptySince)) return 0;
    const s = this.settings;
    if (now - this.lastUpdated >= s.weightExpirationPeriod) {
      this.nonEmptySince = Number.NaN;
      return 0;
    }
    const since = readySince > this.nonEmptySince ? readySince : this.nonEmptySince;
    if (s.blackoutPeriod > 0 && now - since < s.blackoutPeriod) return 0;
    return this.weight;
  }

  /**
   * The last reported utilization, capped at 1, while it is fresh (younger
   * than `weightExpirationPeriod`); -1 when there is none. 0 counts as none:
   * proto3 cannot tell "idle" from "not reported", and a backend sending only
   * named metrics would otherwise look idle.
   */
  utilizationAt(now: number): number {
    const u = this.utilization;
    if (!(u > 0) || now - this.reportedAt >= this.settings.weightExpirationPeriod) return -1;
    return u < 1 ? u : 1;
  }

  /** weightAt the clock's current time (telemetry). */
  weightNow(readySince: number): number {
    return this.weightAt(this.clock.now(), readySince);
  }
}

/** gRPC's bounds: no endpoint gets more than 10× the mean weight, nor less than 1% of it. */
const MAX_RATIO = 10;
const MIN_RATIO = 0.01;

/**
 * Replaces `weights[0..n)` with ORCA weights where endpoints have them:
 * endpoints without a usable weight get the mean of those with one, and
 * every weight is kept within [1 %, 10×] of the mean. Leaves `weights`
 * untouched (and returns false) when no endpoint has one.
 */
export function applyOrcaWeights(
  endpoints: readonly { readonly readySince: number; readonly load: { readonly orca: OrcaState | null } }[],
  n: number,
  now: number,
  weights: Float64Array,
  scratch: Float64Array,
): boolean {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const e = endpoints[i]!;
    const w = e.load.orca === null ? 0 : e.load.orca.weightAt(now, e.readySince);
    scratch[i] = w;
    if (w > 0) {
      sum += w;
      count++;
    }
  }
  if (count === 0) return false;
  const mean = sum / count;
  const hi = mean * MAX_RATIO;
  const lo = mean * MIN_RATIO;
  for (let i = 0; i < n; i++) {
    let w = scratch[i]!;
    if (w === 0) w = mean;
    else if (w > hi) w = hi;
    else if (w < lo) w = lo;
    weights[i] = w;
  }
  return true;
}
