import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';

test('default balancer: 300 sequential requests to 3 identical backends land 100 ± 25 on each', async (t) => {
  const backends = [await startH2Backend('a'), await startH2Backend('b'), await startH2Backend('c')];
  // No `balancer` key: the default policy.
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', endpoints: backends.map((b) => `127.0.0.1:${b.port}`) }],
  });
  t.after(async () => {
    await p.stop();
    for (const b of backends) await b.close();
  });
  await waitReady(p);
  const session = await connect(p.port());
  const seen = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const r = await h2Request(session, { ':path': '/', ':method': 'GET' });
    assert.equal(r.status, 200);
    const who = String(r.headers['x-backend']);
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  await closeSession(session);
  t.diagnostic(`a/b/c: ${backends.map((b) => b.requests).join('/')}`);
  for (const b of backends) {
    assert.equal(seen.get(b.name) ?? 0, b.requests);
    assert.ok(Math.abs(b.requests - 100) <= 25, `${b.name} served ${b.requests} of 300`);
  }
});
