import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseConfig } from '../../src/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import type { IdentitySource } from '../../src/security/identity-source.js';
import { loadPem, type PemMaterial } from '../../src/security/pem-files.js';
import { closeSession, connect, h2Request, startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { h1Request } from '../helpers/h1-peers.js';
import { echoClient, startEchoServer, unary } from '../helpers/grpc-echo.js';
import { testPki, type TestCa, type TestPki } from '../helpers/test-pki.js';
import { startTlsH1Backend, startTlsH2Backend, startTlsNoAlpnServer, until } from '../helpers/tls-peers.js';

const PROXY_ID = 'spiffe://test.example/ns/edge/sa/proxy';
const BACKEND_ID = 'spiffe://test.example/ns/prod/sa/backend';

/** One PKI for the file: a mesh CA, a foreign CA, and the certificates the tests use. */
interface Certs {
  pki: TestPki;
  ca: TestCa;
  other: TestCa;
}

function certs(t: { after(fn: () => void): void }): Certs {
  const pki = testPki();
  t.after(() => pki.cleanup());
  return { pki, ca: pki.ca('mesh'), other: pki.ca('foreign') };
}

function proxyConfig(protocol: 'http2' | 'http1', port: number, tls: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'backend' }],
    services: [{
      name: 'backend',
      protocol,
      endpoints: [`127.0.0.1:${port}`],
      tls,
      failfast: { timeout: '300ms' },
      reconnectBackoff: { base: '50ms', max: '200ms' },
      ...extra,
    }],
  };
}

/** The endpoint's cause, once connecting has failed. */
async function endpointCause(p: RunningProxy): Promise<string> {
  const ep = p.proxy.services.get('backend')!.endpoints[0]!;
  await until(() => ep.cause !== '', 'the endpoint failed to connect');
  return ep.cause;
}

