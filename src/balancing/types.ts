/**
 * The contract between the proxy and the balancing policies. Balancing knows
 * nothing of HTTP: it sees endpoints with a weight, a readiness time and a
 * shared load record that the proxy updates as requests start and end.
 */
import type { EndpointLoad } from './endpoint-load.js';
import type { PickDecision } from './decision.js';

/** Monotonic milliseconds (performance.now() in production, a virtual clock in tests and the simulator). */
export interface Clock {
  now(): number;
}

/** Uniform random numbers in [0, 1). Seeded in tests and the simulator. */
export interface RandomSource {
  next(): number;
}

/** What a policy needs to know about an endpoint. The proxy's endpoint objects implement it. */
export interface Balanceable {
  /** Stable identity, e.g. "10.0.0.1:7001". Hash policies hash it. */
  readonly id: string;
  /** Configured weight; 0 = takes no new requests. */
  readonly weight: number;
  /** Clock time (ms) at which the endpoint last became ready (for slow start). */
  readonly readySince: number;
  /** Shared load record: in-flight count and latency estimate, updated by the proxy. */
  readonly load: EndpointLoad;
}

/**
 * A balancing policy for one service. `update` is called (rarely) whenever the
 * set of pickable endpoints changes and rebuilds an immutable picker snapshot;
 * `pick` is called per request and must be cheap (no allocation).
 */
export interface LoadBalancer<E extends Balanceable = Balanceable> {
  readonly name: string;
  update(endpoints: readonly E[]): void;
  /**
   * The chosen endpoint, or undefined when none can take the request. `hashKey` feeds hash policies.
   * `explain`, passed only while somebody wants to see decisions: the policy
   * records the candidates it compared, their cost inputs and the rule that
   * won (decision.ts). Without it a pick does no extra work.
   */
  pick(hashKey?: string, explain?: PickDecision): E | undefined;
}
