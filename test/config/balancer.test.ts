import { test } from 'node:test';
import assert from 'node:assert/strict';
import { balancerSchema, balancerWithDefault, normalizePolicyName, isPrime } from '../../src/config/index.js';

test('policy name aliases normalize to canonical names', () => {
  const cases: Record<string, string> = {
    'round-robin': 'round-robin',
    roundRobin: 'round-robin',
    round_robin: 'round-robin',
    rr: 'round-robin',
    'weighted-round-robin': 'weighted-round-robin',
    weightedRoundRobin: 'weighted-round-robin',
    wrr: 'weighted-round-robin',
    random: 'random',
    'least-request': 'least-request',
    leastRequest: 'least-request',
    least_request: 'least-request',
    'least-loaded': 'least-request',
    leastLoaded: 'least-request',
    'least-conn': 'least-request',
    leastConn: 'least-request',
    'peak-ewma': 'peak-ewma',
    peakEwma: 'peak-ewma',
    ewma: 'peak-ewma',
    'p2c-ewma': 'peak-ewma',
    'ring-hash': 'ring-hash',
    ringHash: 'ring-hash',
    ketama: 'ring-hash',
    maglev: 'maglev',
  };
  for (const [alias, canonical] of Object.entries(cases)) {
    assert.equal(normalizePolicyName(alias), canonical, alias);
    const needsHash = canonical === 'ring-hash' || canonical === 'maglev';
    const parsed = balancerSchema.parse(needsHash ? { policy: alias, hashOn: { path: true } } : alias);
    assert.equal(parsed.policy, canonical, alias);
    if (!needsHash) assert.equal(balancerSchema.parse({ policy: alias }).policy, canonical, alias);
  }
  assert.equal(normalizePolicyName('fastest'), undefined);
});

test('defaults are filled per policy', () => {
  assert.deepEqual(balancerWithDefault.parse(undefined), { policy: 'peak-ewma', defaultRtt: 30, decay: 10_000, noiseFloor: 1, noiseFactor: 1, probeAfter: 5000 });
  assert.deepEqual(balancerSchema.parse('least-request'), { policy: 'least-request', choiceCount: 2, activeRequestBias: 1 });
  assert.deepEqual(balancerSchema.parse({ policy: 'ring-hash', hashOn: { header: 'X-User' } }), {
    policy: 'ring-hash',
    hashOn: { header: 'x-user' },
    ringSize: 65536,
    fallback: 'peak-ewma',
  });
  assert.deepEqual(balancerSchema.parse({ policy: 'maglev', hashOn: { sourceIp: true }, fallback: 'rr' }), {
    policy: 'maglev',
    hashOn: { sourceIp: true },
    tableSize: 65537,
    fallback: 'round-robin',
  });
  assert.deepEqual(balancerSchema.parse({ policy: 'rr', slowStart: { window: '30s' } }), {
    policy: 'round-robin',
    slowStart: { window: 30_000, minWeightPercent: 10, aggression: 1 },
  });
  assert.deepEqual(balancerSchema.parse({ policy: 'ewma', defaultRtt: '5ms', decay: '1s' }), {
    policy: 'peak-ewma',
    defaultRtt: 5,
    decay: 1000,
    noiseFloor: 1,
    noiseFactor: 1,
    probeAfter: 5000,
  });
});

function messages(input: unknown): string[] {
  const r = balancerSchema.safeParse(input);
  assert.equal(r.success, false, JSON.stringify(input));
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('ring-hash and maglev need hashOn', () => {
  assert.match(messages('ring-hash').join('\n'), /hashOn: Required: hash policies need hashOn/);
  assert.match(messages({ policy: 'maglev' }).join('\n'), /hashOn: Required/);
  assert.match(messages({ policy: 'ring-hash', hashOn: {} }).join('\n'), /hashOn needs exactly one of/);
  assert.match(messages({ policy: 'ring-hash', hashOn: { path: true, header: 'x' } }).join('\n'), /hashOn has header and path/);
  assert.match(messages({ policy: 'ring-hash', hashOn: { cookie: 'x' } }).join('\n'), /Unrecognized key/);
});

test('maglev tableSize must be prime', () => {
  assert.match(messages({ policy: 'maglev', hashOn: { path: true }, tableSize: 65536 }).join('\n'), /tableSize: tableSize 65536 is not a prime/);
  assert.equal(balancerSchema.parse({ policy: 'maglev', hashOn: { path: true }, tableSize: 131071 }).policy, 'maglev');
  assert.ok(isPrime(65537) && isPrime(5_000_011) && isPrime(2) && !isPrime(1) && !isPrime(65535) && !isPrime(9));
});

test('per-policy options are strict and range-checked', () => {
  assert.match(messages({ policy: 'round-robin', choiceCount: 3 }).join('\n'), /Unrecognized key.*choiceCount/);
  assert.match(messages({ policy: 'least-request', choiceCount: 1 }).join('\n'), /choiceCount/);
  assert.match(messages({ policy: 'least-request', activeRequestBias: -1 }).join('\n'), /activeRequestBias/);
  assert.match(messages({ policy: 'ring-hash', hashOn: { path: true }, ringSize: 100 }).join('\n'), /ringSize/);
  assert.match(messages({ policy: 'ring-hash', hashOn: { path: true }, fallback: 'maglev' }).join('\n'), /cannot be a fallback/);
  assert.match(messages({ policy: 'rr', slowStart: { minWeightPercent: 5 } }).join('\n'), /slowStart.window/);
  assert.match(messages({ policy: 'rr', slowStart: { window: '1s', aggression: 0 } }).join('\n'), /aggression/);
  assert.match(messages('fastest').join('\n'), /unknown balancer policy "fastest"; expected one of round-robin/);
  assert.match(messages({ choiceCount: 2 }).join('\n'), /policy: Required: balancer policy name/);
  assert.match(messages(42).join('\n'), /balancer must be a policy name or a mapping/);
});
