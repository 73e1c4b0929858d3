import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { serviceTlsSchema } from '../../src/config/index.js';
import { ClientTls, identityCheck } from '../../src/security/client-tls.js';
import type { IdentitySource } from '../../src/security/identity-source.js';
import { loadPem, type PemMaterial } from '../../src/security/pem-files.js';
import { testPki } from '../helpers/test-pki.js';

const peer = (subjectaltname: string): PeerCertificate => ({ subjectaltname } as PeerCertificate);

test('identity check: exactly the SPIFFE ID, or a DNS SAN; the hostname is not what is checked', () => {
  const spiffe = identityCheck('spiffe://example.org/ns/prod/sa/api');
  assert.equal(spiffe('10.0.0.7', peer('URI:spiffe://example.org/ns/prod/sa/api, DNS:whatever')), undefined);
  assert.equal(spiffe('10.0.0.7', peer('URI:spiffe://example.org/ns/prod/sa/web'))?.message,
    'TLS: server identity spiffe://example.org/ns/prod/sa/web does not match the expected spiffe://example.org/ns/prod/sa/api');
  assert.equal(spiffe('10.0.0.7', peer('URI:spiffe://example.org/ns/prod/sa/api/x'))?.message.includes('does not match'), true, 'no prefix match');
  assert.match(spiffe('x', peer('DNS:api.example.org'))!.message, /^TLS: the server certificate has no SPIFFE ID \(it is api\.example\.org\); expected spiffe:/);
  assert.match(spiffe('x', peer('URI:spiffe://a/x, URI:spiffe://a/y'))!.message, /not a valid SVID: certificate has 2 SPIFFE IDs/);

  const dns = identityCheck('API.example.org');
  assert.equal(dns('10.0.0.7', peer('DNS:other.example.org, DNS:api.example.org')), undefined);
  assert.equal(dns('api.example.org', peer('DNS:web.example.org'))?.message, 'TLS: server identity (web.example.org) does not match the expected API.example.org');
  assert.match(dns('x', peer('URI:spiffe://example.org/api'))!.message, /\(no DNS name\)/);
  const wild = identityCheck('*.prod.example.org');
  assert.equal(wild('x', peer('DNS:api.prod.example.org')), undefined);
  assert.notEqual(wild('x', peer('DNS:a.b.prod.example.org')), undefined, 'one label only');
  assert.notEqual(wild('x', peer('DNS:prod.example.org')), undefined);
});

test('connect options: SNI from serverName or a hostname, never an IP; the identity check replaces the hostname check; sessions of older material are not offered', (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('ca');
  const plain = new ClientTls(serviceTlsSchema.parse({ ca: ca.cert }), 'services[0].tls');
  t.after(() => plain.close());
  const ip = plain.connectOptions('10.1.2.3', 443, 'h2', undefined);
  assert.equal(ip.servername, undefined);
  assert.equal(ip.checkServerIdentity, undefined, "Node's own check (IP SANs) applies");
  assert.deepEqual(ip.ALPNProtocols, ['h2']);
  assert.equal(plain.connectOptions('api.internal', 443, 'http/1.1', undefined).servername, 'api.internal');

  const named = new ClientTls(serviceTlsSchema.parse({ ca: ca.cert, serverName: 'svc.internal', identity: 'spiffe://example.org/api' }), 'services[0].tls');
  t.after(() => named.close());
  const o = named.connectOptions('10.1.2.3', 443, 'h2', { session: Buffer.from('s'), generation: 0 });
  assert.equal(o.servername, 'svc.internal');
  assert.equal(typeof o.checkServerIdentity, 'function');
  assert.deepEqual(o.session, Buffer.from('s'));
  named.generation++;
  assert.equal(named.connectOptions('10.1.2.3', 443, 'h2', { session: Buffer.from('s'), generation: 0 }).session, undefined);
});

test('files: unusable ones at start name the setting; a replacement is used by new connections (one context per change); a bad replacement keeps the old', async (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('ca');
  const a = ca.issue('a', { uri: ['spiffe://example.org/a'] });
  const b = ca.issue('b', { uri: ['spiffe://example.org/b'] });
  const missing = join(pki.dir, 'nope.crt');
  assert.throws(() => new ClientTls(serviceTlsSchema.parse({ ca: missing }), 'services[1].tls'), { name: 'PemError', message: `services[1].tls.ca ${missing}: cannot read: no such file` });
  assert.throws(() => new ClientTls(serviceTlsSchema.parse({}), 'services[0].tls', { trustAnchor: missing }), { message: `identity.trustAnchor ${missing}: cannot read: no such file` });

  const cert = join(pki.dir, 'live.crt');
  const key = join(pki.dir, 'live.key');
  copyFileSync(a.cert, cert);
  copyFileSync(a.key, key);
  const errors: string[] = [];
  const c = new ClientTls(serviceTlsSchema.parse({ ca: ca.cert, cert, key }), 'services[0].tls', { onError: (m) => errors.push(m), pollInterval: 30 });
  t.after(() => c.close());
  assert.equal(c.clientCertificate?.identity, 'spiffe://example.org/a');
  const first = c.connectOptions('h', 1, 'h2', undefined).secureContext;
  assert.equal(c.connectOptions('h', 1, 'h2', undefined).secureContext, first, 'the same context for every connection');

  // The watchers do not keep a process alive; the test does while it waits.
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  const changed = new Promise<void>((r) => c.onChange(r));
  copyFileSync(b.key, `${key}.new`);
  renameSync(`${key}.new`, key);
  copyFileSync(b.cert, `${cert}.new`);
  renameSync(`${cert}.new`, cert);
  await changed;
  assert.equal(c.generation, 1);
  assert.equal(c.clientCertificate?.identity, 'spiffe://example.org/b');
  assert.notEqual(c.connectOptions('h', 1, 'h2', undefined).secureContext, first);

  writeFileSync(`${cert}.new`, 'garbage');
  renameSync(`${cert}.new`, cert);
  for (let i = 0; i < 300 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(errors[0] ?? '', /^services\[0\]\.tls\.cert .*live\.crt: not a PEM certificate/);
  assert.equal(c.lastError, errors[0]);
  assert.equal(c.generation, 1, 'the working material stays');
});

test('without cert and key, the proxy identity certificate is the client certificate and its renewals are followed; the trust anchor is the CA', (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('anchor');
  const one = loadPem({ cert: ca.issue('p1', { uri: ['spiffe://example.org/proxy'] }).cert, key: join(pki.dir, 'anchor-p1.key') }, 'identity');
  const two = loadPem({ cert: ca.issue('p2', { uri: ['spiffe://example.org/proxy'] }).cert, key: join(pki.dir, 'anchor-p2.key') }, 'identity');
  const subscribers = new Set<(m: PemMaterial) => void>();
  const source: IdentitySource & { current: PemMaterial } = {
    current: one,
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
  const c = new ClientTls(serviceTlsSchema.parse({ identity: 'spiffe://example.org/backend' }), 'services[0].tls', { identity: source, trustAnchor: ca.cert });
  assert.equal(c.clientCertificate, one);
  assert.equal(subscribers.size, 1);
  source.current = two;
  for (const fn of subscribers) fn(two);
  assert.equal(c.generation, 1);
  assert.equal(c.clientCertificate, two);
  c.close();
  assert.equal(subscribers.size, 0, 'unsubscribed on close');
});
