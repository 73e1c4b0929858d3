/**
 * Proxy.reconfigure (a reload) on a running proxy: listeners added, removed,
 * moved to another port and switched to another protocol on the same port;
 * a port that cannot be bound rejects the whole reload; services kept in
 * place keep their endpoint objects and load records; services whose
 * upstream protocol changed are replaced and the old runtime drains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseConfig } from '../../src/config/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { freePort } from '../helpers/engine-frames.js';
import { startH1Backend } from '../helpers/h1-peers.js';
import { closeSession, connect, h2Request, startH2Backend, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

function cfg(raw: Record<string, unknown>) {
  return parseConfig({ admin: { enabled: false }, shutdown: { drainTimeout: '5s' }, ...raw }, 'test');
}

async function start(raw: Record<string, unknown>): Promise<RunningProxy> {
  const proxy = new Proxy(cfg(raw), { policies: defaultPolicies });
  await proxy.start();
  return {
    proxy,
    port: (name) => (name === undefined ? proxy.listeners[0]! : proxy.listeners.find((l) => l.name === name)!).address.port,
    stop: () => proxy.stop(200),
  };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test('a listener moved to another port binds it first; the old one drains its in-flight request, then its port closes', async () => {
  const a = await startH2Backend('a', { delayMs: 200 });
  const [p1, p2] = [await freePort(), await freePort()];
  const services = [{ name: 'api', endpoints: [`127.0.0.1:${a.port}`] }];
  const p = await start({ listeners: [{ name: 'web', listen: `127.0.0.1:${p1}`, service: 'api' }], services });
  const s1 = await connect(p1);
  try {
    await waitReady(p);
    const old = p.proxy.listeners[0]!;
    const inFlight = h2Request(s1, { ':path': '/slow' });
    await waitFor(() => a.requests === 1, 'the request at the backend');
    const summary = await p.proxy.reconfigure(cfg({ listeners: [{ name: 'web', listen: `127.0.0.1:${p2}`, service: 'api' }], services }));
    assert.deepEqual(summary.listeners.rebound, ['web']);
    assert.equal(p.proxy.listeners.length, 1);
    assert.notEqual(p.proxy.listeners[0], old);
    assert.equal((await inFlight).status, 200, 'the request in flight on the old listener finished');
    const s2 = await connect(p2);
    assert.equal((await h2Request(s2, { ':path': '/' })).headers['x-backend'], 'a');
    await closeSession(s2);
    await waitFor(() => s1.closed || s1.destroyed, 'GOAWAY closed the old connection');
    await waitFor(() => p.proxy.retiring.listeners.size === 0, 'the old listener retired');
    assert.ok(await refused(p1), 'the old port is closed');
  } finally {
    await closeSession(s1);
    await p.stop();
    await a.close();
  }
});

test('a new protocol on the same port takes over the listening socket: old connections drain, new ones get the new protocol', async () => {
  const a = await startH2Backend('a', { delayMs: 200 });
  const port = await freePort();
  const services = [{ name: 'api', endpoints: [`127.0.0.1:${a.port}`] }];
  const p = await start({ listeners: [{ name: 'web', listen: `127.0.0.1:${port}`, protocol: 'auto', service: 'api' }], services });
  const s1 = await connect(port);
  try {
    await waitReady(p);
    const inFlight = h2Request(s1, { ':path': '/slow' });
    await waitFor(() => a.requests === 1, 'the request at the backend');
    const summary = await p.proxy.reconfigure(cfg({ listeners: [{ name: 'web', listen: `127.0.0.1:${port}`, protocol: 'http2', service: 'api' }], services }));
    assert.deepEqual(summary.listeners.rebound, ['web']);
    assert.equal(p.proxy.listeners[0]!.config.protocol, 'http2');
    assert.equal(p.proxy.listeners[0]!.address.port, port, 'the same port, still listening');
    assert.equal((await inFlight).status, 200);
    const s2 = await connect(port);
    assert.equal((await h2Request(s2, { ':path': '/' })).status, 200);
    assert.equal(p.proxy.listeners[0]!.counters.connectionsTotal, 1, 'the new connection went to the new listener');
    await closeSession(s2);
    await waitFor(() => p.proxy.retiring.listeners.size === 0, 'the old listener retired');
  } finally {
    await closeSession(s1);
    await p.stop();
    await a.close();
  }
});

test('listeners added and removed; a port that cannot be bound rejects the whole reload and closes what it bound', async () => {
  const a = await startH2Backend('a');
  const services = [{ name: 'api', endpoints: [`127.0.0.1:${a.port}`] }];
  const p = await start({ listeners: [{ name: 'one', listen: '127.0.0.1:0', service: 'api' }], services });
  const held = net.createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
  const heldPort = (held.address() as net.AddressInfo).port;
  try {
    await waitReady(p);
    const onePort = p.port('one');
    const summary = await p.proxy.reconfigure(cfg({ listeners: [{ name: 'two', listen: '127.0.0.1:0', service: 'api' }], services }));
    assert.deepEqual(summary.listeners.added, ['two']);
    assert.deepEqual(summary.listeners.removed, ['one']);
    const s = await connect(p.port('two'));
    assert.equal((await h2Request(s, { ':path': '/' })).status, 200);
    await closeSession(s);
    await waitFor(() => p.proxy.retiring.listeners.size === 0, 'one retired');
    assert.ok(await refused(onePort));

    const before = [...p.proxy.listeners];
    const three = await freePort();
    await assert.rejects(
      p.proxy.reconfigure(cfg({
        listeners: [
          { name: 'two', listen: '127.0.0.1:0', service: 'api', routes: [{ match: { pathPrefix: '/x' }, service: 'api' }] },
          { name: 'three', listen: `127.0.0.1:${three}`, service: 'api' },
          { name: 'four', listen: `127.0.0.1:${heldPort}`, service: 'api' },
        ],
        services,
      })),
      (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE',
    );
    assert.deepEqual(p.proxy.listeners, before, 'the running listeners are untouched');
    assert.equal(p.proxy.listeners[0]!.router.routes.length, 0, 'and so are their routes');
    assert.ok(await refused(three), 'the listener bound by the rejected reload was closed');
    const s2 = await connect(p.port('two'));
    assert.equal((await h2Request(s2, { ':path': '/' })).status, 200);
    await closeSession(s2);
  } finally {
    held.close();
    await p.stop();
    await a.close();
  }
});

test('a new balancer picks over the same endpoint objects: connections, load records and health stay', async () => {
  const a = await startH2Backend('a');
  const b = await startH2Backend('b');
  const c = await startH2Backend('c');
  const eps = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];
  const listeners = [{ name: 'web', listen: '127.0.0.1:0', service: 'api' }];
  const p = await start({ listeners, services: [{ name: 'api', balancer: 'round-robin', endpoints: eps }] });
  const s = await connect(p.port());
  try {
    await waitReady(p);
    for (let i = 0; i < 20; i++) await h2Request(s, { ':path': '/' });
    const svc = p.proxy.services.get('api')!;
    const endpoints = [...svc.endpoints];
    const loads = endpoints.map((e) => e.load);
    const dispatched = endpoints.map((e) => e.requestsTotal);
    const oldBalancer = svc.balancer;
    const summary = await p.proxy.reconfigure(cfg({ listeners, services: [{ name: 'api', balancer: 'least-request', endpoints: [...eps, `127.0.0.1:${c.port}`] }] }));
    assert.deepEqual(summary.services.changed.api, ['balancer', 'endpoints']);
    assert.deepEqual(summary.endpoints, { added: 1, removed: 0 });
    assert.equal(p.proxy.services.get('api'), svc, 'the same runtime');
    assert.notEqual(svc.balancer, oldBalancer);
    assert.equal(svc.balancer.name, 'least-request');
    assert.deepEqual(svc.endpoints.slice(0, 2), endpoints, 'the same endpoint objects');
    assert.deepEqual(svc.endpoints.slice(0, 2).map((e) => e.load), loads, 'with their load records');
    assert.deepEqual(endpoints.map((e) => e.requestsTotal), dispatched);
    await waitReady(p);
    for (let i = 0; i < 30; i++) await h2Request(s, { ':path': '/' });
    assert.ok(a.requests > 10 && b.requests > 10 && c.requests > 0, `${a.requests} ${b.requests} ${c.requests}`);
    assert.equal(a.sessions, 1, 'no new connection to a kept endpoint');
    assert.equal(b.sessions, 1);
    assert.ok(svc.endpoints.every((e) => e.load.pending === 0));
  } finally {
    await closeSession(s);
    await p.stop();
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('a new upstream protocol replaces the runtime: the old one finishes its request, then closes', async () => {
  const a = await startH2Backend('a', { delayMs: 200 });
  const h1 = await startH1Backend((_req, res) => res.end('h1'));
  const listeners = [{ name: 'web', listen: '127.0.0.1:0', service: 'api' }];
  const p = await start({ listeners, services: [{ name: 'api', endpoints: [`127.0.0.1:${a.port}`] }] });
  const s = await connect(p.port());
  try {
    await waitReady(p);
    const old = p.proxy.services.get('api')!;
    const inFlight = h2Request(s, { ':path': '/slow' });
    await waitFor(() => a.requests === 1, 'the request at the backend');
    const summary = await p.proxy.reconfigure(cfg({ listeners, services: [{ name: 'api', protocol: 'http1', endpoints: [`127.0.0.1:${h1.port}`] }] }));
    assert.deepEqual(summary.services.replaced, ['api']);
    assert.notEqual(p.proxy.services.get('api'), old);
    assert.ok(p.proxy.retiring.services.has(old));
    const now = await h2Request(s, { ':path': '/' });
    assert.equal(now.body.toString(), 'h1');
    assert.equal((await inFlight).headers['x-backend'], 'a', 'the old runtime finished its request');
    await waitFor(() => p.proxy.retiring.services.size === 0, 'the old runtime closed');
    assert.equal(old.inflight, 0);
  } finally {
    await closeSession(s);
    await p.stop();
    await Promise.all([a.close(), h1.close()]);
  }
});
