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
    type: z.enum(HEALTH_CHECK_TYPES).default('tcp').describe('`tcp` connects; `http` sends `GET path` and expects `expectedStatus`; `grpc` calls `grpc.health.v1.Health/Check` (NOT_SERVING and SERVICE_UNKNOWN are unhealthy).'),
    /** http: the path probed. */
    path: z.string().startsWith('/', 'must start with "/"').default('/healthz').describe('Path probed by `http` checks.'),
    /** grpc: the service name sent to grpc.health.v1.Health/Check ("" = the whole server). */
    grpcService: z.string().default('').describe('Service name sent in the gRPC health request (`""` = the whole server).'),
    interval: positiveDurationSchema.default('5s').describe('Time between probes of one endpoint.'),
    timeout: positiveDurationSchema.default('1s').describe('A probe not answered within this fails.'),
    healthyThreshold: z.number().int().min(1).max(100).default(2).describe('Consecutive successes that make an unhealthy endpoint healthy.'),
    unhealthyThreshold: z.number().int().min(1).max(100).default(3).describe('Consecutive failures that make a healthy endpoint unhealthy.'),
    /** Random spread of each interval, in percent, so probes of many proxies do not align. */
    jitter: percent.default(10).describe('Random spread of each interval, in percent, so probes of many proxies do not align.'),
    /** http: the statuses that count as healthy. */
    expectedStatus: z
      .object({
        min: z.number().int().min(100).max(599).default(200).describe('Lowest healthy status.'),
        max: z.number().int().min(100).max(599).default(299).describe('Highest healthy status.'),
      })
      .strict()
      .default({})
      .describe('`http`: the statuses that count as healthy.'),
  })
  .strict();

export const outlierDetectionSchema = z
  .object({
    enabled: z.boolean().default(true).describe('`false` turns passive ejection off.'),
    /** Consecutive failures (5xx, gRPC UNAVAILABLE/INTERNAL/UNKNOWN/RESOURCE_EXHAUSTED, resets, connect failures) that eject. */
    consecutiveFailures: z.number().int().min(1).max(10_000).default(5).describe('Consecutive failed requests (5xx, gRPC UNAVAILABLE/INTERNAL/UNKNOWN/RESOURCE_EXHAUSTED, resets, connect failures) that eject an endpoint.'),
    /** Success-rate ejection: evaluated over this window… */
    interval: positiveDurationSchema.default('10s').describe('Window of the success-rate check.'),
    /** …for endpoints with at least this many requests in it… */
    minRequests: z.number().int().min(1).default(100).describe('Requests an endpoint needs in the window for the success-rate check.'),
    /** …ejecting those whose success rate (percent) is below this; 0 turns success-rate ejection off. */
    minSuccessRate: percent.default(0).describe('Eject endpoints whose success rate (percent) in the window is below this; `0` = off.'),
    /** First ejection lasts this long; each further one doubles it (with jitter) up to maxEjectionTime. */
    baseEjectionTime: positiveDurationSchema.default('1s').describe('First ejection; each further one doubles (with jitter).'),
    maxEjectionTime: positiveDurationSchema.default('60s').describe('Longest ejection.'),
    /** Never eject more than this share of a service's endpoints. */
    maxEjectionPercent: percent.default(50).describe('Never eject more than this share (percent) of the service\'s endpoints.'),
  })
  .strict();

export const circuitBreakersSchema = z
  .object({
    /** Requests in flight to the service; beyond it requests fail at once (SWY_ERR_OVERLOADED). */
    maxRequests: z.number().int().min(1).default(100_000).describe('Requests in flight to the service; beyond it requests fail at once with `SWY_ERR_OVERLOADED`.'),
    /** Retries and hedges in flight to the service. */
    maxRetries: z.number().int().min(0).default(1_000).describe('Retries and hedges in flight to the service.'),
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
      .default(['connect-failure', 'refused-stream', 'unavailable', 'gateway-error'])
      .describe('Conditions: `connect-failure`, `refused-stream`, `reset`, `5xx`, `gateway-error` (502/503/504), `retriable-4xx` (409), and the gRPC statuses `unavailable`, `cancelled`, `deadline-exceeded`, `resource-exhausted`, `internal`, `unknown` (read from headers or trailers). Envoy\'s and Linkerd\'s spellings, and their comma-separated strings, are accepted and normalized (see vocabulary.md).'),
    /** Total attempts, the first one included. */
    attempts: z.number().int().min(1).max(10).default(2).describe('Attempts in total, the first included.'),
    /** Deadline of each attempt; 0 = only the route timeout. */
    perTryTimeout: durationSchema.default(0).describe('Deadline of one attempt; `0` = only the route timeout.'),
    backoff: z
      .object({
        base: positiveDurationSchema.default('25ms').describe('First wait.'),
        max: positiveDurationSchema.default('250ms').describe('Longest wait.'),
      })
      .strict()
      .default({})
      .describe('Wait before a retry: exponential with full jitter.'),
    budget: z
      .object({
        /** Retries may add at most this share of requests… */
        ratio: z.number().min(0).max(10).default(0.2).describe('Retries may add at most this share of requests…'),
        /** …plus this many per second… */
        minPerSecond: z.number().min(0).default(10).describe('…plus this many per second…'),
        /** …counted over this window. */
        window: positiveDurationSchema.default('10s').describe('…counted over this window.'),
      })
      .strict()
      .default({})
      .describe('Retries may add at most `ratio` × requests + `minPerSecond` × seconds over the window.'),
    /** Request bodies up to this size are kept for a retry; larger ones are not retried. */
    bufferSize: z.number().int().min(0).max(64 << 20).default(64 * 1024).describe('Request bodies up to this many bytes are kept for a retry; larger requests are not retried (except never-processed ones).'),
    /** Retry non-idempotent requests (POST, PATCH…) on conditions other than connect-failure and refused-stream. */
    nonIdempotent: z.boolean().default(false).describe('Retry POST and other non-idempotent methods on conditions other than `connect-failure` / `refused-stream`.'),
  })
  .strict();

export const hedgeSchema = z
  .object({
    /** Send a second attempt to another endpoint after this delay. */
    delay: positiveDurationSchema.default('50ms').describe('Send another attempt to a different endpoint when no answer came within this.'),
    /** Attempts in total, the first one included. */
    maxAttempts: z.number().int().min(2).max(5).default(2).describe('Attempts in total. The first answer wins; the others are cancelled.'),
  })
  .strict();