test('HTTP/2 over mTLS to a node:http2 secure server: verified by SPIFFE ID at an IP address, client certificate presented, session resumed on reconnect', async (t) => {
  const { ca } = certs(t);
  const server = ca.issue('backend', { uri: [BACKEND_ID] });
  const client = ca.issue('proxy', { uri: [PROXY_ID] });
  const backend = await startTlsH2Backend({ name: 'b1', pair: server, clientCa: ca.certPem });
  const p = await startProxy(proxyConfig('http2', backend.port, { ca: ca.cert, cert: client.cert, key: client.key, identity: BACKEND_ID }));
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const session = await connect(p.port());
  t.after(() => closeSession(session));
  const r = await h2Request(session, { ':path': '/' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-client'], PROXY_ID, 'the backend verified the proxy\'s client certificate');
  assert.equal(backend.connections.length, 1);
  assert.equal(backend.connections[0]!.resumed, false);
  assert.equal(backend.connections[0]!.protocol, 'TLSv1.3');
  assert.equal(backend.connections[0]!.servername, '', 'no SNI for an IP address');

  // The backend goes away gracefully: the pool reconnects and resumes the session.
  const next = backend.nextConnection();
  backend.goawayAll();
  const again = await next;
  assert.equal(again.resumed, true, 'the reconnect resumed the TLS session');
  assert.equal(again.identity, PROXY_ID, 'a resumed session still carries the client identity');
  assert.equal((await h2Request(session, { ':path': '/' })).status, 200);
});

test('HTTP/2: an endpoint proving another SPIFFE ID, one with a certificate of another CA, one that requires a client certificate we lack, a hostname check at an IP, and HTTP/1.1-only ones are refused with the reason', async (t) => {
  const { ca, other } = certs(t);
  const cases = [
    {
      what: 'another identity',
      backend: await startTlsH2Backend({ name: 'impostor', pair: ca.issue('impostor', { uri: ['spiffe://test.example/ns/prod/sa/impostor'] }) }),
      tls: { ca: ca.cert, identity: BACKEND_ID },
      cause: /^TLS: server identity spiffe:\/\/test\.example\/ns\/prod\/sa\/impostor does not match the expected spiffe:\/\/test\.example\/ns\/prod\/sa\/backend$/,
    },
    {
      what: 'another CA',
      backend: await startTlsH2Backend({ name: 'foreign', pair: other.issue('foreign', { uri: [BACKEND_ID] }) }),
      tls: { ca: ca.cert, identity: BACKEND_ID },
      cause: /^TLS: the endpoint's certificate is not signed by a trusted CA \(services\[\]\.tls\.ca\) \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/,
    },
    {
      what: 'no client certificate',
      backend: await startTlsH2Backend({ name: 'strict', pair: ca.issue('strict', { uri: [BACKEND_ID] }), clientCa: ca.certPem }),
      tls: { ca: ca.cert, identity: BACKEND_ID },
      cause: /^TLS: the endpoint refused the handshake: it requires a client certificate .*\(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)$/,
    },
    {
      what: 'hostname check at an IP address',
      backend: await startTlsH2Backend({ name: 'named', pair: ca.issue('named', { dns: ['backend.internal'] }) }),
      tls: { ca: ca.cert },
      cause: /^TLS: the endpoint's certificate does not match the server name: .*127\.0\.0\.1.*\(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    },
    {
      what: 'HTTP/1.1 only, without ALPN',
      backend: await startTlsNoAlpnServer(ca.issue('no-alpn', { uri: [BACKEND_ID] })),
      tls: { ca: ca.cert, identity: BACKEND_ID },
      cause: /^TLS: the endpoint did not agree to h2 \(ALPN: none\); an HTTP\/1\.1-only server needs the service's protocol: http1$/,
    },
    {
      what: 'HTTP/1.1 only, with ALPN',
      backend: await startTlsH1Backend({ name: 'h1only', pair: ca.issue('h1only', { uri: [BACKEND_ID] }) }),
      tls: { ca: ca.cert, identity: BACKEND_ID },
      cause: /^TLS: the endpoint refused the handshake: it speaks none of the offered ALPN protocols \(ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL\)$/,
    },
  ];
  t.after(async () => {
    for (const c of cases) await c.backend.close();
  });
  for (const c of cases) {
    const p = await startProxy(proxyConfig('http2', c.backend.port, c.tls));
    try {
      assert.match(await endpointCause(p), c.cause, c.what);
      assert.match(p.proxy.services.get('backend')!.unavailableReason(), /no available endpoint for service "backend" \(127\.0\.0\.1:\d+: TLS: /, c.what);
      const session = await connect(p.port());
      const r = await h2Request(session, { ':path': '/' });
      await closeSession(session);
      assert.equal(r.status, 503, c.what);
      assert.match(String(r.headers['switchyard-error']), /^SWY_ERR_(QUEUE_TIMEOUT|NO_ENDPOINT|CONNECT_FAILED)$/, c.what);
      const g = echoClient(p.port());
      const e = await unary(g, { text: 'x' }).then(() => undefined, (err: grpc.ServiceError) => err);
      g.close();
      assert.equal(e?.code, grpc.status.UNAVAILABLE, c.what);
      assert.equal(c.backend.requests, 0, `${c.what}: nothing reached the endpoint`);
    } finally {
      await p.stop();
    }
  }
});

test('HTTP/1.1 over TLS to an HTTPS server: the check is a TLS handshake, SNI and DNS SAN verification by serverName, refusals named', async (t) => {
  const { ca, other } = certs(t);
  const good = await startTlsH1Backend({ name: 'h1', pair: ca.issue('h1', { dns: ['api.internal'] }), clientCa: ca.certPem });
  const client = ca.issue('proxy-h1', { uri: [PROXY_ID] });
  const p = await startProxy(proxyConfig('http1', good.port, { ca: ca.cert, cert: client.cert, key: client.key, serverName: 'api.internal' }));
  t.after(async () => {
    await p.stop();
    await good.close();
  });
  await waitReady(p);
  assert.equal(good.connections.length, 1, 'the readiness check was one TLS handshake');
  assert.equal(good.connections[0]!.servername, 'api.internal');
  const r = await h1Request(p.port(), { path: '/x' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-client'], PROXY_ID);
  assert.equal(good.requests, 1);
  assert.equal(good.connections.at(-1)!.resumed, true, 'the request\'s connection resumed the check\'s session');

  const refusals = [
    { backend: await startTlsH1Backend({ name: 'foreign', pair: other.issue('f', { dns: ['api.internal'] }) }), tls: { ca: ca.cert, serverName: 'api.internal' }, cause: /not signed by a trusted CA/ },
    { backend: await startTlsH1Backend({ name: 'wrong', pair: ca.issue('w', { dns: ['other.internal'] }) }), tls: { ca: ca.cert, identity: 'api.internal' }, cause: /^TLS: server identity \(other\.internal\) does not match the expected api\.internal$/ },
    { backend: await startTlsH1Backend({ name: 'strict', pair: ca.issue('s', { dns: ['api.internal'] }), clientCa: ca.certPem }), tls: { ca: ca.cert, serverName: 'api.internal' }, cause: /requires a client certificate/ },
  ];
  t.after(async () => {
    for (const c of refusals) await c.backend.close();
  });
  for (const c of refusals) {
    const q = await startProxy(proxyConfig('http1', c.backend.port, c.tls));
    try {
      assert.match(await endpointCause(q), c.cause);
      const res = await h1Request(q.port(), { path: '/' });
      assert.equal(res.status, 503);
      assert.equal(c.backend.requests, 0);
    } finally {
      await q.stop();
    }
  }
});

test('gRPC over TLS to a grpc-js server with ServerCredentials.createSsl (client certificate required)', async (t) => {
  const { ca } = certs(t);
  const server = ca.issue('grpc', { uri: [BACKEND_ID] });
  const client = ca.issue('proxy-grpc', { uri: [PROXY_ID] });
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ cert_chain: Buffer.from(server.certPem), private_key: Buffer.from(server.keyPem) }], true);
  const echo = await startEchoServer('grpc-tls', { credentials: creds });
  const p = await startProxy(proxyConfig('http2', echo.port, { ca: ca.cert, cert: client.cert, key: client.key, identity: BACKEND_ID }));
  t.after(async () => {
    await p.stop();
    echo.close();
  });
  await waitReady(p);
  const g = echoClient(p.port());
  t.after(() => g.close());
  const { reply } = await unary(g, { text: 'over tls' });
  assert.equal(reply.text, 'over tls');
  assert.equal(reply.backend, 'grpc-tls');
  assert.equal(echo.calls, 1);
});

test('client certificate files replaced under load: no request fails, new connections present the new certificate', async (t) => {
  const { pki, ca } = certs(t);
  const first = ca.issue('proxy-1', { uri: [PROXY_ID] });
  const second = ca.issue('proxy-2', { uri: [PROXY_ID] });
  const backend = await startTlsH2Backend({ name: 'b', pair: ca.issue('backend', { uri: [BACKEND_ID] }), clientCa: ca.certPem });
  const live = mkdtempSync(path.join(pki.dir, 'live-'));
  const cert = path.join(live, 'tls.crt');
  const key = path.join(live, 'tls.key');
  copyFileSync(first.cert, cert);
  copyFileSync(first.key, key);
  const p = await startProxy(proxyConfig('http2', backend.port, { ca: ca.cert, cert, key, identity: BACKEND_ID }));
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const clientTls = p.proxy.services.get('backend')!.tls!;
  const rotated = new Promise<void>((r) => clientTls.onChange(r));
  const firstSerial = backend.connections[0]!.serial;

  const session = await connect(p.port());
  t.after(() => closeSession(session));
  let ok = 0;
  let failed = 0;
  let stop = false;
  const workers = Array.from({ length: 8 }, async () => {
    while (!stop) {
      try {
        const r = await h2Request(session, { ':path': '/' });
        if (r.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  });
  // Replaced the way cert-manager and `mv` do it: the new file renamed over the old one, key first.
  const swap = (from: string, to: string): void => {
    copyFileSync(from, `${to}.tmp`);
    renameSync(`${to}.tmp`, to);
  };
  await until(() => ok >= 50, 'load running');
  swap(second.key, key);
  swap(second.cert, cert);
  await rotated;
  // The open connection carries on; once the backend sends GOAWAY, the replacement must use the new certificate.
  const next = backend.nextConnection();
  const before = ok;
  backend.goawayAll();
  const fresh = await next;
  await until(() => ok >= before + 100, 'load continued on the new connection');
  stop = true;
  await Promise.all(workers);
  assert.equal(failed, 0, 'no request failed');
  assert.notEqual(fresh.serial, firstSerial, 'the new connection presented the new certificate');
  assert.equal(fresh.resumed, false, 'a session made with the old certificate is not resumed');
  assert.equal(fresh.identity, PROXY_ID);
});

test('switchyard run: a missing CA file of services[].tls is a one-line error naming the setting, exit code 1', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-tlsup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  const missing = path.join(dir, 'nope', 'ca.crt');
  writeFileSync(file, JSON.stringify({
    admin: { enabled: false },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'b' }],
    services: [
      { name: 'a', endpoints: ['127.0.0.1:1'] },
      { name: 'b', endpoints: ['127.0.0.1:2'], tls: { ca: missing } },
    ],
  }));
  const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.resolve('dist/src/cli/main.js'), 'run', '--config', file], { timeout: 20_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: unknown }).code), stderr });
    });
  });
  assert.equal(result.code, 1);
  assert.equal(result.stderr, `services[1].tls.ca ${missing}: cannot read: no such file\n`);
});

