import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { distributionSchema } from './distributions.js';
import { POLICY_NAMES, normalizePolicyName, type BalancerSpec, type PolicyName } from '../registry.js';
import { DEFAULT_ZONE_AWARE } from '../zone-aware.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parse "250ms", "1.5s", "2m", "1h" or a bare number (ms). Returns undefined when malformed. */
export function parseDuration(v: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
  if (m === null) return undefined;
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
}

/** Milliseconds: a number or a string with a unit. */
const duration = z.union([
  z.number().finite().nonnegative(),
  z.string().transform((s, ctx) => {
    const d = parseDuration(s);
    if (d === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid duration "${s}" (use e.g. 250ms, 2s, 1m)` });
      return z.NEVER;
    }
    return d;
  }),
]);

const policyName = z.string().transform((s, ctx) => {
  const p = normalizePolicyName(s);
  if (p === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown policy "${s}" (known: ${POLICY_NAMES.join(', ')})` });
    return z.NEVER;
  }
  return p;
});

const eventSchema = z
  .object({
    at: duration,
    /**
     * fail: connections refused (requests fail after `failLatency`, no response);
     * hang: requests get no answer until the request timeout;
     * recover: back to normal; remove / add: leave / rejoin the balancer's endpoint set
     * (as discovery or health checking would do; `add` restarts slow start).
     */
    action: z.enum(['fail', 'hang', 'recover', 'remove', 'add']),
    /** How many endpoints of the group (the first ones). Default all. */
    count: z.number().int().positive().optional(),
  })
  .strict();

const groupSchema = z
  .object({
    name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "." or "-"'),
    count: z.number().int().positive(),
    weight: z.number().finite().nonnegative().default(1),
    latency: distributionSchema,
    /** Requests served at once; beyond it requests queue FIFO at the endpoint. Default unlimited. */
    concurrency: z.number().int().positive().optional(),
    /** Fraction of requests answered with an error (after `errorLatency`). */
    errorRate: z.number().min(0).max(1).default(0),
    errorLatency: distributionSchema.default(1),
    /** Time until a refused connection fails (ms), for the `fail` action. */
    failLatency: duration.default(1),
    /** Topology zone of the group's endpoints (with the scenario's `zone`: zone-aware balancing). */
    zone: z.string().min(1).optional(),
    /**
     * The first `requests` requests each endpoint serves take `latency` instead
     * (a cold start: connection set-up, JIT, caches).
     */
    warmup: z.object({ requests: z.number().int().positive().default(1), latency: distributionSchema }).strict().optional(),
    /** Start outside the balancer's set (joins with an `add` event). */
    initiallyAbsent: z.boolean().default(false),
    events: z.array(eventSchema).default([]),
  })
  .strict();

