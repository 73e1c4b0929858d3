/**
 * The names users bring from Envoy, Linkerd (1.x and 2.x), gRPC, HAProxy and
 * nginx configurations, and what they become here. This is the one place
 * where foreign spellings are known:
 *
 * - values that map cleanly (balancer policy names, retry conditions) are
 *   normalized to the canonical name by the schemas' preprocess steps;
 * - values that do not map get an error saying what to write instead;
 * - keys are never renamed (each key has one spelling, so files stay
 *   greppable and match docs/configuration.md), but an unknown key that is a
 *   known foreign spelling, a case/separator variant or a near-miss of one of
 *   ours gets an error that names our key.
 *
 * docs/vocabulary.md explains each mapping and where meanings differ.
 */
import type { BalancerPolicyName } from './balancer-options.js';
import type { RETRY_CONDITIONS } from './resilience-schema.js';

export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

/** One foreign (or shorthand) spelling and the canonical name it stands for. */
export interface Alias<T extends string> {
  readonly alias: string;
  readonly canonical: T;
  /** Where users meet this spelling. */
  readonly from: string;
}

/** A foreign name with no clean equivalent, and what to write instead. */
export interface Unmapped {
  readonly name: string;
  readonly from: string;
  readonly instead: string;
}

/**
 * Lookup form of a name: lower case, without "-", "_", ".", "/" and spaces,
 * so roundRobin, ROUND_ROBIN, round_robin and round-robin are one name.
 */
export function fold(name: string): string {
  return name.toLowerCase().replace(/[-_./\s]/g, '');
}

// ---------------------------------------------------------------------------
// balancer policies

export const POLICY_ALIASES: readonly Alias<BalancerPolicyName>[] = [
  { alias: 'ROUND_ROBIN', canonical: 'round-robin', from: 'Envoy lb_policy' },
  { alias: 'roundRobin', canonical: 'round-robin', from: 'Linkerd 1 loadBalancer kind' },
  { alias: 'roundrobin', canonical: 'round-robin', from: 'HAProxy balance' },
  { alias: 'rr', canonical: 'round-robin', from: 'shorthand' },
  { alias: 'weighted_round_robin', canonical: 'weighted-round-robin', from: 'gRPC (gRFC A58; weights from ORCA only with services[].orca)' },
  { alias: 'wrr', canonical: 'weighted-round-robin', from: 'shorthand' },
  { alias: 'RANDOM', canonical: 'random', from: 'Envoy lb_policy' },
  { alias: 'LEAST_REQUEST', canonical: 'least-request', from: 'Envoy lb_policy, Istio' },
  { alias: 'leastRequest', canonical: 'least-request', from: 'Envoy Gateway, Istio' },
  { alias: 'least-requests', canonical: 'least-request', from: 'common misspelling' },
  // Linkerd 1's default, Finagle's "P2C + least loaded": two random picks, the
  // one with fewer outstanding requests wins. That is least-request with
  // choiceCount 2, not latency-aware peak-ewma (Linkerd 1 calls that "ewma").
  { alias: 'least-loaded', canonical: 'least-request', from: 'Linkerd 1 / Finagle (P2C least loaded)' },
  { alias: 'p2c', canonical: 'least-request', from: 'Linkerd 1 loadBalancer kind (P2C least loaded)' },
  { alias: 'LEAST_CONN', canonical: 'least-request', from: 'Istio (deprecated name of LEAST_REQUEST)' },
  { alias: 'leastconn', canonical: 'least-request', from: 'HAProxy balance' },
  { alias: 'least_conn', canonical: 'least-request', from: 'nginx upstream' },
  { alias: 'least-connections', canonical: 'least-request', from: 'common name' },
  { alias: 'ewma', canonical: 'peak-ewma', from: 'Linkerd 1 loadBalancer kind (P2C peak EWMA)' },
  { alias: 'p2cPeakEwma', canonical: 'peak-ewma', from: 'Finagle' },
  { alias: 'p2c-ewma', canonical: 'peak-ewma', from: 'shorthand' },
  { alias: 'PEAK_EWMA', canonical: 'peak-ewma', from: 'Envoy peak EWMA policy' },
  { alias: 'RING_HASH', canonical: 'ring-hash', from: 'Envoy lb_policy' },
  { alias: 'ringHash', canonical: 'ring-hash', from: 'camelCase' },
  { alias: 'ketama', canonical: 'ring-hash', from: 'nginx hash … consistent, memcached clients' },
  { alias: 'MAGLEV', canonical: 'maglev', from: 'Envoy lb_policy' },
];

