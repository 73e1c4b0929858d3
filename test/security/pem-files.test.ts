import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PemFiles, loadPem } from '../../src/security/pem-files.js';
import { certificateIdentity, identityFromSans, subjectAltNames } from '../../src/security/identity.js';
import { testPki } from '../helpers/test-pki.js';

test('identities: one SPIFFE URI SAN wins, else the first DNS SAN; two SPIFFE IDs are refused', (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('ca');
  const svid = ca.issue('svid', { uri: ['spiffe://example.org/ns/prod/sa/web'], dns: ['web.prod.svc'] });
  assert.deepEqual(certificateIdentity(svid.certPem), { identity: 'spiffe://example.org/ns/prod/sa/web' });
  const dns = ca.issue('dns', { dns: ['API.example.com', 'b.example.com'], ip: ['127.0.0.1'] });
  assert.deepEqual(certificateIdentity(dns.certPem), { identity: 'api.example.com' });
  const two = ca.issue('two', { uri: ['spiffe://a.org/x', 'spiffe://b.org/y'] });
  assert.match((certificateIdentity(two.certPem) as { error: string }).error, /2 SPIFFE IDs/);
  assert.deepEqual(identityFromSans(subjectAltNames('')), { identity: '' });
  assert.deepEqual(subjectAltNames('DNS:a.b, URI:spiffe://x/y, IP Address:1.2.3.4'), { dns: ['a.b'], uris: ['spiffe://x/y'] });
});

test('loadPem: clear errors for a missing file, a non-certificate and a key that does not match', (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('ca');
  const a = ca.issue('a', { dns: ['a.test'] });
  const b = ca.issue('b', { dns: ['b.test'] });
  const m = loadPem({ cert: a.cert, key: a.key, ca: ca.cert }, 'listeners[0].tls');
  assert.equal(m.identity, 'a.test');
  assert.ok(m.notAfter! > Date.now());
  assert.throws(() => loadPem({ cert: join(pki.dir, 'nope.crt'), key: a.key }, 'listeners[0].tls'), /^PemError: listeners\[0\]\.tls\.cert .*nope\.crt: cannot read: no such file$/);
  writeFileSync(join(pki.dir, 'junk.crt'), 'hello');
  assert.throws(() => loadPem({ cert: join(pki.dir, 'junk.crt'), key: a.key }, 'services[1].tls'), /^PemError: services\[1\]\.tls\.cert .*junk\.crt: not a PEM certificate/);
  assert.throws(() => loadPem({ cert: a.cert, key: b.key }, 'listeners[0].tls'), /cannot be used together/);
});

test('PemFiles: a replacement by rename is handed on; a mismatched pair is reported once and the old material stays', async (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('ca');
  const a = ca.issue('a', { dns: ['a.test'] });
  const b = ca.issue('b', { dns: ['b.test'] });
  const cert = join(pki.dir, 'live.crt');
  const key = join(pki.dir, 'live.key');
  copyFileSync(a.cert, cert);
  copyFileSync(a.key, key);
  const changes: string[] = [];
  const errors: string[] = [];
  const files = new PemFiles({ cert, key }, 'listeners[0].tls', (m) => changes.push(m.identity), (e) => errors.push(e), { pollInterval: 50 });
  t.after(() => files.close());
  assert.equal(files.current.identity, 'a.test');
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cond(), what);
  };
  // Only the certificate replaced: it no longer matches the key.
  copyFileSync(b.cert, `${cert}.new`);
  renameSync(`${cert}.new`, cert);
  await until(() => errors.length === 1, 'the mismatch reported');
  assert.match(errors[0]!, /cannot be used together/);
  assert.equal(files.current.identity, 'a.test', 'the old pair stays');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(errors.length, 1, 'reported once');
  // The key follows: the new pair is handed on.
  copyFileSync(b.key, `${key}.new`);
  renameSync(`${key}.new`, key);
  await until(() => changes.length === 1, 'the new pair');
  assert.deepEqual(changes, ['b.test']);
  assert.equal(files.current.identity, 'b.test');
});
