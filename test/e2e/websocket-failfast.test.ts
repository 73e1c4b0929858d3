/**
 * Upgrades wait in the service's failfast queue like requests: a WebSocket
 * opened while no endpoint is ready (a rollout, a restart) opens once one
 * is, within failfast.timeout; after the timeout it gets 503 and the service
 * fails fast, as for requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { startProxy } from '../helpers/proxy-harness.js';
import { freePort } from '../helpers/h1-peers.js';
import { waitFor } from '../helpers/wait.js';
import {
  assertNothingOpen, closeClean, echoInOrder, startH1WsBackend, startH2WsBackend, wsConnect, wsOverH2, type WsBackend,
} from '../helpers/ws-peers.js';

test('a WebSocket opened while no endpoint is ready waits in the failfast queue and opens when one comes up (HTTP/1.1 Upgrade and extended CONNECT)', async (t) => {
  const [port1, port2] = [await freePort(), await freePort()];
  const backoff = { base: '20ms', max: '100ms' };
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', routes: [
        { match: { pathPrefix: '/one' }, service: 'one' },
        { match: { pathPrefix: '/two' }, service: 'two' },
      ],
    }],
    services: [
      { name: 'one', protocol: 'http1', failfast: { timeout: '20s' }, reconnectBackoff: backoff, endpoints: [`127.0.0.1:${port1}`] },
      { name: 'two', protocol: 'http2', failfast: { timeout: '20s' }, reconnectBackoff: backoff, endpoints: [`127.0.0.1:${port2}`] },
    ],
  });
  const session = http2.connect(`http://127.0.0.1:${p.port()}`);
  session.on('error', () => {});
  const backends: WsBackend[] = [];
  t.after(async () => {
    session.destroy();
    await p.stop();
    for (const b of backends) await b.close();
  });
  const one = p.proxy.services.get('one')!;
  const two = p.proxy.services.get('two')!;
  await waitFor(() => session.remoteSettings.enableConnectProtocol === true, 'SETTINGS_ENABLE_CONNECT_PROTOCOL');
  const opening1 = wsConnect(p.port(), '/one');
  const opening2 = wsOverH2(session, '/two');
  // Both are held by the proxy (not refused with SWY_ERR_NO_ENDPOINT) …
  await waitFor(() => one.failfast.size === 1 && two.failfast.size === 1, 'both upgrades to wait in their failfast queues');
  assert.equal(one.inflight + two.inflight, 2);
  // … until their endpoints come up.
  backends.push(await startH1WsBackend('h1', port1));
  backends.push(await startH2WsBackend('h2', true, port2));
  const [ws1, ws2] = await Promise.all([opening1, opening2]);
  assert.equal(one.failfast.size + two.failfast.size, 0);
  await echoInOrder(ws1, 20, 'one');
  await echoInOrder(ws2, 20, 'two');
  assert.equal(await closeClean(ws1), 1000);
  assert.equal(await closeClean(ws2), 1000);
  assert.deepEqual(backends.map((b) => b.accepted), [1, 1]);
  await assertNothingOpen(p, backends);
});

test('an upgrade that waits longer than failfast.timeout gets 503 SWY_ERR_QUEUE_TIMEOUT; the next fails at once with SWY_ERR_NO_ENDPOINT', async (t) => {
  const dead = await freePort();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', routes: [{ service: 'gone' }] }],
    services: [{ name: 'gone', protocol: 'http1', failfast: { timeout: '200ms' }, endpoints: [`127.0.0.1:${dead}`] }],
  });
  t.after(() => p.stop());
  const svc = p.proxy.services.get('gone')!;
  const refusal = (): Promise<{ status?: number; headers?: http.IncomingHttpHeaders }> =>
    wsConnect(p.port()).then(() => ({}), (e: { status?: number; headers?: http.IncomingHttpHeaders }) => e);
  const first = refusal();
  await waitFor(() => svc.failfast.size === 1, 'the upgrade to wait in the failfast queue');
  const e1 = await first;
  assert.deepEqual([e1.status, e1.headers?.['switchyard-error']], [503, 'SWY_ERR_QUEUE_TIMEOUT']);
  assert.equal(svc.failfastMode, true);
  const e2 = await refusal();
  assert.deepEqual([e2.status, e2.headers?.['switchyard-error']], [503, 'SWY_ERR_NO_ENDPOINT']);
  assert.equal(svc.failfast.size, 0);
  assert.equal(svc.inflight, 0);
});