export const UNMAPPED_POLICIES: readonly Unmapped[] = [
  { name: 'aperture', from: 'Linkerd 1 / Finagle', instead: 'Switchyard balances over every endpoint; peak-ewma is the closest' },
  { name: 'heap', from: 'Linkerd 1 / Finagle', instead: 'least-request with a larger choiceCount compares more endpoints' },
  { name: 'CLIENT_SIDE_WEIGHTED_ROUND_ROBIN', from: 'Envoy', instead: 'weighted-round-robin with services[].orca (docs/orca.md)' },
  { name: 'ORIGINAL_DST_LB', from: 'Envoy', instead: 'no equivalent: endpoints come from endpoints or discovery' },
  { name: 'CLUSTER_PROVIDED', from: 'Envoy', instead: 'no equivalent: name a policy' },
  { name: 'pick_first', from: 'gRPC', instead: 'no equivalent: name a policy (round-robin, peak-ewma, …)' },
  { name: 'ip_hash', from: 'nginx', instead: 'ring-hash or maglev with hashOn: { sourceIp: true }' },
  { name: 'source', from: 'HAProxy', instead: 'ring-hash or maglev with hashOn: { sourceIp: true }' },
  { name: 'uri', from: 'HAProxy', instead: 'ring-hash or maglev with hashOn: { path: true }' },
  { name: 'hdr', from: 'HAProxy', instead: 'ring-hash or maglev with hashOn: { header: NAME }' },
];

// ---------------------------------------------------------------------------
// retry conditions

export const RETRY_ALIASES: readonly Alias<RetryCondition>[] = [
  // Envoy's HTTP retry_on names are ours already (connect-failure, refused-stream,
  // reset, 5xx, gateway-error, retriable-4xx); the variants below differ in case,
  // separators or spelling only.
  { alias: 'CANCELLED', canonical: 'cancelled', from: 'gRPC status name' },
  { alias: 'canceled', canonical: 'cancelled', from: 'grpc-go codes.Canceled' },
  { alias: 'DEADLINE_EXCEEDED', canonical: 'deadline-exceeded', from: 'gRPC status name' },
  { alias: 'DeadlineExceeded', canonical: 'deadline-exceeded', from: 'grpc-go, Kuma' },
  { alias: 'INTERNAL', canonical: 'internal', from: 'gRPC status name' },
  { alias: 'INTERNAL_ERROR', canonical: 'internal', from: 'AWS App Mesh' },
  { alias: 'RESOURCE_EXHAUSTED', canonical: 'resource-exhausted', from: 'gRPC status name' },
  { alias: 'UNAVAILABLE', canonical: 'unavailable', from: 'gRPC status name' },
  { alias: 'UNKNOWN', canonical: 'unknown', from: 'gRPC status name' },
  // Linkerd's retry.linkerd.io/http takes statuses and ranges; these three are
  // exactly one of our classes.
  { alias: '500-599', canonical: '5xx', from: 'Linkerd retry.linkerd.io/http' },
  { alias: '502-504', canonical: 'gateway-error', from: 'Linkerd retry.linkerd.io/http' },
  { alias: '409', canonical: 'retriable-4xx', from: 'Linkerd retry.linkerd.io/http' },
  { alias: 'connect_failure', canonical: 'connect-failure', from: 'snake_case' },
  { alias: 'REFUSED_STREAM', canonical: 'refused-stream', from: 'RFC 9113 error code name' },
];

const STATUS_CLASSES = 'use 5xx (500-599), gateway-error (502, 503, 504) or retriable-4xx (409)';

export const UNMAPPED_RETRY_CONDITIONS: readonly Unmapped[] = [
  { name: 'retriable-status-codes', from: 'Envoy', instead: `there is no list of statuses; ${STATUS_CLASSES}` },
  { name: 'retriable-headers', from: 'Envoy', instead: 'no equivalent: retries are decided by status and stream outcome' },
  { name: 'envoy-ratelimited', from: 'Envoy', instead: 'no equivalent (Switchyard does not rate-limit)' },
  { name: 'reset-before-request', from: 'Envoy', instead: 'requests the endpoint never processed are always resent; see docs/resilience.md' },
  { name: 'http3-post-connect-failure', from: 'Envoy', instead: 'no equivalent (no HTTP/3 upstreams)' },
];

