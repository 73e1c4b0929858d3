import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import type { Exchange } from '../../src/proxy/exchange/exchange.js';
import { Proxy, type ProxyOptions } from '../../src/proxy/proxy.js';
import type { IdentitySource } from '../../src/security/identity-source.js';
import { loadPem, PemError, type PemMaterial } from '../../src/security/pem-files.js';
import { startH2Backend, waitReady, type H2Backend } from '../helpers/proxy-harness.js';
import { CLIENT_ID, h2Get, h2Session, httpsGet, listenerPki, refusedAfterHandshake, tlsConnect, type ListenerPki } from '../helpers/listener-tls.js';

interface Running {
  proxy: Proxy;
  port: number;
  /** Client identities of finished requests, in order. */
  identities: string[];
  backend: H2Backend;
}

/** A proxy with one TLS listener `edge` in front of a node:http2 backend that echoes the :scheme it saw. */
async function start(t: TestContext, listener: Record<string, unknown>, options: Omit<ProxyOptions, 'observer'> = {}, raw: Record<string, unknown> = {}): Promise<Running> {
  const backend = await startH2Backend('b', {
    handler: (stream, headers) => {
      stream.respond({ ':status': 200, 'x-scheme': String(headers[':scheme']) });
      stream.end('ok');
    },
  });
  const identities: string[] = [];
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web', ...listener }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
    ...raw,
  }, 'test');
  const proxy = new Proxy(config, {
    policies: defaultPolicies,
    observer: { onExchangeStart: () => {}, onExchangeEnd: (ex: Exchange) => void identities.push(ex.clientIdentity) },
    ...options,
  });
  await proxy.start();
  t.after(async () => {
    await proxy.stop(100);
    await backend.close();
  });
  const r = { proxy, port: proxy.listeners[0]!.address.port, identities, backend };
  await waitReady({ proxy, port: () => r.port, stop: async () => {} });
  return r;
}

function pkiFor(t: TestContext): ListenerPki {
  const p = listenerPki();
  t.after(() => p.cleanup());
  return p;
}

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

function handshakes(r: Running): Record<string, number> {
  return { ...r.proxy.listeners[0]!.tls!.handshakes };
}

