/**
 * The `balancer` setting of a service: a policy name ("round-robin") or an
 * object `{ policy: NAME, ...options }`. Names are normalized from the
 * spellings users bring from other proxies (vocabulary.ts) to one canonical
 * name, and each policy's options are validated strictly.
 */
import { z } from 'zod';
import { durationSchema, positiveDurationSchema, describe } from './duration.js';
import { canonicalPolicy, explainUnknownPolicy, keyHint } from './vocabulary.js';

export const BALANCER_POLICIES = [
  'round-robin',
  'weighted-round-robin',
  'random',
  'least-request',
  'peak-ewma',
  'ring-hash',
  'maglev',
] as const;
export type BalancerPolicyName = (typeof BALANCER_POLICIES)[number];

/** Policies usable as the fallback of a hash policy (the ones that need no hash key). */
export const FALLBACK_POLICIES = ['round-robin', 'weighted-round-robin', 'random', 'least-request', 'peak-ewma'] as const;
export type FallbackPolicyName = (typeof FALLBACK_POLICIES)[number];

export const DEFAULT_BALANCER_POLICY: BalancerPolicyName = 'peak-ewma';

/**
 * Canonical policy name for what a user wrote (roundRobin, ROUND_ROBIN, rr,
 * least-loaded, ewma, …; the table is in vocabulary.ts), or undefined.
 */
export function normalizePolicyName(name: string): BalancerPolicyName | undefined {
  return canonicalPolicy(name);
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

const headerNameSchema = z
  .string()
  .min(1)
  .transform((s) => s.toLowerCase())
  .refine((s) => HEADER_NAME.test(s), (s) => ({ message: `"${s}" is not a valid header name` }));

export type HashOn = { header: string } | { grpcMetadata: string } | { path: true } | { sourceIp: true };

const HASH_ON_KEYS = ['header', 'grpcMetadata', 'path', 'sourceIp'] as const;
const HASH_ON_HELP = 'exactly one of header: NAME, grpcMetadata: KEY, path: true, sourceIp: true';

/** What a hash policy hashes: exactly one of the keys. Header and metadata names are lower-cased. */
export const hashOnSchema = z
  .object(
    {
      header: headerNameSchema.optional().describe('Hash the value of this request header (name lower-cased).'),
      grpcMetadata: headerNameSchema.optional().describe('Hash this gRPC metadata entry (sent as a header).'),
      path: z.literal(true).optional().describe('Hash the request path.'),
      sourceIp: z.literal(true).optional().describe('Hash the client\'s IP address.'),
    },
    {
      errorMap: (issue, ctx) =>
        issue.code === z.ZodIssueCode.invalid_type
          ? {
              message:
                ctx.data === undefined
                  ? `Required: hash policies need hashOn (${HASH_ON_HELP})`
                  : `hashOn must be a mapping with ${HASH_ON_HELP} (got ${describe(ctx.data)})`,
            }
          : { message: ctx.defaultError },
    },
  )
  .strict()
  .superRefine((v, ctx) => {
    const set = HASH_ON_KEYS.filter((k) => v[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: set.length === 0 ? `hashOn needs ${HASH_ON_HELP}` : `hashOn has ${set.join(' and ')}; use ${HASH_ON_HELP}`,
      });
    }
  })
  .transform((v): HashOn => {
    if (v.header !== undefined) return { header: v.header };
    if (v.grpcMetadata !== undefined) return { grpcMetadata: v.grpcMetadata };
    if (v.path) return { path: true };
    return { sourceIp: true };
  });

/** Slow start: a newly ready endpoint's weight ramps up over `window`. */
export const slowStartSchema = z
  .object({
    window: positiveDurationSchema.describe('How long the ramp lasts.'),
    minWeightPercent: z.number().min(0).max(100).default(10).describe('Weight at the start of the ramp, as a percentage of full weight.'),
    aggression: z.number().positive().default(1).describe('Shape of the ramp: weight grows as (elapsed / window)^(1 / aggression); `1.0` is linear, larger values ramp faster early.'),
  })
  .strict();
export type SlowStartConfig = z.output<typeof slowStartSchema>;

const fallbackSchema = z
  .string()
  .transform((name, ctx): FallbackPolicyName => {
    const canonical = normalizePolicyName(name);
    if (canonical === undefined || !(FALLBACK_POLICIES as readonly string[]).includes(canonical)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `"${name}" cannot be a fallback policy; use one of ${FALLBACK_POLICIES.join(', ')}`,
      });
      return z.NEVER;
    }
    return canonical as FallbackPolicyName;
  })
  .default('peak-ewma');

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export const MAGLEV_MAX_TABLE_SIZE = 5_000_011;

const common = { slowStart: slowStartSchema.optional().describe('Ramp up traffic to an endpoint that just became ready (unset: off).') };

export const roundRobinSchema = z.object({ policy: z.literal('round-robin').describe('The policy, by its canonical name or an accepted spelling (table above).'), ...common }).strict();
export const weightedRoundRobinSchema = z.object({ policy: z.literal('weighted-round-robin'), ...common }).strict();
export const randomSchema = z.object({ policy: z.literal('random'), ...common }).strict();
export const leastRequestSchema = z
  .object({
    policy: z.literal('least-request'),
    choiceCount: z.number().int().min(2).max(100).default(2).describe('Endpoints sampled per pick.'),
    activeRequestBias: z.number().min(0).default(1).describe('With unequal weights, effective weight = weight / (in-flight + 1)^bias; `0` ignores load.'),
    ...common,
  })
  .strict();
