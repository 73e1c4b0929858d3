import {
  BALANCER_POLICIES, DEFAULT_BALANCER_POLICY, normalizePolicyName as normalizeConfiguredName, type BalancerPolicyName,
} from '../config/balancer-options.js';
import type { Balanceable, Clock, LoadBalancer, RandomSource } from './types.js';
import type { EndpointLoadOptions } from './endpoint-load.js';
import { makeSlowStart } from './slow-start.js';
import { RoundRobinBalancer } from './round-robin.js';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.js';
import { RandomBalancer } from './random.js';
import { LeastRequestBalancer } from './least-request.js';
import { PeakEwmaBalancer } from './peak-ewma.js';
import { RingHashBalancer } from './ring-hash.js';
import { MaglevBalancer } from './maglev.js';

/** The policy names and their aliases are defined once, by the configuration layer. */
export const POLICY_NAMES = BALANCER_POLICIES;
export type PolicyName = BalancerPolicyName;
export const DEFAULT_POLICY: PolicyName = DEFAULT_BALANCER_POLICY;

/** Where hash policies take the request's hash key from (the proxy extracts it). */
export type HashOn = { header: string } | { grpcMetadata: string } | { path: true } | { sourceIp: true };

/**
 * Canonical balancer configuration of one service (what the config schema
 * produces). Times are milliseconds.
 */
export interface BalancerSpec {
  policy: PolicyName;
  /** least-request: candidates per pick (default 2). */
  choiceCount?: number;
  /** least-request: exponent of the in-flight penalty for weighted endpoints (default 1). */
  activeRequestBias?: number;
  /** EndpointLoad: RTT assumed before the first sample (default 30 ms). */
  defaultRtt?: number;
  /** EndpointLoad: peak-EWMA decay time constant (default 10000 ms). */
  decay?: number;
  /** peak-ewma: latency differences below this never count (default 1 ms). */
  noiseFloor?: number;
  /** peak-ewma: width of the indistinguishable band in mean deviations (default 1). */
  noiseFactor?: number;
  /** peak-ewma: an endpoint not picked for this long is tried again (default 5000 ms). */
  probeAfter?: number;
  /** ring-hash / maglev: request attribute to hash. */
  hashOn?: HashOn;
  /** ring-hash: total ring entries (default 4096). */
  ringSize?: number;
  /** maglev: lookup table size, prime (default 65537). */
  tableSize?: number;
  /** ring-hash / maglev: policy for requests without a hash key (default peak-ewma). */
  fallback?: string;
  /** Weighted policies: ramp up newly ready endpoints. Off when absent. */
  slowStart?: { window: number; minWeightPercent: number; aggression: number };
}

export interface BalancerDeps {
  clock: Clock;
  random: RandomSource;
}

/** Canonical policy name for a name or alias (roundRobin, round_robin, rr, …), or undefined. */
export const normalizePolicyName: (name: string) => PolicyName | undefined = normalizeConfiguredName;

/** Options for the EndpointLoad objects the proxy creates for a service's endpoints. */
export function endpointLoadOptions(spec: Pick<BalancerSpec, 'defaultRtt' | 'decay'>): EndpointLoadOptions {
  const out: EndpointLoadOptions = {};
  if (spec.defaultRtt !== undefined) out.defaultRttMs = spec.defaultRtt;
  if (spec.decay !== undefined) out.decayMs = spec.decay;
  return out;
}

/** Build the policy described by `spec`. Throws RangeError on an unknown policy or invalid option. */
export function createBalancer<E extends Balanceable>(spec: BalancerSpec, deps: BalancerDeps): LoadBalancer<E> {
  const policy = normalizePolicyName(spec.policy);
  if (policy === undefined) throw new RangeError(`unknown balancing policy "${spec.policy}"`);
  const { clock, random } = deps;
  const slowStart = makeSlowStart(spec.slowStart);
  switch (policy) {
    case 'round-robin':
      return new RoundRobinBalancer<E>({ random });
    case 'weighted-round-robin':
      return new WeightedRoundRobinBalancer<E>({ clock, slowStart });
    case 'random':
      return new RandomBalancer<E>({ clock, random, slowStart });
    case 'least-request':
      return new LeastRequestBalancer<E>({
        clock,
        random,
        slowStart,
        ...(spec.choiceCount !== undefined ? { choiceCount: spec.choiceCount } : {}),
        ...(spec.activeRequestBias !== undefined ? { activeRequestBias: spec.activeRequestBias } : {}),
      });
    case 'peak-ewma':
      return new PeakEwmaBalancer<E>({
        clock,
        random,
        slowStart,
        ...(spec.noiseFloor !== undefined ? { noiseFloor: spec.noiseFloor } : {}),
        ...(spec.noiseFactor !== undefined ? { noiseFactor: spec.noiseFactor } : {}),
        ...(spec.probeAfter !== undefined ? { probeAfter: spec.probeAfter } : {}),
      });
    case 'ring-hash':
    case 'maglev': {
      const fallbackName = spec.fallback ?? DEFAULT_POLICY;
      const fb = normalizePolicyName(fallbackName);
      if (fb === undefined) throw new RangeError(`unknown fallback policy "${fallbackName}"`);
      if (fb === 'ring-hash' || fb === 'maglev') throw new RangeError(`fallback policy must not be a hash policy (got "${fallbackName}")`);
      const fallback = createBalancer<E>({ ...spec, policy: fb }, deps);
      return policy === 'ring-hash'
        ? new RingHashBalancer<E>({ fallback, ...(spec.ringSize !== undefined ? { ringSize: spec.ringSize } : {}) })
        : new MaglevBalancer<E>({ fallback, ...(spec.tableSize !== undefined ? { tableSize: spec.tableSize } : {}) });
    }
  }
}