/** Resolves once `cond()` holds (checked every 10 ms, at most `maxMs`). */
async function until(cond: () => boolean, maxMs = 5000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('an auto listener with tls serves HTTP/2 by ALPN h2, HTTP/1.1 by ALPN http/1.1 (as https upstream), TLS without ALPN by detection, and plaintext (no clientCa)', async (t) => {
  const p = pkiFor(t);
  const r = await start(t, { tls: { cert: p.server.cert, key: p.server.key } });
  const o = { ca: p.ca.certPem };

  const s = await h2Session(r.port, o);
  const a = await h2Get(s, '/a');
  assert.equal(a.status, 200);
  assert.equal(a.headers['x-scheme'], 'https');
  s.close();

  const b = await httpsGet(r.port, '/b', o);
  assert.equal(b.status, 200);
  assert.equal(b.headers['x-scheme'], 'https', 'a request over TLS goes upstream with :scheme https');

  // No ALPN at all: the decrypted bytes decide.
  const h = await tlsConnect(r.port, { ...o, alpn: undefined });
  assert.equal(h.alpn, false);
  const answer = await new Promise<string>((resolve) => {
    let d = '';
    h.socket.on('data', (x: Buffer) => (d += x.toString()));
    h.socket.on('end', () => resolve(d));
    h.socket.write('GET /c HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);

  // Permissive: plaintext is still served on this port.
  const plain = await new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port: r.port, path: '/d', agent: false }, (res) => {
    res.resume();
    resolve(res.statusCode!);
  }).on('error', reject));
  assert.equal(plain, 200);
  assert.deepEqual(r.identities, ['', '', '', '']);
  assert.equal(handshakes(r).ok, 3);
  assert.equal(handshakes(r).plaintext_refused, 0);
});

test('ALPN offers what the listener protocol serves, or the alpn list', async (t) => {
  const p = pkiFor(t);
  const tlsCfg = { cert: p.server.cert, key: p.server.key };
  const auto = await start(t, { tls: tlsCfg });
  const h1 = await start(t, { protocol: 'http1', tls: tlsCfg });
  const h1only = await start(t, { tls: { ...tlsCfg, alpn: ['http/1.1'] } });
  const both = ['h2', 'http/1.1'];
  const alpnOf = async (port: number, alpn: string[]): Promise<string | false> => {
    const h = await tlsConnect(port, { ca: p.ca.certPem, alpn });
    h.socket.destroy();
    return h.alpn;
  };
  assert.equal(await alpnOf(auto.port, both), 'h2');
  assert.equal(await alpnOf(auto.port, ['http/1.1', 'h2']), 'h2', 'the server prefers its own order');
  assert.equal(await alpnOf(h1.port, both), 'http/1.1');
  assert.equal(await alpnOf(h1only.port, both), 'http/1.1');
  const b = await httpsGet(h1.port, '/x', { ca: p.ca.certPem });
  assert.equal(b.status, 200);
});

test('SNI chooses the certificate: an exact name, a one-label wildcard, else the default', async (t) => {
  const p = pkiFor(t);
  const api = p.ca.issue('api', { dns: ['api.example.com'] });
  const apps = p.ca.issue('apps', { dns: ['*.apps.example.com'] });
  const r = await start(t, {
    tls: {
      cert: p.server.cert,
      key: p.server.key,
      sni: [
        { serverNames: ['API.example.com'], cert: api.cert, key: api.key },
        { serverNames: ['*.apps.example.com'], cert: apps.cert, key: apps.key },
      ],
    },
  });
  const served = async (servername: string | undefined): Promise<string> => {
    const h = await tlsConnect(r.port, { ca: p.ca.certPem, servername });
    h.socket.destroy();
    return h.serial;
  };
  assert.equal(await served('api.example.com'), serialOf(api.certPem));
  assert.equal(await served('Api.Example.Com'), serialOf(api.certPem));
  assert.equal(await served('shop.apps.example.com'), serialOf(apps.certPem));
  assert.equal(await served('a.shop.apps.example.com'), serialOf(p.server.certPem), 'a wildcard matches one label only');
  assert.equal(await served('apps.example.com'), serialOf(p.server.certPem));
  assert.equal(await served('other.example.com'), serialOf(p.server.certPem));
  assert.equal(await served(undefined), serialOf(p.server.certPem));
  // A request through the SNI certificate is served as any other.
  const s = await h2Session(r.port, { ca: p.ca.certPem, servername: 'api.example.com' });
  assert.equal((await h2Get(s, '/', { ':authority': 'api.example.com' })).status, 200);
  s.close();
});

test('mTLS: a certificate from clientCa is served and its SPIFFE ID reaches the exchange; another CA, no certificate or two SPIFFE IDs are refused and counted', async (t) => {
  const p = pkiFor(t);
  const two = p.ca.issue('two', { uri: ['spiffe://example.org/a', 'spiffe://example.org/b'] });
  const dnsOnly = p.ca.issue('dnsonly', { dns: ['batch.internal'] });
  const api = p.ca.issue('api', { dns: ['api.example.com'] });
  const r = await start(t, { tls: { cert: p.server.cert, key: p.server.key, clientCa: p.ca.cert, sni: [{ serverNames: ['api.example.com'], cert: api.cert, key: api.key }] } });
  const o = { ca: p.ca.certPem };

  const s = await h2Session(r.port, { ...o, client: p.client });
  assert.equal((await h2Get(s, '/1')).status, 200);
  assert.equal((await h2Get(s, '/2')).status, 200);
  s.close();
  assert.equal((await httpsGet(r.port, '/3', { ...o, client: dnsOnly })).status, 200);
  // The CA also verifies clients that asked for an SNI certificate.
  const sni = await h2Session(r.port, { ...o, client: p.client, servername: 'api.example.com' });
  assert.equal((await h2Get(sni, '/4', { ':authority': 'api.example.com' })).status, 200);
  sni.close();
  assert.deepEqual(r.identities, [CLIENT_ID, CLIENT_ID, 'batch.internal', CLIENT_ID]);

  // TLS 1.3 finishes the client's side of the handshake first: the refusal is a close before any answer.
  assert.notEqual(await refusedAfterHandshake(r.port, { ...o, client: p.rogueClient }), 'answered');
  assert.notEqual(await refusedAfterHandshake(r.port, { ...o, client: two }), 'answered');
  assert.notEqual(await refusedAfterHandshake(r.port, o), 'answered');
  await until(() => handshakes(r).client_cert_refused === 2 && handshakes(r).identity_refused === 1);
  assert.equal(handshakes(r).ok, 3, 'three connections served');
  assert.equal(r.identities.length, 4);
});

test('plaintext on an mTLS port is refused: HTTP/2 prior knowledge gets GOAWAY INADEQUATE_SECURITY, HTTP/1.1 a 400; TLS clients are still served', async (t) => {
  const p = pkiFor(t);
  const r = await start(t, { tls: { cert: p.server.cert, key: p.server.key, clientCa: p.ca.cert } });
  const goaway = await new Promise<number>((resolve) => {
    const s = http2.connect(`http://127.0.0.1:${r.port}`);
    s.on('goaway', (code: number) => resolve(code));
    s.on('error', () => {});
  });
  assert.equal(goaway, http2.constants.NGHTTP2_INADEQUATE_SECURITY);
  const h1 = await new Promise<{ status: number; body: string }>((resolve, reject) => http.get({ host: '127.0.0.1', port: r.port, agent: false }, (res) => {
    let body = '';
    res.on('data', (d: Buffer) => (body += d.toString()));
    res.on('end', () => resolve({ status: res.statusCode!, body }));
  }).on('error', reject));
  assert.deepEqual(h1, { status: 400, body: 'this port requires TLS\n' });
  const s = await h2Session(r.port, { ca: p.ca.certPem, client: p.client });
  assert.equal((await h2Get(s, '/')).status, 200);
  s.close();
  assert.equal(handshakes(r).plaintext_refused, 2);
  assert.equal(r.backend.requests, 1);
});

test('an http2 listener with tls refuses plaintext even without clientCa', async (t) => {
  const p = pkiFor(t);
  const r = await start(t, { protocol: 'http2', tls: { cert: p.server.cert, key: p.server.key } });
  const goaway = await new Promise<number>((resolve) => {
    const s = http2.connect(`http://127.0.0.1:${r.port}`);
    s.on('goaway', (code: number) => resolve(code));
    s.on('error', () => {});
  });
  assert.equal(goaway, http2.constants.NGHTTP2_INADEQUATE_SECURITY);
  const s = await h2Session(r.port, { ca: p.ca.certPem });
  assert.equal((await h2Get(s, '/')).status, 200);
  s.close();
});

test('handshake timeout: a ClientHello that never completes is closed after handshakeTimeout and counted; silence on an http2 tls port too', async (t) => {
  const p = pkiFor(t);
  const r = await start(t, { tls: { cert: p.server.cert, key: p.server.key, handshakeTimeout: '200ms' } });
  const h2 = await start(t, { protocol: 'http2', tls: { cert: p.server.cert, key: p.server.key, handshakeTimeout: '200ms' } });
  const closedAfter = (port: number, bytes: Buffer): Promise<number> => new Promise((resolve) => {
    const t0 = Date.now();
    const c = net.connect(port, '127.0.0.1', () => c.write(bytes));
    c.on('error', () => {});
    c.on('close', () => resolve(Date.now() - t0));
  });
  // A TLS record header of a handshake message, and nothing more.
  const ms = await closedAfter(r.port, Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00]));
  assert.ok(ms >= 150 && ms < 3000, `closed after ${ms} ms`);
  await until(() => handshakes(r).timeout === 1);
  const silent = await closedAfter(h2.port, Buffer.alloc(0));
  assert.ok(silent >= 150 && silent < 3000, `closed after ${silent} ms`);
  assert.equal(h2.proxy.listeners[0]!.counters.detectFailures, 1);
  // Established connections are not subject to it.
  const s = await h2Session(r.port, { ca: p.ca.certPem });
  await new Promise((res) => setTimeout(res, 300));
  assert.equal((await h2Get(s, '/')).status, 200);
  s.close();
});