// ---------------------------------------------------------------------------
// keys

/** A foreign key and our key (a dotted path relative to the mapping it was written in). */
export interface ForeignKey {
  readonly key: string;
  readonly ours: string;
  readonly from: string;
  /** Where the meaning differs. */
  readonly note?: string;
}

export const FOREIGN_KEYS: readonly ForeignKey[] = [
  // services[]
  { key: 'lb_policy', ours: 'balancer', from: 'Envoy cluster' },
  { key: 'loadBalancer', ours: 'balancer', from: 'Linkerd 1 client' },
  { key: 'strategy', ours: 'balancer', from: 'common' },
  { key: 'failureAccrual', ours: 'outlierDetection', from: 'Linkerd 1 client' },
  { key: 'health_checks', ours: 'healthCheck', from: 'Envoy cluster' },
  { key: 'healthy_panic_threshold', ours: 'panicThreshold', from: 'Envoy common_lb_config' },
  { key: 'common_lb_config', ours: 'panicThreshold', from: 'Envoy cluster' },
  { key: 'slow_start_config', ours: 'balancer.slowStart', from: 'Envoy lb config' },
  { key: 'hash_policy', ours: 'balancer.hashOn', from: 'Envoy route' },
  { key: 'max_concurrent_streams', ours: 'maxConnectionsPerEndpoint', from: 'Envoy cluster http2_protocol_options', note: 'an endpoint limits its own streams with SETTINGS_MAX_CONCURRENT_STREAMS; the proxy opens more connections' },
  // listeners[]
  { key: 'max_concurrent_streams', ours: 'http2.maxConcurrentStreams', from: 'Envoy http2_protocol_options' },
  { key: 'http2_protocol_options', ours: 'http2', from: 'Envoy' },
  // routes[]
  { key: 'request-timeout', ours: 'timeout', from: 'Linkerd timeout.linkerd.io/request', note: 'both cover the whole request, retries included' },
  { key: 'timeout.linkerd.io/request', ours: 'timeout', from: 'Linkerd' },
  { key: 'response-timeout', ours: 'timeout', from: 'Linkerd timeout.linkerd.io/response', note: 'timeout runs from the request, not the response; retry.perTryTimeout bounds one attempt' },
  { key: 'timeout.linkerd.io/idle', ours: 'idleTimeout', from: 'Linkerd' },
  { key: 'retry_policy', ours: 'retry', from: 'Envoy route' },
  { key: 'retries', ours: 'retry', from: 'common' },
  { key: 'isRetryable', ours: 'retry', from: 'Linkerd ServiceProfile route', note: 'retry: { on: [5xx] } is the equivalent' },
  { key: 'retryBudget', ours: 'retry.budget', from: 'Linkerd ServiceProfile', note: 'the budget is per route here' },
  { key: 'retry_on', ours: 'retry.on', from: 'Envoy retry_policy' },
  { key: 'per_try_timeout', ours: 'retry.perTryTimeout', from: 'Envoy retry_policy' },
  { key: 'retry.linkerd.io/timeout', ours: 'retry.perTryTimeout', from: 'Linkerd' },
  { key: 'hedge_policy', ours: 'hedge', from: 'Envoy route', note: 'a hedge is sent after hedge.delay, not on a per-try timeout' },
  // retry
  { key: 'retry_on', ours: 'on', from: 'Envoy retry_policy' },
  { key: 'retry.linkerd.io/http', ours: 'on', from: 'Linkerd' },
  { key: 'retry.linkerd.io/grpc', ours: 'on', from: 'Linkerd' },
  { key: 'num_retries', ours: 'attempts', from: 'Envoy retry_policy', note: 'attempts counts the first try: num_retries N is attempts N+1' },
  { key: 'retry.linkerd.io/limit', ours: 'attempts', from: 'Linkerd', note: 'attempts counts the first try: limit N is attempts N+1' },
  { key: 'maxRetries', ours: 'attempts', from: 'common', note: 'attempts counts the first try: N retries is attempts N+1' },
  { key: 'retry_back_off', ours: 'backoff', from: 'Envoy retry_policy' },
  { key: 'base_interval', ours: 'base', from: 'Envoy retry_back_off' },
  { key: 'max_interval', ours: 'max', from: 'Envoy retry_back_off' },
  { key: 'retriable_status_codes', ours: 'on', from: 'Envoy retry_policy', note: STATUS_CLASSES },
  // retry.budget
  { key: 'retryRatio', ours: 'ratio', from: 'Linkerd retryBudget' },
  { key: 'minRetriesPerSecond', ours: 'minPerSecond', from: 'Linkerd retryBudget' },
  { key: 'ttl', ours: 'window', from: 'Linkerd retryBudget' },
  // outlierDetection
  { key: 'consecutive_5xx', ours: 'consecutiveFailures', from: 'Envoy outlier_detection', note: 'gRPC failures, resets and connect failures count too' },
  { key: 'consecutive_gateway_failure', ours: 'consecutiveFailures', from: 'Envoy outlier_detection' },
  { key: 'success_rate_request_volume', ours: 'minRequests', from: 'Envoy outlier_detection' },
  // circuitBreakers
  { key: 'max_pending_requests', ours: 'failfast.queueSize', from: 'Envoy circuit_breakers' },
  // healthCheck
  { key: 'interval_jitter_percent', ours: 'jitter', from: 'Envoy health_checks' },
  { key: 'grpc_health_check', ours: 'type', from: 'Envoy health_checks', note: 'type: grpc with grpcService' },
  { key: 'http_health_check', ours: 'type', from: 'Envoy health_checks', note: 'type: http with path' },
  { key: 'expected_statuses', ours: 'expectedStatus', from: 'Envoy http_health_check' },
  // balancer
  { key: 'kind', ours: 'policy', from: 'Linkerd 1 loadBalancer' },
  { key: 'minimum_ring_size', ours: 'ringSize', from: 'Envoy ring_hash_lb_config' },
  { key: 'slow_start_window', ours: 'window', from: 'Envoy slow_start_config' },
];

