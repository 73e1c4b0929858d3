import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { parseConfig } from '../../src/config/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { echoClient, startEchoServer, unary, type EchoClient, type EchoMessage, type EchoServer } from '../helpers/grpc-echo.js';
import { h1Request } from '../helpers/h1-peers.js';
import { closeSession, connect, h2Request, startH2Backend, waitReady, type H2Backend } from '../helpers/proxy-harness.js';
import { getJson, getText, samples, startTelemetryProxy, tap, type TelemetryProxy } from '../telemetry/harness.js';

let echo: EchoServer;
let web: H2Backend;
let p: TelemetryProxy;
let client: EchoClient;

const CONFIG = {
  listeners: [
    {
      name: 'edge', listen: '127.0.0.1:0', protocol: 'auto',
      authorization: [
        { name: 'blocked', action: 'deny', paths: ['/blocked'] },
        { name: 'loopback', networks: ['127.0.0.0/8', '::1/128'] },
      ],
      routes: [
        {
          name: 'echo', match: { grpcService: 'test.Echo' }, service: 'echo',
          authorization: [{ name: 'no-server-stream', action: 'deny', grpcMethods: ['test.Echo/ServerStream'] }],
        },
        {
          name: 'web', match: { pathPrefix: '/' }, service: 'web',
          authorization: [
            { name: 'no-admin', action: 'deny', paths: ['/admin'] },
            { name: 'public', paths: ['/public', '/blocked'] },
            { name: 'internal', identities: ['spiffe://example.org/*'], paths: ['/internal'] },
          ],
        },
      ],
    },
    {
      name: 'inside-only', listen: '127.0.0.1:0', protocol: 'auto', service: 'web',
      authorization: [{ name: 'inside', networks: ['10.0.0.0/8'] }],
    },
  ],
  services: [
    { name: 'echo', endpoints: [] as string[] },
    { name: 'web', endpoints: [] as string[] },
  ],
};

before(async () => {
  echo = await startEchoServer('g1');
  web = await startH2Backend('w1');
  CONFIG.services[0]!.endpoints = [`127.0.0.1:${echo.port}`];
  CONFIG.services[1]!.endpoints = [`127.0.0.1:${web.port}`];
  p = await startTelemetryProxy(CONFIG, {}, { policies: defaultPolicies });
  await waitReady({ proxy: p.proxy, port: p.port, stop: p.stop });
  client = echoClient(p.port('edge'));
});

after(async () => {
  client.close();
  await p.stop();
  echo.close();
  await web.close();
});

function serverStream(req: EchoMessage): Promise<EchoMessage[]> {
  return new Promise((resolve, reject) => {
    const got: EchoMessage[] = [];
    const call = client.ServerStream(req) as grpc.ClientReadableStream<EchoMessage>;
    call.on('data', (m: EchoMessage) => got.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
}

test('gRPC: a denied method gets PERMISSION_DENIED naming the rule and never reaches the server; an allowed one passes', async () => {
  const callsBefore = echo.calls;
  const { reply } = await unary(client, { text: 'hi' });
  assert.equal(reply.text, 'hi');
  assert.equal(echo.calls, callsBefore + 1);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(serverStream({ text: 's', count: 2 }), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.match(e.details, /rule no-server-stream/);
      assert.deepEqual(e.metadata.get('switchyard-error'), ['SWY_ERR_PERMISSION_DENIED']);
      return true;
    });
  }
  assert.equal(echo.calls, callsBefore + 1, 'no refused call reached the server');
  const { reply: again } = await unary(client, { text: 'still fine' });
  assert.equal(again.text, 'still fine');
});

test('HTTP/2: 403 with switchyard-error naming the rule, 401 without an identity; refused requests never go upstream', async () => {
  const s = await connect(p.port('edge'));
  try {
    const before = web.requests;
    const ok = await h2Request(s, { ':path': '/public/page' });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.headers['x-backend'], 'w1');

    const admin = await h2Request(s, { ':path': '/admin/users' });
    assert.equal(admin.status, 403);
    assert.equal(admin.headers['switchyard-error'], 'SWY_ERR_PERMISSION_DENIED');
    assert.equal(admin.body.toString(), 'SWY_ERR_PERMISSION_DENIED: access denied by rule no-admin\n');

    const sneaky = await h2Request(s, { ':path': '/public/../admin' });
    assert.equal(sneaky.status, 403, 'dot segments do not get around a deny rule');

    const other = await h2Request(s, { ':path': '/other' });
    assert.equal(other.status, 403);
    assert.match(other.body.toString(), /default-deny/);

    const blocked = await h2Request(s, { ':path': '/blocked' });
    assert.equal(blocked.status, 403, 'the listener denies before the route allows');
    assert.match(blocked.body.toString(), /rule blocked/);

    const internal = await h2Request(s, { ':path': '/internal/stats' });
    assert.equal(internal.status, 401);
    assert.equal(internal.headers['switchyard-error'], 'SWY_ERR_UNAUTHENTICATED');
    assert.match(internal.body.toString(), /rule internal/);

    // A refused upload: answered at once, the body is not waited for.
    const upload = await h2Request(s, { ':path': '/admin/upload', ':method': 'POST' }, Buffer.alloc(256 * 1024, 1));
    assert.equal(upload.status, 403);

    assert.equal(web.requests, before + 1, 'only the allowed request reached the backend');
    // The connection is still good.
    assert.equal((await h2Request(s, { ':path': '/public/again' })).status, 200);
  } finally {
    await closeSession(s);
  }
});