test('startup: files that cannot be used fail with a message naming the setting and the file', (t) => {
  const p = pkiFor(t);
  const make = (tls: Record<string, unknown>): unknown => {
    const config = parseConfig({
      admin: { enabled: false },
      listeners: [{ name: 'a', listen: '127.0.0.1:0', service: 'web' }, { name: 'b', listen: '127.0.0.1:0', service: 'web', tls }],
      services: [{ name: 'web', endpoints: ['127.0.0.1:1'] }],
    }, 'test');
    return new Proxy(config, {});
  };
  const nope = join(p.pki.dir, 'nope.pem');
  const junk = join(p.pki.dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate');
  const ok = { cert: p.server.cert, key: p.server.key };
  const err = (tls: Record<string, unknown>): string => {
    try {
      make(tls);
    } catch (e) {
      assert.ok(e instanceof PemError, String(e));
      return e.message;
    }
    assert.fail('no error');
  };
  assert.equal(err({ cert: nope, key: p.server.key }), `listeners[1].tls.cert ${nope}: cannot read: no such file`);
  assert.equal(err({ cert: p.server.cert, key: nope }), `listeners[1].tls.key ${nope}: cannot read: no such file`);
  assert.equal(err({ ...ok, clientCa: nope }), `listeners[1].tls.clientCa ${nope}: cannot read: no such file`);
  assert.match(err({ ...ok, clientCa: junk }), /^listeners\[1\]\.tls\.clientCa .*junk\.pem: not a PEM certificate/);
  assert.equal(err({ ...ok, sni: [{ serverNames: ['x.test'], cert: nope, key: p.server.key }] }), `listeners[1].tls.sni[0].cert ${nope}: cannot read: no such file`);
  assert.match(err({ cert: p.server.cert, key: p.client.key }), /^listeners\[1\]\.tls: .* cannot be used together/);
});

test('rotation: replaced files are used by new handshakes while open connections carry on; unusable files keep the last good ones and are reported', async (t) => {
  const p = pkiFor(t);
  const dir = p.pki.dir;
  const cert = join(dir, 'live.crt');
  const key = join(dir, 'live.key');
  const ca = join(dir, 'live-ca.crt');
  copyFileSync(p.server.cert, cert);
  copyFileSync(p.server.key, key);
  copyFileSync(p.ca.cert, ca);
  const events: string[] = [];
  const r = await start(t, { tls: { cert, key, clientCa: ca } }, {
    tlsPollInterval: 50,
    tlsEvents: {
      reloaded: (listener, setting, m) => events.push(`reloaded ${listener} ${setting} ${m.identity}`),
      reloadFailed: (listener, setting, message) => events.push(`failed ${listener} ${setting} ${message}`),
    },
  });
  const o = { ca: p.ca.certPem, client: p.client };
  const open = await h2Session(r.port, o);
  assert.equal((await h2Get(open, '/')).status, 200);
  const before = await tlsConnect(r.port, o);
  before.socket.destroy();
  assert.equal(before.serial, serialOf(p.server.certPem));

  const next = p.ca.issue('server2', { dns: ['next.local'], ip: ['127.0.0.1'] });
  // What cert-manager and kubelet do: write beside, rename into place (key first, then the certificate).
  copyFileSync(next.key, `${key}.tmp`);
  renameSync(`${key}.tmp`, key);
  copyFileSync(next.cert, `${cert}.tmp`);
  renameSync(`${cert}.tmp`, cert);
  await until(() => events.some((e) => e.startsWith('reloaded edge listeners[0].tls next.local')));
  const after = await tlsConnect(r.port, o);
  after.socket.destroy();
  assert.equal(after.serial, serialOf(next.certPem));
  assert.equal((await h2Get(open, '/')).status, 200, 'the connection opened before goes on');

  // A broken certificate file: reported once, the last good pair stays.
  writeFileSync(`${cert}.tmp`, 'garbage');
  renameSync(`${cert}.tmp`, cert);
  await until(() => events.some((e) => e.startsWith('failed edge listeners[0].tls listeners[0].tls.cert')));
  const still = await tlsConnect(r.port, o);
  still.socket.destroy();
  assert.equal(still.serial, serialOf(next.certPem));

  // A new clientCa: clients of the new CA are accepted, the old ones refused.
  copyFileSync(p.rogue.cert, `${ca}.tmp`);
  renameSync(`${ca}.tmp`, ca);
  await until(() => events.some((e) => e.startsWith('reloaded edge listeners[0].tls.clientCa')));
  assert.equal((await httpsGet(r.port, '/', { ca: p.ca.certPem, client: p.rogueClient })).status, 200);
  assert.notEqual(await refusedAfterHandshake(r.port, o), 'answered');
  assert.equal((await h2Get(open, '/')).status, 200, 'connections verified before are not touched');
  open.close();
  assert.equal(events.filter((e) => e.startsWith('failed')).length, 1);
});

test("identity: a listener without cert/key presents the proxy's identity certificate and follows its renewals", async (t) => {
  const p = pkiFor(t);
  const first = p.ca.issue('id1', { uri: ['spiffe://example.org/proxy'], ip: ['127.0.0.1'] });
  const second = p.ca.issue('id2', { uri: ['spiffe://example.org/proxy'], ip: ['127.0.0.1'] });
  const subscribers = new Set<(m: PemMaterial) => void>();
  const source: IdentitySource & { current: PemMaterial } = {
    current: loadPem({ cert: first.cert, key: first.key }, 'identity'),
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
  const r = await start(t, { tls: { clientCa: p.ca.cert } }, { identity: source }, {
    identity: { name: 'spiffe://example.org/proxy', trustAnchor: p.ca.cert, issuer: { cert: p.ca.cert, key: p.ca.key } },
  });
  const o = { ca: p.ca.certPem, client: p.client };
  const a = await tlsConnect(r.port, o);
  a.socket.destroy();
  assert.equal(a.serial, serialOf(first.certPem));
  source.current = loadPem({ cert: second.cert, key: second.key }, 'identity');
  for (const fn of subscribers) fn(source.current);
  const b = await tlsConnect(r.port, o);
  b.socket.destroy();
  assert.equal(b.serial, serialOf(second.certPem));
  await r.proxy.stop(0);
  assert.equal(subscribers.size, 0, 'a stopped listener unsubscribes');
});

test('a tcp listener with tls terminates TLS and relays the decrypted bytes (here HTTP/2 with alpn h2); plaintext is closed', async (t) => {
  const p = pkiFor(t);
  const r = await start(t, { protocol: 'tcp', tls: { cert: p.server.cert, key: p.server.key, alpn: ['h2'] } });
  const s = await h2Session(r.port, { ca: p.ca.certPem });
  const a = await h2Get(s, '/relayed');
  assert.equal(a.status, 200);
  assert.equal(a.headers['x-scheme'], 'https');
  s.close();
  const closed = await new Promise<string>((resolve) => {
    let got = '';
    const c = net.connect(r.port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('error', () => {});
    c.on('close', () => resolve(got));
  });
  assert.equal(closed, '');
  assert.equal(handshakes(r).plaintext_refused, 1);
  assert.equal(handshakes(r).ok, 1);
});
