import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardedSchema } from '../../src/config/index.js';
import { ForwardedHeaders } from '../../src/proxy/forwarded.js';

function make(raw: Record<string, unknown> = {}): ForwardedHeaders {
  return new ForwardedHeaders(forwardedSchema.parse(raw));
}

function get(h: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) out.push(h[i + 1]!);
  return out;
}

test('a client that is not a trusted proxy gets its X-Forwarded-For and -Proto replaced', () => {
  const h = [':method', 'GET', 'x-forwarded-for', '6.6.6.6', 'accept', '*/*', 'x-forwarded-proto', 'https'];
  make().apply(h, '::ffff:10.0.0.7', false, false);
  assert.deepEqual(get(h, 'x-forwarded-for'), ['10.0.0.7']);
  assert.deepEqual(get(h, 'x-forwarded-proto'), ['http']);
  // Other fields keep their order.
  assert.deepEqual(h.slice(0, 4), [':method', 'GET', 'accept', '*/*']);
});

test('a trusted proxy has its X-Forwarded-For appended to and its X-Forwarded-Proto kept', () => {
  const f = make({ trustedProxies: ['10.0.0.0/8', '2001:db8::/32'] });
  const h = ['x-forwarded-for', '203.0.113.9', 'x-forwarded-for', '198.51.100.1', 'x-forwarded-proto', 'https'];
  f.apply(h, '10.1.2.3', false, true);
  assert.deepEqual(get(h, 'x-forwarded-for'), ['203.0.113.9, 198.51.100.1, 10.1.2.3']);
  assert.deepEqual(get(h, 'x-forwarded-proto'), ['https']);
  const v6 = ['x-forwarded-for', '203.0.113.9'];
  f.apply(v6, '2001:db8::5', true, true);
  assert.deepEqual(get(v6, 'x-forwarded-for'), ['203.0.113.9, 2001:db8::5']);
  assert.deepEqual(get(v6, 'x-forwarded-proto'), ['https']);
  // An address just outside the networks is a client.
  const out = ['x-forwarded-for', '203.0.113.9'];
  f.apply(out, '11.0.0.1', false, false);
  assert.deepEqual(get(out, 'x-forwarded-for'), ['11.0.0.1']);
});

test('a lone address in trustedProxies is one host', () => {
  const f = make({ trustedProxies: ['127.0.0.1'] });
  assert.equal(f.isTrusted('127.0.0.1'), true);
  assert.equal(f.isTrusted('::ffff:127.0.0.1'), true);
  assert.equal(f.isTrusted('127.0.0.2'), false);
  assert.equal(f.isTrusted(undefined), false);
});

test('Forwarded (RFC 7239) quotes IPv6 nodes and Via names the protocol version', () => {
  const f = make({ forwarded: true, via: true, trustedProxies: ['::1/128'] });
  const h = ['forwarded', 'for=192.0.2.43', 'via', '1.1 edge'];
  f.apply(h, '::1', true, true);
  assert.deepEqual(get(h, 'forwarded'), ['for=192.0.2.43, for="[::1]";proto=https']);
  assert.deepEqual(get(h, 'via'), ['1.1 edge, 2 switchyard']);
  const untrusted = ['forwarded', 'for=evil', 'via', '1.0 fred'];
  f.apply(untrusted, '192.0.2.1', false, false);
  assert.deepEqual(get(untrusted, 'forwarded'), ['for=192.0.2.1;proto=http']);
  assert.deepEqual(get(untrusted, 'via'), ['1.0 fred, 1.1 switchyard']);
});

test('switched-off headers pass through untouched', () => {
  const f = make({ xForwardedFor: false, xForwardedProto: false });
  assert.equal(f.enabled, false);
  const h = ['x-forwarded-for', '6.6.6.6'];
  f.apply(h, '10.0.0.1', false, false);
  assert.deepEqual(h, ['x-forwarded-for', '6.6.6.6']);
});

test('bad trustedProxies entries are refused with the key path', () => {
  const r = forwardedSchema.safeParse({ trustedProxies: ['10.0.0.0/33', 'nope'] });
  assert.equal(r.success, false);
  const paths = r.error!.issues.map((i) => i.path.join('.'));
  assert.deepEqual(paths, ['trustedProxies.0', 'trustedProxies.1']);
});
