import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeOrcaReport, newOrcaReport, parseOrcaHeader, parseOrcaText, OrcaReportError } from '../../src/balancing/orca-report.js';
import { encodeReference } from '../helpers/orca-proto.js';

const FULL = {
  cpu_utilization: 0.7,
  mem_utilization: 0.9,
  rps: '42',
  request_cost: { db: 3.5 },
  utilization: { gpu: 0.25 },
  rps_fractional: 123.5,
  eps: 1.25,
  named_metrics: { queue: 17, 'x.y': -2 },
  application_utilization: 0.8,
};

test('every field of a protobufjs-encoded OrcaLoadReport decodes (maps included)', () => {
  const r = decodeOrcaReport(encodeReference(FULL), newOrcaReport(true));
  assert.equal(r.cpuUtilization, 0.7);
  assert.equal(r.memUtilization, 0.9);
  assert.equal(r.rps, 42);
  assert.equal(r.rpsFractional, 123.5);
  assert.equal(r.eps, 1.25);
  assert.equal(r.applicationUtilization, 0.8);
  assert.deepEqual(Object.fromEntries(r.requestCost!), { db: 3.5 });
  assert.deepEqual(Object.fromEntries(r.utilization!), { gpu: 0.25 });
  assert.deepEqual(Object.fromEntries(r.namedMetrics!), { queue: 17, 'x.y': -2 });
});

test('a reused record is cleared: fields absent from the next report read 0, maps are skipped when not asked for', () => {
  const out = newOrcaReport();
  decodeOrcaReport(encodeReference(FULL), out);
  assert.equal(out.namedMetrics, null);
  decodeOrcaReport(encodeReference({ cpu_utilization: 0.5 }), out);
  assert.deepEqual({ ...out }, { ...newOrcaReport(), cpuUtilization: 0.5 });
  // An empty message (every field at its default) is a valid report of zeros.
  decodeOrcaReport(Buffer.alloc(0), out);
  assert.equal(out.cpuUtilization, 0);
});

test('unknown fields of every wire type are skipped', () => {
  const known = encodeReference({ cpu_utilization: 0.3, eps: 2 });
  // field 20 varint 300, field 21 fixed32, field 22 bytes "abc", field 23 fixed64
  const unknown = Buffer.from([0xa0, 0x01, 0xac, 0x02, 0xad, 0x01, 1, 2, 3, 4, 0xb2, 0x01, 3, 0x61, 0x62, 0x63, 0xb9, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
  const r = decodeOrcaReport(Buffer.concat([unknown, known]), newOrcaReport());
  assert.equal(r.cpuUtilization, 0.3);
  assert.equal(r.eps, 2);
});

test('truncated and malformed messages are errors, not garbage', () => {
  const good = encodeReference(FULL);
  for (let cut = 1; cut < good.length; cut++) {
    // Every strict prefix that ends inside a field is refused; prefixes that end on a field boundary decode.
    try {
      decodeOrcaReport(good.subarray(0, cut), newOrcaReport(true));
    } catch (err) {
      assert.ok(err instanceof OrcaReportError, `cut ${cut}: ${String(err)}`);
    }
  }
  assert.throws(() => decodeOrcaReport(Buffer.from([0x09, 1, 2, 3]), newOrcaReport()), OrcaReportError);
  assert.throws(() => decodeOrcaReport(Buffer.from([0x0b]), newOrcaReport()), /wire type 3/);
  assert.throws(() => decodeOrcaReport(Buffer.from([0x00, 0x00]), newOrcaReport()), /field number 0/);
});

test('TEXT form: the keys of the spec, named metrics, spaces around separators', () => {
  const r = parseOrcaHeader(
    'TEXT cpu_utilization=0.3, mem_utilization=0.5 ,application_utilization=0.4,rps_fractional=150, eps=2.5, named_metrics.foo=7, named_metrics.bar.baz=1e3',
    newOrcaReport(true),
  );
  assert.equal(r.cpuUtilization, 0.3);
  assert.equal(r.memUtilization, 0.5);
  assert.equal(r.applicationUtilization, 0.4);
  assert.equal(r.rpsFractional, 150);
  assert.equal(r.eps, 2.5);
  assert.deepEqual(Object.fromEntries(r.namedMetrics!), { foo: 7, 'bar.baz': 1000 });
  // Unknown keys are ignored (newer backends may send more).
  assert.equal(parseOrcaText('future_metric=1, cpu_utilization=0.9', newOrcaReport()).cpuUtilization, 0.9);
});

test('TEXT form: a value that is not a number, or a pair without =, is refused', () => {
  assert.throws(() => parseOrcaText('cpu_utilization=high', newOrcaReport()), /"cpu_utilization" is not a number/);
  assert.throws(() => parseOrcaText('cpu_utilization=', newOrcaReport()), /not a number/);
  assert.throws(() => parseOrcaText('cpu_utilization=0.1, eps', newOrcaReport()), /expected key=value/);
  assert.throws(() => parseOrcaText('cpu_utilization=Infinity', newOrcaReport()), /not a number/);
});

test('JSON and BIN forms of the endpoint-load-metrics header', () => {
  const j = parseOrcaHeader('JSON {"cpu_utilization": 0.6, "rpsFractional": 10, "named_metrics": {"q": 3}}', newOrcaReport(true));
  assert.equal(j.cpuUtilization, 0.6);
  assert.equal(j.rpsFractional, 10);
  assert.equal(j.namedMetrics!.get('q'), 3);
  assert.throws(() => parseOrcaHeader('JSON {nope', newOrcaReport()), OrcaReportError);
  const b = parseOrcaHeader(`BIN ${encodeReference({ application_utilization: 0.25, rps_fractional: 9 }).toString('base64')}`, newOrcaReport());
  assert.equal(b.applicationUtilization, 0.25);
  assert.equal(b.rpsFractional, 9);
});
