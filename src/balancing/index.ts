export type { Balanceable, Clock, LoadBalancer, RandomSource } from './types.js';
export { EndpointLoad, DEFAULT_DECAY_MS, DEFAULT_FAILURE_PENALTY_MS, DEFAULT_RTT_MS, type EndpointLoadOptions } from './endpoint-load.js';
export { ManualClock, monotonicClock } from './clock.js';
export { mathRandom, SeededRandom, seededRandom } from './random-source.js';
export { SlowStart, makeSlowStart, type SlowStartConfig } from './slow-start.js';
export {
  FailfastQueue,
  DEFAULT_FAILFAST_CAPACITY,
  DEFAULT_FAILFAST_TIMEOUT_MS,
  type FailfastQueueOptions,
  type FailfastWaiter,
} from './failfast-queue.js';
export { hashString } from './hash.js';
export { RoundRobinBalancer } from './round-robin.js';
export { WeightedRoundRobinBalancer } from './weighted-round-robin.js';
export { RandomBalancer } from './random.js';
export { LeastRequestBalancer } from './least-request.js';
export { PeakEwmaBalancer } from './peak-ewma.js';
export { RingHashBalancer, DEFAULT_RING_SIZE } from './ring-hash.js';
export { MaglevBalancer, DEFAULT_MAGLEV_TABLE_SIZE } from './maglev.js';
export {
  createBalancer,
  endpointLoadOptions,
  normalizePolicyName,
  DEFAULT_POLICY,
  POLICY_NAMES,
  type BalancerDeps,
  type BalancerSpec,
  type HashOn,
  type PolicyName,
} from './registry.js';
export {
  ZoneAwareBalancer,
  DEFAULT_ZONE_AWARE,
  localEndpoints,
  spillFraction,
  zoneLoad,
  type LoadReading,
  type ZoneAwareOptions,
  type ZoneMode,
  type Zoned,
} from './zone-aware.js';
export { OrcaState, ORCA_DEFAULTS, applyOrcaWeights, type OrcaSettings } from './orca-weight.js';
export { decodeOrcaReport, newOrcaReport, parseOrcaHeader, parseOrcaJson, parseOrcaText, OrcaReportError, type OrcaReport } from './orca-report.js';
export { PickDecision, DecisionCandidate, RULES, decisionJson, decisionSummary, formatDecision, type DecisionJson, type ZoneChoice } from './decision.js';