export const peakEwmaSchema = z
  .object({
    policy: z.literal('peak-ewma'),
    defaultRtt: positiveDurationSchema.default('30ms').describe('Latency assumed for an endpoint with no measurements yet.'),
    decay: positiveDurationSchema.default('10s').describe('Time constant of the moving average: how quickly old latency samples are forgotten (a sample after a gap weighs at least `1 − exp(−gap / decay)`), and how fast a failure penalty fades.'),
    noiseFloor: durationSchema.default('1ms').describe('Latency differences smaller than this never count: such endpoints are balanced by requests in flight and rotation.'),
    noiseFactor: z.number().finite().min(0).default(1).describe('Width of the "cannot tell apart" band, in mean deviations of the latency samples. `0` (with `noiseFloor: 0`) compares latency costs only.'),
    probeAfter: positiveDurationSchema.default('5s').describe('How quickly an endpoint that has been avoided becomes a candidate again: its uncertainty grows by its latency × (time since last picked) / `probeAfter`.'),
    ...common,
  })
  .strict();
export const ringHashSchema = z
  .object({
    policy: z.literal('ring-hash'),
    hashOn: hashOnSchema.describe('What to hash, below.'),
    ringSize: z.number().int().min(1024).max(8_388_608).default(65_536).describe('Points on the ring; more points spread load more evenly.'),
    fallback: fallbackSchema.describe('Policy for requests that carry no hash key: `round-robin`, `weighted-round-robin`, `random`, `least-request` or `peak-ewma` (any accepted spelling).'),
    ...common,
  })
  .strict();
export const maglevSchema = z
  .object({
    policy: z.literal('maglev'),
    hashOn: hashOnSchema.describe('What to hash, below.'),
    tableSize: z
      .number()
      .int()
      .min(2)
      .max(MAGLEV_MAX_TABLE_SIZE)
      .refine(isPrime, (n) => ({ message: `tableSize ${n} is not a prime number (e.g. 65537, 131071, 5000011)` }))
      .default(65_537)
      .describe('Lookup table size; should be well above 100 × the number of endpoints. Must be prime.'),
    fallback: fallbackSchema.describe('As for `ring-hash`.'),
    ...common,
  })
  .strict();

const policyUnion = z.discriminatedUnion(
  'policy',
  [roundRobinSchema, weightedRoundRobinSchema, randomSchema, leastRequestSchema, peakEwmaSchema, ringHashSchema, maglevSchema],
  {
    errorMap: (issue, ctx) => {
      if (issue.code === z.ZodIssueCode.invalid_union_discriminator) {
        const data: Record<string, unknown> = ctx.data !== null && typeof ctx.data === 'object' ? (ctx.data as Record<string, unknown>) : {};
        const given = data.policy;
        if (given === undefined) {
          // `{ kind: ewma }` (Linkerd 1) or a misspelt key: name ours rather than only "Required".
          const foreign = Object.keys(data).find((k) => keyHint(k, ['policy'])?.ours === 'policy');
          const value = foreign === undefined ? undefined : data[foreign];
          return {
            message:
              foreign !== undefined
                ? `balancer needs "policy" (found "${foreign}": write policy: ${typeof value === 'string' ? value : describe(value)})`
                : `Required: balancer policy name (one of ${BALANCER_POLICIES.join(', ')})`,
          };
        }
        const why = typeof given === 'string' ? explainUnknownPolicy(given) : undefined;
        return {
          message: `unknown balancer policy ${describe(given)}${why ? ` (${why})` : ''}; expected one of ${BALANCER_POLICIES.join(', ')}`,
        };
      }
      if (issue.code === z.ZodIssueCode.invalid_type) {
        return { message: `balancer must be a policy name or a mapping with "policy" (got ${describe(ctx.data)})` };
      }
      return { message: ctx.defaultError };
    },
  },
);

function normalizeInput(value: unknown): unknown {
  if (typeof value === 'string') return { policy: normalizePolicyName(value) ?? value };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    if (typeof obj.policy === 'string') return { ...obj, policy: normalizePolicyName(obj.policy) ?? obj.policy };
  }
  return value;
}

/**
 * A service's balancer: a policy name or `{ policy, ...options }`. Output is
 * `{ policy: canonical name, ...options with defaults }`.
 */
export const balancerSchema = z.preprocess(normalizeInput, policyUnion);

export type BalancerConfig = z.output<typeof balancerSchema>;
export type RoundRobinConfig = z.output<typeof roundRobinSchema>;
export type WeightedRoundRobinConfig = z.output<typeof weightedRoundRobinSchema>;
export type RandomConfig = z.output<typeof randomSchema>;
export type LeastRequestConfig = z.output<typeof leastRequestSchema>;
export type PeakEwmaConfig = z.output<typeof peakEwmaSchema>;
export type RingHashConfig = z.output<typeof ringHashSchema>;
export type MaglevConfig = z.output<typeof maglevSchema>;

/** The balancer used when a service does not set one, with defaults filled in. */
export const balancerWithDefault = balancerSchema.default(DEFAULT_BALANCER_POLICY);

/** Object schemas of each policy, keyed by canonical name (for docs and tooling). */
export const policySchemas = {
  'round-robin': roundRobinSchema,
  'weighted-round-robin': weightedRoundRobinSchema,
  random: randomSchema,
  'least-request': leastRequestSchema,
  'peak-ewma': peakEwmaSchema,
  'ring-hash': ringHashSchema,
  maglev: maglevSchema,
} as const;

