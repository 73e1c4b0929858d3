import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady, type H2Backend } from '../helpers/proxy-harness.js';

async function threeBackends(): Promise<H2Backend[]> {
  return [await startH2Backend('a'), await startH2Backend('b'), await startH2Backend('c')];
}

test('3000 requests over one client HTTP/2 connection reach 3 backends exactly 1000 each with round-robin', async (t) => {
  const backends = await threeBackends();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: backends.map((b) => `127.0.0.1:${b.port}`) }],
  });
  t.after(async () => {
    await p.stop();
    for (const b of backends) await b.close();
  });
  await waitReady(p);
  const session = await connect(p.port());
  const seen = new Map<string, number>();
  const total = 3000;
  const concurrency = 100;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < total) {
      next++;
      const r = await h2Request(session, { ':path': '/', ':method': 'GET' });
      assert.equal(r.status, 200);
      const who = String(r.headers['x-backend']);
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  await closeSession(session);
  assert.deepEqual(Object.fromEntries([...seen].sort()), { a: 1000, b: 1000, c: 1000 });
  // One client connection, yet every backend served requests: balancing is per request.
  for (const b of backends) assert.equal(b.requests, 1000);
});

test('tcp listener pins every request of a connection to one backend and rotates new connections', async (t) => {
  const backends = await threeBackends();
  const p = await startProxy({
    listeners: [{ name: 'l4', listen: '127.0.0.1:0', protocol: 'tcp', service: 'web' }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: backends.map((b) => `127.0.0.1:${b.port}`) }],
  });
  t.after(async () => {
    await p.stop();
    for (const b of backends) await b.close();
  });
  await waitReady(p);
  const perConnection: string[] = [];
  for (let c = 0; c < 3; c++) {
    const session = await connect(p.port());
    const who = new Set<string>();
    for (let i = 0; i < 30; i++) who.add(String((await h2Request(session, { ':path': '/' })).headers['x-backend']));
    await closeSession(session);
    assert.equal(who.size, 1, 'all requests of one connection reach one backend');
    perConnection.push([...who][0]!);
  }
  assert.equal(new Set(perConnection).size, 3, `three connections rotate over three backends: ${perConnection}`);
});

test('routes match by path prefix, exact path, header and gRPC service, and split by weight', async (t) => {
  const backends = await threeBackends();
  const [a, b, c] = backends as [H2Backend, H2Backend, H2Backend];
  const p = await startProxy({
    listeners: [
      {
        name: 'edge',
        listen: '127.0.0.1:0',
        protocol: 'http2',
        service: 'sa',
        routes: [
          { match: { pathPrefix: '/b/' }, service: 'sb' },
          { match: { path: '/exact' }, service: 'sc' },
          { match: { headers: { 'x-env': 'canary' } }, service: 'sc' },
          { match: { grpcService: 'pkg.Greeter' }, service: 'sb' },
          { match: { pathPrefix: '/split' }, backends: [{ service: 'sa', weight: 3 }, { service: 'sb', weight: 1 }] },
        ],
      },
    ],
    services: [
      { name: 'sa', endpoints: [`127.0.0.1:${a.port}`] },
      { name: 'sb', endpoints: [`127.0.0.1:${b.port}`] },
      { name: 'sc', endpoints: [`127.0.0.1:${c.port}`] },
    ],
  });
  t.after(async () => {
    await p.stop();
    for (const x of backends) await x.close();
  });
  await waitReady(p);
  const s = await connect(p.port());
  const who = async (path: string, extra: Record<string, string> = {}): Promise<string> =>
    String((await h2Request(s, { ':path': path, ...extra })).headers['x-backend']);
  assert.equal(await who('/b/x'), 'b');
  assert.equal(await who('/exact'), 'c');
  assert.equal(await who('/exact?q=1'), 'c');
  assert.equal(await who('/exactly'), 'a');
  assert.equal(await who('/any', { 'x-env': 'canary' }), 'c');
  assert.equal(await who('/pkg.Greeter/SayHello'), 'b');
  assert.equal(await who('/pkg.GreeterX/SayHello'), 'a');
  const n = 2000;
  let toA = 0;
  for (let i = 0; i < n; i++) if ((await who('/split')) === 'a') toA++;
  // 3:1 weights: 75% ± 4.5 standard deviations of a binomial(2000, 0.75).
  const sd = Math.sqrt(n * 0.75 * 0.25);
  assert.ok(Math.abs(toA - n * 0.75) < 4.5 * sd, `weighted split sent ${toA}/${n} to a`);
  await closeSession(s);
});