test('HTTP/1.1: 403 with switchyard-error; Expect: 100-continue is refused without asking for the body', async () => {
  const port = p.port('edge');
  const before = web.requests;
  const ok = await h1Request(port, { path: '/public/x' });
  assert.equal(ok.status, 200);

  const admin = await h1Request(port, { path: '/admin' });
  assert.equal(admin.status, 403);
  assert.equal(admin.headers['switchyard-error'], 'SWY_ERR_PERMISSION_DENIED');
  assert.equal(admin.body.toString(), 'SWY_ERR_PERMISSION_DENIED: access denied by rule no-admin\n');

  const upload = await h1Request(port, { path: '/admin/upload', body: Buffer.alloc(64 * 1024, 2), expectContinue: true });
  assert.equal(upload.status, 403);
  assert.equal(upload.continued, false, 'no 100 Continue for a refused request');
  assert.equal(upload.headers['switchyard-error'], 'SWY_ERR_PERMISSION_DENIED');

  const internal = await h1Request(port, { path: '/internal' });
  assert.equal(internal.status, 401);
  assert.equal(internal.headers['switchyard-error'], 'SWY_ERR_UNAUTHENTICATED');

  assert.equal(web.requests, before + 1);
});

test('listener networks: a client outside them is refused by default-deny on every route', async () => {
  const before = web.requests;
  const r = await h1Request(p.port('inside-only'), { path: '/public' });
  assert.equal(r.status, 403);
  assert.match(r.body.toString(), /default-deny/);
  const s = await connect(p.port('inside-only'));
  try {
    assert.equal((await h2Request(s, { ':path': '/public' })).status, 403);
  } finally {
    await closeSession(s);
  }
  assert.equal(web.requests, before);
});

test('refusals are counted by rule, classified as refused with their reason, and shown in the tap', async () => {
  const t = await tap(p.adminUrl, 'classification=refused');
  try {
    const s = await connect(p.port('edge'));
    await h2Request(s, { ':path': '/admin/tapped' });
    await closeSession(s);
    await t.waitFor(1);
    const e = t.events[0]!;
    assert.equal(e.status, 403);
    assert.equal(e.errorCode, 'SWY_ERR_PERMISSION_DENIED');
    assert.equal(e.reason, 'permission-denied');
    assert.equal(e.route, 'web');
    assert.equal(e.endpoint, '', 'no endpoint was picked');
  } finally {
    t.close();
  }

  const text = await getText(`${p.adminUrl}/metrics`);
  const denied = (labels: Record<string, string>): number[] => samples(text, 'switchyard_authz_denied_total', labels).map((x) => x.value);
  // Every refusal of the tests above, by listener, route, rule and code.
  assert.deepEqual(denied({ listener: 'edge', route: 'echo', rule: 'no-server-stream', code: 'SWY_ERR_PERMISSION_DENIED' }), [3]);
  assert.deepEqual(denied({ listener: 'edge', route: 'web', rule: 'no-admin', code: 'SWY_ERR_PERMISSION_DENIED' }), [6]);
  assert.deepEqual(denied({ listener: 'edge', route: 'web', rule: 'blocked' }), [1]);
  assert.deepEqual(denied({ listener: 'edge', route: 'web', rule: 'default-deny' }), [1]);
  assert.deepEqual(denied({ listener: 'edge', route: 'web', rule: 'internal', code: 'SWY_ERR_UNAUTHENTICATED' }), [2]);
  assert.deepEqual(denied({ listener: 'inside-only', route: 'default', rule: 'default-deny' }), [2]);

  const refused = samples(text, 'switchyard_requests_total', { classification: 'refused' });
  assert.equal(refused.reduce((a, x) => a + x.value, 0), 15);
  assert.ok(refused.every((x) => x.labels.endpoint === 'none'));
  assert.deepEqual(new Set(refused.map((x) => x.labels.reason)), new Set(['permission-denied', 'unauthenticated']));
  assert.equal(samples(text, 'switchyard_requests_total', { classification: 'failure' }).length, 0, 'no refusal is a failure');

  const stats = await getJson(`${p.adminUrl}/api/v1/stats?window=1m`);
  const web = stats.services.find((x: { name: string }) => x.name === 'web');
  assert.equal(web.refused, 12, 'both listeners');
  assert.equal(web.failures, 0);
  assert.equal(web.successRate, 1, 'refusals do not lower the success rate');
  assert.equal(web.noEndpoint, 0, 'refused requests are not requests without an endpoint');
  assert.equal(web.failureReasons['permission-denied'], 10);
  assert.equal(web.failureReasons.unauthenticated, 2);
});

test('a proxy without a policy layer to enforce authorization rules refuses to start', () => {
  const config = parseConfig({ admin: { enabled: false }, ...CONFIG }, 'test');
  assert.throws(() => new Proxy(config, {}), /authorization rules/);
});
