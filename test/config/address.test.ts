import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress, formatAddress, listenAddressSchema, endpointAddressSchema } from '../../src/config/index.js';

test('parseAddress: IPv4, hostnames, IPv6 in brackets', () => {
  assert.deepEqual(parseAddress('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseAddress('10.0.0.1:7001'), { host: '10.0.0.1', port: 7001 });
  assert.deepEqual(parseAddress('Backend.Example.com:443'), { host: 'backend.example.com', port: 443 });
  assert.deepEqual(parseAddress('localhost:1'), { host: 'localhost', port: 1 });
  assert.deepEqual(parseAddress('[::1]:8080'), { host: '::1', port: 8080 });
  assert.deepEqual(parseAddress('[2001:DB8::10]:443'), { host: '2001:db8::10', port: 443 });
  assert.deepEqual(parseAddress('[::]:0', { allowPortZero: true }), { host: '::', port: 0 });
});

test('parseAddress: errors', () => {
  assert.throws(() => parseAddress('::1:8080'), /IPv6 addresses must be written in brackets/);
  assert.throws(() => parseAddress('[::1]'), /missing port/);
  assert.throws(() => parseAddress('[::1:8080'), /missing "\]"/);
  assert.throws(() => parseAddress('[nothost]:80'), /not a valid IPv6/);
  assert.throws(() => parseAddress('example.com'), /missing port/);
  assert.throws(() => parseAddress('example.com:'), /missing port/);
  assert.throws(() => parseAddress('example.com:http'), /not a number/);
  assert.throws(() => parseAddress(':8080'), /missing host/);
  assert.throws(() => parseAddress('1.2.3.4:65536'), /out of range/);
  assert.throws(() => parseAddress('1.2.3.4:0'), /out of range \(1-65535\)/);
  assert.throws(() => parseAddress('999.1.1.1:80'), /not a valid IPv4/);
  assert.throws(() => parseAddress('bad_host!:80'), /not a valid hostname/);
  assert.throws(() => parseAddress('a b:80'), /whitespace/);
});

test('formatAddress brackets IPv6 only', () => {
  assert.equal(formatAddress({ host: '::1', port: 80 }), '[::1]:80');
  assert.equal(formatAddress({ host: '10.0.0.1', port: 80 }), '10.0.0.1:80');
  assert.equal(formatAddress({ host: 'example.com', port: 443 }), 'example.com:443');
  assert.equal(formatAddress(parseAddress('[fe80::1]:9')), '[fe80::1]:9');
});

test('listen vs endpoint address schemas', () => {
  assert.deepEqual(listenAddressSchema.parse(':8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(listenAddressSchema.parse(8080), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(listenAddressSchema.parse('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(endpointAddressSchema.parse('[::1]:7001'), { host: '::1', port: 7001 });
  assert.equal(endpointAddressSchema.safeParse(':8080').success, false);
  assert.equal(endpointAddressSchema.safeParse('127.0.0.1:0').success, false);
  assert.equal(endpointAddressSchema.safeParse(7001).success, false);
  assert.equal(listenAddressSchema.safeParse('0.0.0.0:70000').success, false);
});
