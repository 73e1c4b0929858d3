/**
 * Schemas of the resilience settings: health checks, outlier detection and
 * circuit breakers per service; retries and hedging per route. Defaults
 * follow Envoy and Linkerd where they agree (see docs/resilience.md).
 */
import { z } from 'zod';
import { describe, durationSchema, positiveDurationSchema } from './duration.js';
import { explainUnknownRetryCondition, normalizeRetryOn } from './vocabulary.js';

const percent = z.number().min(0).max(100);

export const HEALTH_CHECK_TYPES = ['tcp', 'http', 'grpc'] as const;

export const healthCheckSchema = z
  .object({
    type: z.enum(HEALTH_CHECK_TYPES).default('tcp'),
    /** http: the path probed. */
    path: z.string().startsWith('/', 'must start with "/"').default('/healthz'),
    /** grpc: the service name sent to grpc.health.v1.Health/Check ("" = the whole server). */
    grpcService: z.string().default(''),
    interval: positiveDurationSchema.default('5s'),
    timeout: positiveDurationSchema.default('1s'),
    healthyThreshold: z.number().int().min(1).max(100).default(2),
    unhealthyThreshold: z.number().int().min(1).max(100).default(3),
    /** Random spread of each interval, in percent, so probes of many proxies do not align. */
    jitter: percent.default(10),
    /** http: the statuses that count as healthy. */
    expectedStatus: z
      .object({ min: z.number().int().min(100).max(599).default(200), max: z.number().int().min(100).max(599).default(299) })
      .strict()
      .default({}),
  })
  .strict();

export const outlierDetectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Consecutive failures (5xx, gRPC UNAVAILABLE/INTERNAL/UNKNOWN/RESOURCE_EXHAUSTED, resets, connect failures) that eject. */
    consecutiveFailures: z.number().int().min(1).max(10_000).default(5),
    /** Success-rate ejection: evaluated over this window… */
    interval: positiveDurationSchema.default('10s'),
    /** …for endpoints with at least this many requests in it… */
    minRequests: z.number().int().min(1).default(100),
    /** …ejecting those whose success rate (percent) is below this; 0 turns success-rate ejection off. */
    minSuccessRate: percent.default(0),
    /** First ejection lasts this long; each further one doubles it (with jitter) up to maxEjectionTime. */
    baseEjectionTime: positiveDurationSchema.default('1s'),
    maxEjectionTime: positiveDurationSchema.default('60s'),
    /** Never eject more than this share of a service's endpoints. */
    maxEjectionPercent: percent.default(50),
  })
  .strict();

export const circuitBreakersSchema = z
  .object({
    /** Requests in flight to the service; beyond it requests fail at once (SWY_ERR_OVERLOADED). */
    maxRequests: z.number().int().min(1).default(100_000),
    /** Retries and hedges in flight to the service. */
    maxRetries: z.number().int().min(0).default(1_000),
  })
  .strict();

export const RETRY_CONDITIONS = [
  'connect-failure',
  'refused-stream',
  'reset',
  '5xx',
  'gateway-error',
  'retriable-4xx',
  'unavailable',
  'cancelled',
  'deadline-exceeded',
  'resource-exhausted',
  'internal',
  'unknown',
] as const;

const retryConditionSchema = z.enum(RETRY_CONDITIONS, {
  errorMap: (issue, ctx) => {
    if (issue.code !== z.ZodIssueCode.invalid_enum_value) return { message: ctx.defaultError };
    const why = typeof ctx.data === 'string' ? explainUnknownRetryCondition(ctx.data) : undefined;
    return { message: `unknown retry condition ${describe(ctx.data)}${why ? ` (${why})` : ''}; expected one of ${RETRY_CONDITIONS.join(', ')}` };
  },
});

export const retrySchema = z
  .object({
    /** A list, or Envoy's / Linkerd's comma-separated string; foreign spellings are normalized (vocabulary.ts). */
    on: z
      .preprocess(normalizeRetryOn, z.array(retryConditionSchema).min(1))
      .default(['connect-failure', 'refused-stream', 'unavailable', 'gateway-error']),
    /** Total attempts, the first one included. */
    attempts: z.number().int().min(1).max(10).default(2),
    /** Deadline of each attempt; 0 = only the route timeout. */
    perTryTimeout: durationSchema.default(0),
    backoff: z
      .object({ base: positiveDurationSchema.default('25ms'), max: positiveDurationSchema.default('250ms') })
      .strict()
      .default({}),
    budget: z
      .object({
        /** Retries may add at most this share of requests… */
        ratio: z.number().min(0).max(10).default(0.2),
        /** …plus this many per second… */
        minPerSecond: z.number().min(0).default(10),
        /** …counted over this window. */
        window: positiveDurationSchema.default('10s'),
      })
      .strict()
      .default({}),
    /** Request bodies up to this size are kept for a retry; larger ones are not retried. */
    bufferSize: z.number().int().min(0).max(64 << 20).default(64 * 1024),
    /** Retry non-idempotent requests (POST, PATCH…) on conditions other than connect-failure and refused-stream. */
    nonIdempotent: z.boolean().default(false),
  })
  .strict();

export const hedgeSchema = z
  .object({
    /** Send a second attempt to another endpoint after this delay. */
    delay: positiveDurationSchema.default('50ms'),
    /** Attempts in total, the first one included. */
    maxAttempts: z.number().int().min(2).max(5).default(2),
  })
  .strict();