const POLICY_INDEX = buildIndex(POLICY_ALIASES, ['round-robin', 'weighted-round-robin', 'random', 'least-request', 'peak-ewma', 'ring-hash', 'maglev']);
const RETRY_INDEX = buildIndex(RETRY_ALIASES, [
  'connect-failure', 'refused-stream', 'reset', '5xx', 'gateway-error', 'retriable-4xx',
  'unavailable', 'cancelled', 'deadline-exceeded', 'resource-exhausted', 'internal', 'unknown',
]);

function buildIndex<T extends string>(aliases: readonly Alias<T>[], canonical: readonly T[]): ReadonlyMap<string, T> {
  const index = new Map<string, T>();
  for (const c of canonical) index.set(fold(c), c);
  for (const a of aliases) {
    const key = fold(a.alias);
    const prev = index.get(key);
    if (prev !== undefined && prev !== a.canonical) throw new Error(`vocabulary: "${a.alias}" is both ${prev} and ${a.canonical}`);
    index.set(key, a.canonical);
  }
  return index;
}

/** Canonical policy name for what a user wrote (any alias, any case or separators), or undefined. */
export function canonicalPolicy(name: string): BalancerPolicyName | undefined {
  return POLICY_INDEX.get(fold(name));
}

/** Canonical retry condition for what a user wrote, or undefined. */
export function canonicalRetryCondition(name: string): RetryCondition | undefined {
  return RETRY_INDEX.get(fold(name));
}

/**
 * The `retry.on` value as a list: Envoy's and Linkerd's comma-separated
 * strings are split, numbers (409) become strings, and each known spelling
 * becomes its canonical name. Anything else is left for the schema to reject.
 */
