import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointSchema, type EndpointConfig } from '../../src/config/index.js';
import { StaticSource, staticEndpoints, type DiscoveredEndpoint } from '../../src/discovery/index.js';
import { closeSession, connect, h2Request, startH2Backend, startProxy } from '../helpers/proxy-harness.js';

const eps = (...list: unknown[]): EndpointConfig[] => list.map((e) => endpointSchema.parse(e) as EndpointConfig);

function ids(set: readonly DiscoveredEndpoint[]): string[] {
  return set.map((e) => `${e.address.host}:${e.address.port}/${e.weight}`);
}

test('configured addresses are members without any lookup; hostnames are left to the source', () => {
  const list = staticEndpoints(eps('10.0.0.1:80', { address: 'api.internal:81', weight: 2 }, '[::1]:82'));
  assert.deepEqual(ids(list), ['10.0.0.1:80/1', '::1:82/1']);
});

test('configured hostnames are re-resolved: a moved name is followed, a failed lookup keeps the last addresses', async (t) => {
  let answers: Record<string, { address: string; family: number }[] | Error> = {
    'api.internal': [{ address: '10.0.0.2', family: 4 }, { address: 'fd00::2', family: 6 }, { address: '10.0.0.1', family: 4 }],
  };
  const calls: string[] = [];
  const src = new StaticSource(eps('10.9.9.9:80', { address: 'api.internal:81', weight: 2 }), {
    interval: 20,
    lookup: async (host) => {
      calls.push(host);
      const a = answers[host];
      if (a instanceof Error) throw a;
      return a ?? [];
    },
  });
  const seen: (string[] | string)[] = [];
  src.start({ update: (s) => seen.push(ids(s)), error: (m) => seen.push(m) });
  t.after(() => src.stop());
  const until = async (n: number): Promise<void> => {
    for (let i = 0; i < 500 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(seen.length >= n, `only ${seen.length} calls: ${JSON.stringify(seen)}`);
  };
  await until(1);
  // IPv4 when the name has any (so `localhost` does not also mean ::1), sorted, weight as configured.
  assert.deepEqual(seen[0], ['10.9.9.9:80/1', '10.0.0.1:81/2', '10.0.0.2:81/2']);
  answers = { 'api.internal': [{ address: '10.0.0.3', family: 4 }] };
  await until(2);
  assert.deepEqual(seen[1], ['10.9.9.9:80/1', '10.0.0.3:81/2']);
  answers = { 'api.internal': Object.assign(new Error('getaddrinfo ENOTFOUND api.internal'), { code: 'ENOTFOUND' }) };
  await until(3);
  assert.equal(seen[2], 'cannot resolve api.internal: host not found (ENOTFOUND)');
  const before = calls.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(calls.length > before, 'it keeps trying');
  src.stop();
  const stoppedAt = seen.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(seen.length, stoppedAt, 'nothing after stop()');
  // An unchanged answer is not sent again.
  assert.ok(seen.filter((s) => Array.isArray(s)).length === 2);
});

test('an endpoint written as localhost:PORT serves through 127.0.0.1', async (t) => {
  const b = await startH2Backend('local');
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'api' }],
    services: [{ name: 'api', endpoints: [`localhost:${b.port}`] }],
  });
  const s = await connect(p.port());
  t.after(async () => {
    await closeSession(s);
    await p.stop();
    await b.close();
  });
  for (let i = 0; i < 5; i++) {
    const r = await h2Request(s, { ':method': 'GET', ':path': '/' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-backend'], 'local');
  }
  assert.deepEqual(p.proxy.services.get('api')!.endpoints.map((e) => e.id), [`127.0.0.1:${b.port}`]);
});
