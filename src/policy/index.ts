/**
 * The policy layer: retries (and their budget), health checking and outlier
 * detection, handed to the proxy through src/proxy/policy-hooks.ts.
 */
import type { RouteConfig } from '../config/index.js';
import type { PolicyProvider, RetryRules, ServiceGuard } from '../proxy/policy-hooks.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import { CompiledRetryRules } from './retry-rules.js';

export { CompiledRetryRules } from './retry-rules.js';
export { RetryBudget } from './retry-budget.js';

export const defaultPolicies: PolicyProvider = {
  retryRules(route: RouteConfig): RetryRules | undefined {
    return route.retry === undefined ? undefined : new CompiledRetryRules(route.retry);
  },
  serviceGuards(_service: ServiceRuntime): ServiceGuard[] {
    return [];
  },
};
