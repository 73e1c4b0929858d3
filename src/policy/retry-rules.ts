import { monotonicClock, mathRandom, type Clock, type RandomSource } from '../balancing/index.js';
import type { RouteConfig } from '../config/index.js';
import { RetryOn, type RetryRules } from '../proxy/policy-hooks.js';
import { RetryBudget } from './retry-budget.js';

const CONDITION_BITS: Record<string, number> = {
  'connect-failure': RetryOn.CONNECT_FAILURE,
  'refused-stream': RetryOn.REFUSED_STREAM,
  reset: RetryOn.RESET,
  '5xx': RetryOn.HTTP_5XX,
  'gateway-error': RetryOn.GATEWAY_ERROR,
  'retriable-4xx': RetryOn.RETRIABLE_4XX,
  unavailable: RetryOn.GRPC_UNAVAILABLE,
  cancelled: RetryOn.GRPC_CANCELLED,
  'deadline-exceeded': RetryOn.GRPC_DEADLINE_EXCEEDED,
  'resource-exhausted': RetryOn.GRPC_RESOURCE_EXHAUSTED,
  internal: RetryOn.GRPC_INTERNAL,
  unknown: RetryOn.GRPC_UNKNOWN,
};

type RetryConfig = NonNullable<RouteConfig['retry']>;

/** A route's retry configuration compiled once: condition bits, backoff and budget. */
export class CompiledRetryRules implements RetryRules {
  readonly on: number;
  readonly attempts: number;
  readonly perTryTimeout: number;
  readonly bufferSize: number;
  readonly nonIdempotent: boolean;
  private readonly base: number;
  private readonly max: number;
  private readonly budget: RetryBudget;

  constructor(cfg: RetryConfig, clock: Clock = monotonicClock, private readonly random: RandomSource = mathRandom) {
    let on = 0;
    for (const c of cfg.on) on |= CONDITION_BITS[c] ?? 0;
    this.on = on;
    this.attempts = cfg.attempts;
    this.perTryTimeout = cfg.perTryTimeout;
    this.bufferSize = cfg.bufferSize;
    this.nonIdempotent = cfg.nonIdempotent;
    this.base = cfg.backoff.base;
    this.max = cfg.backoff.max;
    this.budget = new RetryBudget(cfg.budget.ratio, cfg.budget.minPerSecond, cfg.budget.window, clock);
  }

  /** Exponential backoff with full jitter (Envoy: base × 2^(n-1), capped, uniformly random below). */
  backoff(n: number): number {
    const cap = Math.min(this.max, this.base * 2 ** Math.min(n - 1, 20));
    return this.random.next() * cap;
  }

  onRequest(): void {
    this.budget.onRequest();
  }

  tryRetry(): boolean {
    return this.budget.tryRetry();
  }
}
