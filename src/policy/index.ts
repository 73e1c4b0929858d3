/**
 * The policy layer: retries (and their budget), health checking and outlier
 * detection, handed to the proxy through src/proxy/policy-hooks.ts.
 */
import type { RouteConfig } from '../config/index.js';
import type { PolicyProvider, RetryRules, ServiceGuard } from '../proxy/policy-hooks.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import { CompiledRetryRules } from './retry-rules.js';
import { monotonicClock } from '../balancing/index.js';
import { HealthChecker } from './health-check.js';
import { OutlierDetector } from './outlier-detector.js';

export { CompiledRetryRules } from './retry-rules.js';
export { RetryBudget } from './retry-budget.js';
export { HealthChecker, timerScheduler, type HealthCheckConfig, type Scheduler } from './health-check.js';
export { OutlierDetector, type OutlierDetectionConfig } from './outlier-detector.js';

export const defaultPolicies: PolicyProvider = {
  retryRules(route: RouteConfig): RetryRules | undefined {
    return route.retry === undefined ? undefined : new CompiledRetryRules(route.retry);
  },
  serviceGuards(service: ServiceRuntime): ServiceGuard[] {
    const c = service.config;
    const guards: ServiceGuard[] = [];
    if (c.healthCheck !== undefined) guards.push(new HealthChecker(c.healthCheck, service.endpoints, { protocol: c.protocol }));
    if (c.outlierDetection.enabled) guards.push(new OutlierDetector(c.outlierDetection, service.endpoints, { clock: monotonicClock }));
    return guards;
  },
};
