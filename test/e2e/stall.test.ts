/**
 * An upstream connection whose flow control stops moving is replaced: its
 * streams keep going (nothing is cut short), new requests go to a fresh
 * connection, and the event is counted and logged once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { defaultPolicies } from '../../src/policy/index.js';

test('an endpoint that stops returning flow-control credit gets its connection replaced after stallTimeout', async (t) => {
  // node:http2's server advertises a 64 KiB connection window: one stream it
  // never reads blocks every DATA frame on the connection.
  const server = http2.createServer();
  const sessions = new Set<http2.Http2Session>();
  let sessionsSeen = 0;
  server.on('session', (s) => {
    sessionsSeen++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  let stuckStream: http2.ServerHttp2Stream | undefined;
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    if (h[':path'] === '/stuck') {
      s.pause();
      stuckStream = s;
      return;
    }
    s.resume();
    s.on('end', () => {
      s.respond({ ':status': 200 });
      s.end('fine');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const stalls: string[] = [];
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'l', listen: '127.0.0.1:0', protocol: 'http2', service: 's' }],
    services: [{ name: 's', endpoints: [`127.0.0.1:${port}`], stallTimeout: '1s' }],
  }, 'test');
  const proxy = new Proxy(config, {
    policies: defaultPolicies,
    endpointEvents: { stalled: (service, endpoint, direction) => stalls.push(`${service} ${endpoint} ${direction}`) },
  });
  await proxy.start();
  const client = http2.connect(`http://127.0.0.1:${proxy.listeners[0]!.address.port}`);
  t.after(async () => {
    client.destroy();
    await proxy.stop(100);
    await new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sessions) s.destroy();
    });
  });
  const ep = proxy.services.get('s')!.endpoints[0]!;

  const stuck = client.request({ ':path': '/stuck', ':method': 'POST' });
  let stuckClosed = false;
  stuck.on('error', () => {});
  stuck.on('close', () => (stuckClosed = true));
  stuck.write(Buffer.alloc(1 << 20, 1));

  // Bounded wait for the event (stallTimeout 1 s, ticks of 250 ms; generous for a busy machine).
  for (let i = 0; i < 200 && ep.stallsTotal === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(ep.stallsTotal, 1, 'the stall was detected');
  assert.deepEqual(stalls, [`s 127.0.0.1:${port} send`], 'logged once, naming service, endpoint and direction');

  // New requests go to a replacement connection and complete.
  const status = await new Promise<number>((resolve, reject) => {
    const req = client.request({ ':path': '/ok', ':method': 'POST' });
    const timer = setTimeout(() => reject(new Error('no answer: new requests still queue behind the stalled connection')), 10_000);
    req.on('response', (h) => {
      clearTimeout(timer);
      resolve(Number(h[':status']));
    });
    req.on('error', reject);
    req.end(Buffer.alloc(200_000, 2));
  });
  assert.equal(status, 200);
  assert.equal(sessionsSeen, 2, 'one replacement connection');
  // The stalled connection's own stream was not cut short: it finishes when the backend reads.
  assert.equal(stuckClosed, false);
  stuckStream!.resume();
  stuckStream!.on('end', () => {
    stuckStream!.respond({ ':status': 200 });
    stuckStream!.end('late');
  });
  const late = await new Promise<number>((resolve, reject) => {
    stuck.on('response', (h) => resolve(Number(h[':status'])));
    stuck.on('error', reject);
    stuck.end();
  });
  assert.equal(late, 200);
  assert.equal(ep.stallsTotal, 1, 'the replacement did not stall');
});
