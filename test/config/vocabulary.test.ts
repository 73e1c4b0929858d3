import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  BALANCER_POLICIES,
  RETRY_CONDITIONS,
  ConfigError,
  balancerSchema,
  configObjectSchema,
  parseConfigText,
  retrySchema,
} from '../../src/config/index.js';
import {
  FOREIGN_KEYS,
  POLICY_ALIASES,
  RETRY_ALIASES,
  UNMAPPED_POLICIES,
  UNMAPPED_RETRY_CONDITIONS,
  canonicalPolicy,
  canonicalRetryCondition,
} from '../../src/config/vocabulary.js';
import { runCheck } from '../../src/cli/check.js';

/** The spellings users write for one name: as in the table, camelCase, SCREAMING_SNAKE, kebab-case. */
function variants(name: string): string[] {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[-_\s]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
  const camel = words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');
  return [name, camel, words.join('_').toUpperCase(), words.join('-')];
}

function parsePolicy(name: string): string {
  const needsHash = canonicalPolicy(name) === 'ring-hash' || canonicalPolicy(name) === 'maglev';
  const fromString = needsHash ? undefined : balancerSchema.parse(name).policy;
  const fromMapping = balancerSchema.parse(needsHash ? { policy: name, hashOn: { path: true } } : { policy: name }).policy;
  if (fromString !== undefined) assert.equal(fromString, fromMapping, name);
  return fromMapping;
}

test('every balancer alias, in any case or separator style, parses to its canonical policy', () => {
  for (const p of BALANCER_POLICIES) assert.equal(parsePolicy(p), p);
  for (const a of POLICY_ALIASES) {
    for (const spelling of variants(a.alias)) assert.equal(parsePolicy(spelling), a.canonical, `${spelling} (${a.from})`);
  }
  // Linkerd's least-loaded is P2C over outstanding requests: least-request, not peak-ewma.
  assert.equal(parsePolicy('least-loaded'), 'least-request');
  assert.equal(parsePolicy('ewma'), 'peak-ewma');
  // A fallback of a hash policy goes through the same table.
  const maglev = balancerSchema.parse({ policy: 'MAGLEV', hashOn: { sourceIp: true }, fallback: 'LEAST_REQUEST' });
  assert.equal(maglev.policy === 'maglev' ? maglev.fallback : undefined, 'least-request');
});

test('every retry alias parses to its canonical condition, from a list or a comma-separated string', () => {
  for (const c of RETRY_CONDITIONS) assert.deepEqual(retrySchema.parse({ on: [c] }).on, [c]);
  for (const a of RETRY_ALIASES) {
    const spellings = /^\d/.test(a.alias) ? [a.alias] : variants(a.alias);
    for (const spelling of spellings) assert.deepEqual(retrySchema.parse({ on: [spelling] }).on, [a.canonical], `${spelling} (${a.from})`);
  }
  // Envoy's HTTP and gRPC retry_on strings, as pasted.
  assert.deepEqual(retrySchema.parse({ on: '5xx,reset,connect-failure,refused-stream' }).on, ['5xx', 'reset', 'connect-failure', 'refused-stream']);
  assert.deepEqual(retrySchema.parse({ on: 'cancelled,deadline-exceeded,internal,resource-exhausted,unavailable' }).on, [
    'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
  ]);
  // Linkerd's retry.linkerd.io/http ranges, and a bare status number from YAML.
  assert.deepEqual(retrySchema.parse({ on: '500-599, 502-504' }).on, ['5xx', 'gateway-error']);
  assert.deepEqual(retrySchema.parse({ on: [409, 'UNAVAILABLE'] }).on, ['retriable-4xx', 'unavailable']);
  // Absent still means the default.
  assert.deepEqual(retrySchema.parse({}).on, ['connect-failure', 'refused-stream', 'unavailable', 'gateway-error']);
});

test('the alias tables agree with the schema: canonical names map to themselves, no spelling means two things', () => {
  for (const p of BALANCER_POLICIES) assert.equal(canonicalPolicy(p), p);
  for (const c of RETRY_CONDITIONS) assert.equal(canonicalRetryCondition(c), c);
  for (const u of UNMAPPED_POLICIES) assert.equal(canonicalPolicy(u.name), undefined, u.name);
  for (const u of UNMAPPED_RETRY_CONDITIONS) assert.equal(canonicalRetryCondition(u.name), undefined, u.name);
});