const balancerOptions = z
  .object({
    choiceCount: z.number().int().min(2).optional(),
    activeRequestBias: z.number().finite().nonnegative().optional(),
    defaultRtt: duration.optional(),
    decay: duration.refine((d) => d > 0, 'must be > 0').optional(),
    noiseFloor: duration.optional(),
    noiseFactor: z.number().finite().nonnegative().optional(),
    probeAfter: duration.refine((d) => d > 0, 'must be > 0').optional(),
    ringSize: z.number().int().positive().optional(),
    tableSize: z.number().int().positive().optional(),
    fallback: policyName.optional(),
    slowStart: z
      .object({
        window: duration,
        minWeightPercent: z.number().min(0).max(100).default(10),
        aggression: z.number().finite().positive().default(1),
      })
      .strict()
      .optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().optional(),
    description: z.string().optional(),
    seed: z.number().int().default(1),
    /** Total requests (open loop: arrivals do not wait for responses). */
    requests: z.number().int().positive(),
    /** Open loop: mean arrival rate, requests per second (Poisson arrivals). Either this or `clients`. */
    rate: z.number().finite().positive().optional(),
    /**
     * Closed loop: this many clients, each sending its next request `thinkTime`
     * after its previous one ended (1 = sequential traffic). Either this or `rate`.
     */
    clients: z.number().int().positive().optional(),
    thinkTime: duration.default(0),
    /** Requests without a response by then fail (ms). */
    requestTimeout: duration.default(10_000),
    policies: z.array(policyName).min(1).optional(),
    balancer: balancerOptions.default({}),
    /** Distinct hash keys carried by requests (for ring-hash / maglev); 0 = no key (fallback policy). */
    hashKeys: z.number().int().nonnegative().default(10_000),
    failfast: z
      .object({ timeout: duration.default(3000), capacity: z.number().int().nonnegative().default(10_000) })
      .strict()
      .default({}),
    groups: z.array(groupSchema).min(1),
    /** The proxy's zone: the policies run behind zone-aware subset selection (src/balancing/zone-aware.ts). */
    zone: z.string().min(1).optional(),
    zoneAware: z
      .object({
        spillThreshold: z.number().gt(0).max(1).default(DEFAULT_ZONE_AWARE.spillThreshold),
        endpointCapacity: z.number().positive().default(DEFAULT_ZONE_AWARE.endpointCapacity),
        minEndpoints: z.number().int().min(1).default(DEFAULT_ZONE_AWARE.minEndpoints),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.rate === undefined) === (s.clients === undefined)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: 'set exactly one of rate (open loop) or clients (closed loop)',
        path: [s.rate === undefined ? 'rate' : 'clients'],
      });
    }
    const seen = new Set<string>();
    s.groups.forEach((g, i) => {
      if (seen.has(g.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `duplicate group name "${g.name}"`, path: ['groups', i, 'name'] });
      seen.add(g.name);
    });
  });

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioGroup = Scenario['groups'][number];
export type ScenarioEvent = ScenarioGroup['events'][number];

export class ScenarioError extends Error {
  constructor(message: string, readonly path: string) {
    super(path === '' ? message : `${path}: ${message}`);
    this.name = 'ScenarioError';
  }
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/** Validate a parsed scenario object. Throws ScenarioError naming the offending key. */
export function parseScenario(data: unknown): Scenario {
  const r = scenarioSchema.safeParse(data);
  if (r.success) return r.data;
  // Report the deepest issue first: unions otherwise surface as "invalid input" at the parent.
  const issue = r.error.issues[0]!;
  let best = issue;
  if (issue.code === z.ZodIssueCode.invalid_union) {
    for (const e of issue.unionErrors) for (const i of e.issues) if (i.path.length > best.path.length) best = i;
  }
  return thrower(best.message, formatPath(best.path));
}

function thrower(message: string, path: string): never {
  throw new ScenarioError(message, path);
}

/** Parse and validate YAML text. */
export function parseScenarioYaml(text: string): Scenario {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new ScenarioError(`invalid YAML: ${(e as Error).message}`, '');
  }
  return parseScenario(data);
}

/** The BalancerSpec a scenario uses for `policy`. */
export function scenarioSpec(s: Scenario, policy: PolicyName): BalancerSpec {
  const b = s.balancer;
  const spec: BalancerSpec = { policy };
  if (b.choiceCount !== undefined) spec.choiceCount = b.choiceCount;
  if (b.activeRequestBias !== undefined) spec.activeRequestBias = b.activeRequestBias;
  if (b.defaultRtt !== undefined) spec.defaultRtt = b.defaultRtt;
  if (b.decay !== undefined) spec.decay = b.decay;
  if (b.noiseFloor !== undefined) spec.noiseFloor = b.noiseFloor;
  if (b.noiseFactor !== undefined) spec.noiseFactor = b.noiseFactor;
  if (b.probeAfter !== undefined) spec.probeAfter = b.probeAfter;
  if (b.ringSize !== undefined) spec.ringSize = b.ringSize;
  if (b.tableSize !== undefined) spec.tableSize = b.tableSize;
  if (b.fallback !== undefined) spec.fallback = b.fallback;
  if (b.slowStart !== undefined) spec.slowStart = b.slowStart;
  return spec;
}
