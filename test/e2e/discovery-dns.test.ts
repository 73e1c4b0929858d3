/**
 * DNS discovery under live traffic: a proxy follows the A records of
 * svc.test, served by a loopback DNS server, while HTTP/2 requests flow. The
 * answer moves from {.11, .12} to {.12, .13} (backends on distinct loopback
 * addresses with one port, as the hosts behind one name are): nothing fails,
 * the change is followed within the TTL, the removed backend gets nothing
 * once its drain is over, and a failing server (SERVFAIL) keeps the last set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { closeSession, connect, h2Request, startH2Backend, type H2Backend } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';



const TTL_MS = 100;

test('dns discovery: the answer moving from {.11, .12} to {.12, .13} under HTTP/2 load fails no request, and SERVFAIL keeps the set', async (t) => {
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const first = await startH2Backend('127.0.0.11', { host: '127.0.0.11' });
  const hosts = [first, ...(await Promise.all(['127.0.0.12', '127.0.0.13'].map((ip) => startH2Backend(ip, { host: ip, port: first.port }))))];
  t.after(() => Promise.all(hosts.map((h) => h.close())));
  const [h11, h12, h13] = hosts as [H2Backend, H2Backend, H2Backend];
  // TTL 0 is clamped to minTtl: the proxy asks again every TTL_MS.
  dns.setAddresses('svc.test', 'A', [h11.name, h12.name], 0);

  const config = parseConfig(
    {
      admin: { enabled: false },
      listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
      services: [
        {
          name: 'web',
          discovery: { dns: { name: 'svc.test', port: first.port, family: 'ipv4', servers: [dns.address], minTtl: `${TTL_MS}ms`, interval: `${TTL_MS}ms`, timeout: '500ms' } },
          drainTimeout: '10s',
        },
      ],
    },
    'test',
  );
  const proxy = new Proxy(config, { policies: defaultPolicies });
  await proxy.start();
  t.after(() => proxy.stop(200));
  const svc = proxy.services.get('web')!;
  const members = (): string => svc.endpoints.map((e) => e.host).sort().join();
  await waitFor(() => members() === [h11.name, h12.name].join() && svc.hasPickable, 'the first set');

  const session = await connect(proxy.listeners[0]!.address.port);
  t.after(() => closeSession(session).catch(() => undefined));

  // Requests, ten at a time, until the scenario is over (bounded in any case).
  let running = true;
  let sent = 0;
  let ok = 0;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (running && sent < 10_000) {
      sent++;
      try {
        const r = await h2Request(session, { ':method': 'POST', ':path': '/svc.Echo/Say', 'content-type': 'application/grpc' }, 'x');
        if (r.status === 200) ok++;
        else failures.push(`status ${r.status}: ${r.body.toString()}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  };
  const workers = Array.from({ length: 10 }, worker);
  const moreTraffic = async (n: number, what: string): Promise<void> => {
    const base = ok;
    await waitFor(() => ok >= base + n, what);
  };

  await waitFor(() => h11.requests >= 20 && h12.requests >= 20, 'traffic on .11 and .12');

  // The answer moves: .11 leaves, .13 arrives.
  const queriesBefore = dns.queries('svc.test', 'A');
  const movedAt = Date.now();
  dns.setAddresses('svc.test', 'A', [h12.name, h13.name], 0);
  await waitFor(() => members() === [h12.name, h13.name].join(), 'the new set');
  const followedIn = Date.now() - movedAt;
  const queriesToFollow = dns.queries('svc.test', 'A') - queriesBefore;
  await waitFor(() => h13.requests > 0, 'traffic on .13');
  const firstOn13 = h13.firstAt - movedAt;
  // Followed at the TTL: one or two queries later, well before the next TTL after that (with slack for a busy machine).
  assert.ok(queriesToFollow <= 2, `${queriesToFollow} queries before the new set was applied`);
  assert.ok(followedIn < TTL_MS + 400, `new set applied after ${followedIn} ms (TTL ${TTL_MS} ms)`);
  assert.ok(firstOn13 < TTL_MS + 500, `first request on .13 ${firstOn13} ms after the change`);

  // .11 drains: what was in flight finishes, then nothing more reaches it.
  const h11AtRemoval = h11.requests;
  await waitFor(() => svc.draining.size === 0, '.11 to finish draining');
  const h11AfterDrain = h11.requests;
  assert.ok(h11AfterDrain - h11AtRemoval <= 10, `at most the requests in flight reached .11 after its removal (${h11AfterDrain - h11AtRemoval})`);
  await moreTraffic(300, 'traffic on the new set');
  assert.ok(h13.requests >= 50, `.13 takes its share (${h13.requests})`);

  // A failing server: the set stays, the source says why, traffic goes on.
  dns.fault('svc.test', 'servfail');
  await waitFor(() => svc.discovery?.healthy === false, 'the failure to be noticed');
  assert.equal(svc.discovery!.lastError, `dns svc.test: server failure (ESERVFAIL) from ${dns.address}`);
  const errorsAtFault = svc.discovery!.errors;
  await waitFor(() => svc.discovery!.errors >= errorsAtFault + 2, 'two more failed attempts');
  await moreTraffic(300, 'traffic while the server fails');
  assert.equal(members(), [h12.name, h13.name].join(), 'the last good set stays while resolution fails');

  // The server answers again: the source recovers by itself with the same set.
  const updatesBefore = svc.discovery!.updates;
  dns.fault('svc.test', undefined);
  await waitFor(() => svc.discovery?.healthy === true, 'recovery');
  assert.equal(svc.discovery!.updates, updatesBefore + 1, 'one update says the source recovered');
  assert.equal(members(), [h12.name, h13.name].join());
  await moreTraffic(100, 'traffic after recovery');

  running = false;
  await Promise.all(workers);
  assert.deepEqual(failures, [], 'no request failed across the change and the failures');
  assert.equal(h11.requests, h11AfterDrain, 'the removed endpoint got nothing after its drain');
  for (const e of svc.endpoints) assert.equal(e.load.pending, 0);
  t.diagnostic(`${ok} requests (${hosts.map((h) => `${h.name} ${h.requests}`).join(', ')}); new set after ${followedIn} ms and ${queriesToFollow} queries`);
});