function issuesOf(schema: z.ZodTypeAny, input: unknown): string {
  const r = schema.safeParse(input);
  assert.equal(r.success, false, JSON.stringify(input));
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

test('names with no clean equivalent are rejected with what to write instead', () => {
  for (const u of UNMAPPED_POLICIES) {
    assert.match(issuesOf(balancerSchema, { policy: u.name }), new RegExp(`unknown balancer policy "${u.name}" \\(${u.from}'s`), u.name);
  }
  assert.match(issuesOf(balancerSchema, 'ip_hash'), /ring-hash or maglev with hashOn: \{ sourceIp: true \}/);
  assert.match(issuesOf(balancerSchema, 'round-robbin'), /unknown balancer policy "round-robbin" \(did you mean round-robin\?\)/);
  assert.match(issuesOf(balancerSchema, { kind: 'roundRobin' }), /balancer needs "policy" \(found "kind": write policy: roundRobin\)/);

  for (const u of UNMAPPED_RETRY_CONDITIONS) {
    assert.match(issuesOf(retrySchema, { on: u.name }), new RegExp(`on.0: unknown retry condition "${u.name}" \\(Envoy's`), u.name);
  }
  const statuses = issuesOf(retrySchema, { on: '5xx,503,500-504,aborted' });
  assert.equal(statuses.split('\n').length, 3, statuses);
  assert.match(statuses, /on\.1: unknown retry condition "503" \(Switchyard retries classes of statuses/);
  assert.match(statuses, /on\.2: unknown retry condition "500-504"/);
  assert.match(statuses, /on\.3: unknown retry condition "aborted" \(not among the gRPC statuses retried here/);
});

/** Every "parent.key" and "key" the configuration schema has, for checking the foreign-key table against it. */
function schemaKeys(): Set<string> {
  const keys = new Set<string>();
  const seen = new Set<z.ZodTypeAny>();
  const visit = (schema: z.ZodTypeAny, parent: string | undefined): void => {
    if (seen.has(schema)) return;
    seen.add(schema);
    if (schema instanceof z.ZodEffects) return visit(schema.innerType(), parent);
    if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return visit(schema.unwrap(), parent);
    if (schema instanceof z.ZodDefault) return visit(schema.removeDefault(), parent);
    if (schema instanceof z.ZodArray) return visit(schema.element, parent);
    if (schema instanceof z.ZodRecord) return visit(schema.valueSchema, parent);
    if (schema instanceof z.ZodUnion || schema instanceof z.ZodDiscriminatedUnion) {
      for (const o of schema.options as z.ZodTypeAny[]) visit(o, parent);
      return;
    }
    if (schema instanceof z.ZodObject) {
      for (const [k, child] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
        keys.add(k);
        if (parent !== undefined) keys.add(`${parent}.${k}`);
        visit(child, k);
      }
    }
  };
  visit(configObjectSchema, undefined);
  return keys;
}

test('every foreign key in the table points at a key the schema has', () => {
  const keys = schemaKeys();
  for (const f of FOREIGN_KEYS) assert.ok(keys.has(f.ours), `${f.key} → ${f.ours}`);
});

const BASE = ['listeners:', '  - name: edge', '    listen: 127.0.0.1:0', '    routes:', '      - match: { pathPrefix: / }', '        service: web'];

function configErrors(lines: string[]): string[] {
  try {
    parseConfigText(lines.join('\n'));
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('the configuration was accepted');
}

test('keys pasted from Envoy and Linkerd stay errors, and each error names our key', () => {
  const errors = configErrors([
    ...BASE,
    '        request-timeout: 5s',
    '        requestTimeout: 5s',
    '        per_try_timeout: 1s',
    '        hedge_policy: {}',
    '        retry:',
    '          retry_on: "5xx"',
    '          num_retries: 3',
    '          budget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s }',
    'services:',
    '  - name: web',
    '    lb_policy: ROUND_ROBIN',
    '    outlier_detection: { consecutive_5xx: 5 }',
    '    circuit_breakers: {}',
    '    healthChecks: {}',
    '    endpoints: [10.0.0.1:80]',
  ]);
  const route = 'listeners[0].routes[0]';
  assert.deepEqual(errors, [
    `${route}.request-timeout: unknown key "request-timeout" (did you mean "timeout"? Linkerd timeout.linkerd.io/request: both cover the whole request, retries included)`,
    `${route}.requestTimeout: unknown key "requestTimeout" (did you mean "timeout"? Linkerd timeout.linkerd.io/request: both cover the whole request, retries included)`,
    `${route}.per_try_timeout: unknown key "per_try_timeout" (did you mean "retry.perTryTimeout"?)`,
    `${route}.hedge_policy: unknown key "hedge_policy" (did you mean "hedge"? Envoy route: a hedge is sent after hedge.delay, not on a per-try timeout)`,
    `${route}.retry.retry_on: unknown key "retry_on" (did you mean "on"?)`,
    `${route}.retry.num_retries: unknown key "num_retries" (did you mean "attempts"? Envoy retry_policy: attempts counts the first try: num_retries N is attempts N+1)`,
    `${route}.retry.budget.retryRatio: unknown key "retryRatio" (did you mean "ratio"?)`,
    `${route}.retry.budget.minRetriesPerSecond: unknown key "minRetriesPerSecond" (did you mean "minPerSecond"?)`,
    `${route}.retry.budget.ttl: unknown key "ttl" (did you mean "window"?)`,
    'services[0].lb_policy: unknown key "lb_policy" (did you mean "balancer"?)',
    'services[0].outlier_detection: unknown key "outlier_detection" (did you mean "outlierDetection"?)',
    'services[0].circuit_breakers: unknown key "circuit_breakers" (did you mean "circuitBreakers"?)',
    'services[0].healthChecks: unknown key "healthChecks" (did you mean "healthCheck"?)',
  ]);
  // A key nobody spells that way gets no guess.
  assert.deepEqual(configErrors([...BASE, '        frobnicate: 1', 'services: [{ name: web, endpoints: [10.0.0.1:80] }]']), [
    `${route}.frobnicate: unknown key "frobnicate"`,
  ]);
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('check lists what each foreign spelling became, after the summary', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swy-vocab-'));
  try {
    const file = join(dir, 'pasted.yaml');
    await writeFile(file, [
      'listeners:',
      '  - name: edge',
      '    listen: 127.0.0.1:0',
      '    routes:',
      '      - match: { pathPrefix: / }',
      '        service: web',
      '        retry: { on: "5xx,reset,connect-failure" }',
      '      - match: { grpcService: pkg.Greeter }',
      '        service: api',
      '        retry: { on: [CANCELLED, deadline-exceeded, 409] }',
      'services:',
      '  - { name: web, balancer: ROUND_ROBIN, endpoints: [10.0.0.1:80] }',
      '  - { name: api, balancer: { policy: leastLoaded }, endpoints: [10.0.0.2:80] }',
      '  - { name: hash, balancer: { policy: maglev, hashOn: { path: true }, fallback: ewma }, endpoints: [10.0.0.3:80] }',
      '',
    ].join('\n'));
    const out = new Capture();
    const err = new Capture();
    assert.equal(await runCheck(['--config', file], out, err), 0, err.text);
    assert.equal(err.text, '');
    assert.equal(out.text, [
      `${file}: valid (1 listener, 3 services)`,
      'normalised (names from other proxies, see docs/vocabulary.md):',
      '  services[0].balancer: ROUND_ROBIN → round-robin',
      '  services[1].balancer.policy: leastLoaded → least-request',
      '  services[2].balancer.fallback: ewma → peak-ewma',
      '  listeners[0].routes[0].retry.on: "5xx,reset,connect-failure" → [5xx, reset, connect-failure]',
      '  listeners[0].routes[1].retry.on[0]: CANCELLED → cancelled',
      '  listeners[0].routes[1].retry.on[2]: 409 → retriable-4xx',
      '',
    ].join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
