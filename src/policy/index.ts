/**
 * The policy layer: retries (and their budget), health checking, outlier
 * detection and authorization, handed to the proxy through
 * src/proxy/policy-hooks.ts.
 */
import type { AuthorizationRule, RouteConfig } from '../config/index.js';
import type { Authorizer, PolicyProvider, RetryRules, ServiceGuard } from '../proxy/policy-hooks.js';
import { compileAuthorization } from './authorization.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import { CompiledRetryRules } from './retry-rules.js';
import { monotonicClock } from '../balancing/index.js';
import { HealthChecker } from './health-check.js';
import { OutlierDetector } from './outlier-detector.js';

export { CompiledRetryRules } from './retry-rules.js';
export { RetryBudget } from './retry-budget.js';
export { HealthChecker, timerScheduler, type HealthCheckConfig, type Scheduler } from './health-check.js';
export { OutlierDetector, type OutlierDetectionConfig } from './outlier-detector.js';
export { CompiledAuthorization, compileAuthorization, DEFAULT_DENY } from './authorization.js';

/** What the policy layer reports as it acts on endpoints (for logs). */
export interface PolicyEvents {
  healthChanged?(service: string, endpoint: string, healthy: boolean, detail: string | undefined): void;
  ejected?(service: string, endpoint: string, reason: string, durationMs: number): void;
  returned?(service: string, endpoint: string, phase: 'probation' | 'returned'): void;
}

/** The policies, reporting health changes and ejections to `events`. */
export function createPolicies(events: PolicyEvents = {}): PolicyProvider {
  return {
    retryRules(route: RouteConfig): RetryRules | undefined {
      return route.retry === undefined ? undefined : new CompiledRetryRules(route.retry);
    },
    serviceGuards(service: ServiceRuntime): ServiceGuard[] {
      const c = service.config;
      const name = service.name;
      const guards: ServiceGuard[] = [];
      if (c.healthCheck !== undefined) {
        guards.push(
          new HealthChecker(c.healthCheck, service.endpoints, {
            protocol: c.protocol,
            onTransition: (ep, healthy, detail) => events.healthChanged?.(name, ep.id, healthy, detail),
          }),
        );
      }
      if (c.outlierDetection.enabled) {
        guards.push(
          new OutlierDetector(c.outlierDetection, service.endpoints, {
            clock: monotonicClock,
            onEject: (ep, reason, ms) => events.ejected?.(name, ep.id, String(reason), ms),
            onReturn: (ep, phase) => events.returned?.(name, ep.id, phase),
          }),
        );
      }
      return guards;
    },
    authorizer(rules: readonly AuthorizationRule[]): Authorizer {
      return compileAuthorization(rules);
    },
  };
}

export const defaultPolicies: PolicyProvider = createPolicies();
