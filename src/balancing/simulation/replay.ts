/**
 * A recorded workload (`switchyard tap --record`) replayed through the
 * policies: per-endpoint empirical latency and failure distributions, the
 * recorded arrival pattern (open or closed loop, see replay-load.ts), the
 * recorded endpoint set and balancer options, and the live shares beside the
 * simulated ones.
 */
import { normalizePolicyName, POLICY_NAMES, type PolicyName } from '../registry.js';
import type { Distribution } from './distributions.js';
import { parseScenario, type Scenario } from './scenario.js';
import { simulate, type SimulationResult } from './simulator.js';
import { EmpiricalDistribution, sortedQuantile } from './replay-empirical.js';
import { analyzeLoad, type LoadShape, type LoopMode } from './replay-load.js';
import type { Recording, RecordedService } from './replay-recording.js';

export interface LiveEndpoint {
  id: string;
  weight: number;
  /** Replayed requests the endpoint served live, and their share. */
  requests: number;
  share: number;
  failures: number;
  /** Latency of its successful requests, ms (NaN without any). */
  p50: number;
  p99: number;
  /** No recorded request: the replay samples the whole service's latencies for it. */
  pooled: boolean;
}

export interface ReplayPlan {
  service: string;
  /** The policy that served the recording (null when the recording does not say). */
  livePolicy: PolicyName | null;
  endpoints: LiveEndpoint[];
  /** Live totals of the replayed requests. */
  live: { requests: number; failures: number; p50: number; p99: number };
  load: LoadShape;
  /** Recorded requests left out: no endpoint picked (refused, no endpoint), another service, or an endpoint outside the recorded set. */
  excluded: number;
  scenario: Scenario;
  /** Open loop: arrival times (ms from the first). */
  arrivals: Float64Array | undefined;
  distributions: { latency: Distribution; error?: Distribution }[];
}

export interface ReplayOptions {
  /** The recorded service to replay (default: the only one, else the one with the most requests). */
  service?: string;
  /** Force open or closed loop (default: what the recording shows). */
  loop?: LoopMode;
  seed?: number;
}

export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

/** Balancer options a scenario accepts, taken from the recorded service's configuration. */
const BALANCER_KEYS = ['choiceCount', 'activeRequestBias', 'defaultRtt', 'decay', 'noiseFloor', 'noiseFactor', 'probeAfter', 'ringSize', 'tableSize', 'fallback', 'slowStart'] as const;

function pickService(rec: Recording, wanted: string | undefined): RecordedService {
  const services = rec.header.services;
  if (wanted !== undefined) {
    const s = services.find((x) => x.name === wanted);
    if (s === undefined) throw new ReplayError(`service "${wanted}" is not in the recording (it has: ${services.map((x) => x.name).join(', ') || 'none'})`);
    return s;
  }
  if (services.length === 0) throw new ReplayError('the recording lists no service');
  if (services.length === 1) return services[0]!;
  const counts = new Map<string, number>();
  for (const r of rec.requests) counts.set(r.svc, (counts.get(r.svc) ?? 0) + 1);
  let best = services[0]!;
  for (const s of services) if ((counts.get(s.name) ?? 0) > (counts.get(best.name) ?? 0)) best = s;
  return best;
}