export function normalizeRetryOn(value: unknown): unknown {
  const list = typeof value === 'string' ? splitList(value) : value;
  if (!Array.isArray(list)) return value;
  return list.map((item) => {
    const text = typeof item === 'number' ? String(item) : item;
    return typeof text === 'string' ? (canonicalRetryCondition(text) ?? text) : item;
  });
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Why a policy name is not accepted, and what to write instead. */
export function explainUnknownPolicy(name: string): string | undefined {
  return explainUnmapped(name, UNMAPPED_POLICIES, [...new Set(POLICY_INDEX.values())]);
}

/** Why a retry condition is not accepted, and what to write instead. */
export function explainUnknownRetryCondition(name: string): string | undefined {
  if (/^\d{3}(\s*-\s*\d{3})?$/.test(name.trim()) || /^[1-5]xx$/i.test(name.trim())) {
    return `Switchyard retries classes of statuses, not single statuses or ranges: ${STATUS_CLASSES}`;
  }
  if (OTHER_GRPC_STATUSES.has(fold(name))) {
    return 'not among the gRPC statuses retried here: unavailable, cancelled, deadline-exceeded, resource-exhausted, internal, unknown';
  }
  return explainUnmapped(name, UNMAPPED_RETRY_CONDITIONS, [...new Set(RETRY_INDEX.values())]);
}

const OTHER_GRPC_STATUSES = new Set(
  ['ok', 'invalid-argument', 'not-found', 'already-exists', 'permission-denied', 'failed-precondition', 'aborted', 'out-of-range', 'unimplemented', 'data-loss', 'unauthenticated'].map(fold),
);

function explainUnmapped(name: string, unmapped: readonly Unmapped[], canonical: string[]): string | undefined {
  const folded = fold(name);
  const known = unmapped.find((u) => fold(u.name) === folded);
  if (known !== undefined) return `${known.from}'s ${known.name} has no equivalent here: ${known.instead}`;
  const guess = closest(name, canonical);
  return guess === undefined ? undefined : `did you mean ${guess}?`;
}

/**
 * The message for a key the schema does not allow, given the keys allowed
 * where it was written: names our key when the key is a case or separator
 * variant of ours, a known foreign spelling, or a near-miss.
 */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const hint = keyHint(key, known);
  if (hint === undefined) return `unknown key "${key}"`;
  return `unknown key "${key}" (did you mean "${hint.ours}"?${hint.note ? ` ${hint.from}: ${hint.note}` : ''})`;
}

export function keyHint(key: string, known: readonly string[]): { ours: string; from: string; note?: string } | undefined {
  const folded = fold(key);
  const variant = known.find((k) => fold(k) === folded);
  if (variant !== undefined) return { ours: variant, from: key };
  const foreign = FOREIGN_KEYS.find((f) => fold(f.key) === folded && known.includes(f.ours.split('.')[0]!));
  if (foreign !== undefined) return { ours: foreign.ours, from: foreign.from, ...(foreign.note ? { note: foreign.note } : {}) };
  const near = closest(key, known);
  return near === undefined ? undefined : { ours: near, from: key };
}

/** The candidate within a small edit distance of `word` (scaled to its length), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

// ---------------------------------------------------------------------------
// what a file's foreign spellings became (for `switchyard check`)

export interface Normalization {
  /** e.g. "services[0].balancer.policy". */
  readonly path: string;
  readonly written: string;
  readonly became: string;
}

/**
 * Every place in a raw (unvalidated) configuration where a foreign spelling
 * is normalized, using the same lookups as the schema.
 */
export function normalizationsIn(raw: unknown): Normalization[] {
  const out: Normalization[] = [];
  if (!isRecord(raw)) return out;
  const note = (path: string, written: string, became: string | undefined): void => {
    if (became !== undefined && became !== written) out.push({ path, written, became });
  };
  asArray(raw.services).forEach((s, i) => {
    if (!isRecord(s)) return;
    const at = `services[${i}].balancer`;
    if (typeof s.balancer === 'string') note(at, s.balancer, canonicalPolicy(s.balancer));
    else if (isRecord(s.balancer)) {
      if (typeof s.balancer.policy === 'string') note(`${at}.policy`, s.balancer.policy, canonicalPolicy(s.balancer.policy));
      if (typeof s.balancer.fallback === 'string') note(`${at}.fallback`, s.balancer.fallback, canonicalPolicy(s.balancer.fallback));
    }
  });
  asArray(raw.listeners).forEach((l, i) => {
    if (!isRecord(l)) return;
    asArray(l.routes).forEach((r, j) => {
      if (!isRecord(r) || !isRecord(r.retry)) return;
      const on = r.retry.on;
      const at = `listeners[${i}].routes[${j}].retry.on`;
      if (typeof on === 'string') {
        const list = normalizeRetryOn(on) as unknown[];
        out.push({ path: at, written: JSON.stringify(on), became: `[${list.join(', ')}]` });
      } else if (Array.isArray(on)) {
        on.forEach((c, k) => {
          const text = typeof c === 'number' ? String(c) : c;
          if (typeof text === 'string') note(`${at}[${k}]`, String(c), canonicalRetryCondition(text));
        });
      }
    });
  });
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