test('with the top-level identity and no cert/key: the proxy certificate is presented, the trust anchor verifies the endpoint, a renewal is used by new connections', async (t) => {
  const { ca } = certs(t);
  const issue = (n: string): PemMaterial => {
    const pair = ca.issue(n, { uri: [PROXY_ID] });
    return loadPem({ cert: pair.cert, key: pair.key }, 'identity');
  };
  const subscribers = new Set<(m: PemMaterial) => void>();
  const source: IdentitySource & { current: PemMaterial } = {
    current: issue('self-1'),
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
  const backend = await startTlsH2Backend({ name: 'b', pair: ca.issue('backend', { uri: [BACKEND_ID] }), clientCa: ca.certPem });
  const config = parseConfig({
    admin: { enabled: false },
    identity: { name: PROXY_ID, trustAnchor: ca.cert, issuer: { cert: ca.cert, key: ca.key } },
    ...proxyConfig('http2', backend.port, { identity: BACKEND_ID }),
  }, 'test');
  const proxy = new Proxy(config, { identity: source });
  await proxy.start();
  t.after(async () => {
    await proxy.stop(100);
    await backend.close();
  });
  await until(() => proxy.services.get('backend')!.endpoints[0]!.state === 1, 'connected');
  const first = backend.connections[0]!;
  assert.equal(first.identity, PROXY_ID);
  assert.equal(subscribers.size, 1);

  const renewed = issue('self-2');
  source.current = renewed;
  for (const fn of subscribers) fn(renewed);
  const next = backend.nextConnection();
  backend.goawayAll();
  const fresh = await next;
  assert.notEqual(fresh.serial, first.serial, 'the renewed certificate was presented');
  assert.equal(fresh.identity, PROXY_ID);
});
