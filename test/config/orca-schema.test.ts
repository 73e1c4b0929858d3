import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { orcaSchema, parseConfig } from '../../src/config/index.js';

const base = (service: Record<string, unknown>) => ({
  admin: { enabled: false },
  listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'api' }],
  services: [{ name: 'api', endpoints: ['127.0.0.1:7001'], ...service }],
});

test('services[].orca: A58 defaults, durations in ms; absent means no ORCA at all', () => {
  assert.equal(parseConfig(base({}), 't').services[0]!.orca, undefined);
  assert.deepEqual(parseConfig(base({ orca: {} }), 't').services[0]!.orca, {
    inband: true,
    outOfBand: false,
    reportingPeriod: 10_000,
    blackoutPeriod: 10_000,
    weightExpirationPeriod: 180_000,
    weightUpdatePeriod: 1_000,
    errorUtilizationPenalty: 1,
  });
});

test('services[].orca: bad values are refused with the key path', () => {
  assert.throws(() => parseConfig(base({ orca: { errorUtilizationPenalty: -1 } }), 't'), /services\[0\]\.orca\.errorUtilizationPenalty/);
  assert.throws(() => parseConfig(base({ orca: { weightUpdatePeriod: '10ms' } }), 't'), /services\[0\]\.orca\.weightUpdatePeriod: duration "10ms" must be at least 100ms/);
  assert.throws(() => parseConfig(base({ orca: { reportingPeriod: 0 } }), 't'), /services\[0\]\.orca\.reportingPeriod/);
  assert.throws(() => parseConfig(base({ orca: { oob: true } }), 't'), /services\[0\]\.orca/);
  assert.throws(() => parseConfig(base({ protocol: 'http1', orca: { outOfBand: true } }), 't'), /services\[0\]\.orca\.outOfBand: needs protocol http2/);
  // In-band reports work over HTTP/1.1 too.
  assert.equal(parseConfig(base({ protocol: 'http1', orca: {} }), 't').services[0]!.orca!.inband, true);
});

test('every services[].orca key is documented', () => {
  const docs = readFileSync(join(process.cwd(), 'docs', 'configuration.md'), 'utf8');
  const table = docs.slice(docs.indexOf('<!-- generated:begin services[].orca -->'));
  const missing = Object.keys(orcaSchema.shape).filter((k) => !table.includes(`| \`${k}\` |`));
  assert.deepEqual(missing, []);
});