/** Build what the simulator needs from a parsed recording. Throws ReplayError when there is nothing to replay. */
export function planReplay(rec: Recording, options: ReplayOptions = {}): ReplayPlan {
  const svc = pickService(rec, options.service);
  if (svc.endpoints.length === 0) throw new ReplayError(`service "${svc.name}" has no endpoints in the recording`);
  const index = new Map<string, number>();
  svc.endpoints.forEach((e, i) => index.set(e.id, i));
  const ne = svc.endpoints.length;
  const ok: number[][] = svc.endpoints.map(() => []);
  const failed: number[][] = svc.endpoints.map(() => []);
  const counted = new Float64Array(ne);
  const starts: number[] = [];
  const durations: number[] = [];
  let excluded = 0;
  for (const r of rec.requests) {
    if (r.svc !== svc.name) continue;
    const i = r.ep === '' || r.o === 'refused' ? undefined : index.get(r.ep);
    if (i === undefined) {
      excluded++;
      continue;
    }
    starts.push(r.t);
    durations.push(r.d);
    counted[i]!++;
    // A cancelled request's duration is the caller's patience, not the endpoint's latency: it arrives but samples nothing.
    if (r.o === 'failure') failed[i]!.push(r.d);
    else if (r.o === 'success') ok[i]!.push(r.d);
  }
  const total = starts.length;
  if (total === 0) throw new ReplayError(`no request of service "${svc.name}" reached an endpoint in the recording`);
  const allOk = ok.flat();
  const allFailed = failed.flat();
  if (allOk.length === 0 && allFailed.length === 0) throw new ReplayError(`every request of service "${svc.name}" was cancelled: no latency to replay`);
  const pooledOk = allOk.length > 0 ? new EmpiricalDistribution(allOk) : undefined;
  const pooledFailed = allFailed.length > 0 ? new EmpiricalDistribution(allFailed) : undefined;
  const pooledErrorRate = allFailed.length / (allOk.length + allFailed.length);

  const distributions: ReplayPlan['distributions'] = [];
  const endpoints: LiveEndpoint[] = [];
  const groups: Record<string, unknown>[] = [];
  let maxD = 0;
  for (const d of durations) if (d > maxD) maxD = d;
  svc.endpoints.forEach((e, i) => {
    const o = ok[i]!;
    const f = failed[i]!;
    const pooled = o.length + f.length === 0;
    const okDist = o.length > 0 ? new EmpiricalDistribution(o) : pooledOk;
    const failDist = f.length > 0 ? new EmpiricalDistribution(f) : pooledFailed;
    const errorRate = pooled ? pooledErrorRate : f.length / (o.length + f.length);
    // An endpoint that only failed has no success latency: its error rate of 1 never samples it.
    distributions.push({ latency: (okDist ?? failDist)!, ...(failDist !== undefined ? { error: failDist } : {}) });
    groups.push({ name: `e${i}`, count: 1, weight: e.weight, latency: 0, errorRate });
    const sorted = okDist !== undefined && o.length > 0 ? (okDist as EmpiricalDistribution).sorted : new Float64Array(0);
    endpoints.push({
      id: e.id,
      weight: e.weight,
      requests: counted[i]!,
      share: counted[i]! / total,
      failures: f.length,
      p50: sortedQuantile(sorted, 0.5),
      p99: sortedQuantile(sorted, 0.99),
      pooled,
    });
  });

  const load = analyzeLoad(starts, durations, 0);
  const mode = options.loop ?? load.mode;
  if (mode === 'closed' && load.clients < 1) throw new ReplayError('closed loop needs at least one request in flight: the recording shows none');
  let arrivals: Float64Array | undefined;
  const balancer: Record<string, unknown> = {};
  if (svc.balancer !== null) for (const k of BALANCER_KEYS) if (svc.balancer[k] !== undefined) balancer[k] = svc.balancer[k];
  const raw: Record<string, unknown> = {
    name: `replay of ${svc.name}`,
    seed: options.seed ?? 1,
    requests: total,
    // Recorded latencies are replayed whole: a timeout must not cut them short.
    requestTimeout: Math.max(10_000, Math.ceil(maxD) + 1),
    balancer,
    groups,
  };
  if (mode === 'closed') {
    raw.clients = load.clients;
    raw.thinkTime = load.thinkMs;
  } else {
    const order = Float64Array.from(starts).sort();
    const t0 = order[0]!;
    for (let i = 0; i < order.length; i++) order[i]! -= t0;
    arrivals = order;
    const span = order[order.length - 1]!;
    raw.rate = span > 0 ? (total * 1000) / span : total;
  }
  let scenario: Scenario;
  try {
    scenario = parseScenario(raw);
  } catch (e) {
    throw new ReplayError(`the recorded balancer options cannot be replayed: ${(e as Error).message}`);
  }
  const liveOk = Float64Array.from(allOk).sort();
  return {
    service: svc.name,
    livePolicy: svc.policy === null ? null : (normalizePolicyName(svc.policy) ?? null),
    endpoints,
    live: { requests: total, failures: allFailed.length, p50: sortedQuantile(liveOk, 0.5), p99: sortedQuantile(liveOk, 0.99) },
    load: mode === load.mode ? load : { ...load, mode, reason: `${mode} loop as asked (the recording suggests ${load.mode}: ${load.reason})` },
    excluded,
    scenario,
    arrivals,
    distributions,
  };
}

export interface ReplayResult {
  plan: ReplayPlan;
  simulation: SimulationResult;
}

/** Replay a plan through `policies` (default: every policy, the live one first). */
export function runReplay(plan: ReplayPlan, policies?: readonly PolicyName[], seed?: number): ReplayResult {
  let list = policies ?? POLICY_NAMES;
  if (policies === undefined && plan.livePolicy !== null) list = [plan.livePolicy, ...POLICY_NAMES.filter((p) => p !== plan.livePolicy)];
  const simulation = simulate(plan.scenario, {
    policies: list,
    ...(seed !== undefined ? { seed } : {}),
    ...(plan.arrivals !== undefined ? { arrivals: plan.arrivals } : {}),
    distributions: plan.distributions,
  });
  return { plan, simulation };
}
