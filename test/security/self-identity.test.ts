import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IdentitySettings } from '../../src/config/security-schema.js';
import { createIssuer, createTrustAnchor, loadSigner } from '../../src/security/ca.js';
import { CertificateRegistry } from '../../src/security/certificate-expiry.js';
import { peerIdentity } from '../../src/security/identity.js';
import type { PemMaterial } from '../../src/security/pem-files.js';
import { IdentityError, SelfIdentity, type IdentityClock } from '../../src/security/self-identity.js';

const HOUR = 3_600_000;

/** Wall-clock time that moves only when told; timers fire as it passes them. */
class FakeClock implements IdentityClock {
  t = Date.now();
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  advanceTo(at: number): void {
    this.t = at;
    for (const [id, timer] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > at) break;
      this.timers.delete(id);
      timer.fn();
    }
  }
  get pending(): number {
    return this.timers.size;
  }
}

interface Logged {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

function recorder(): { log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void; error: (o: object, m: string) => void }; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { log: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

async function setup(t: { after(fn: () => void): void }, trustDomain = 'example.org') {
  const dir = mkdtempSync(join(tmpdir(), 'swy-self-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const anchor = await createTrustAnchor({ trustDomain, ttlMs: 1000 * HOUR, nameConstraint: true });
  const issuer = await createIssuer(await loadSigner(anchor.cert, anchor.key, { cert: 'ca.crt', key: 'ca.key' }), { trustDomain, ttlMs: 500 * HOUR });
  const files = { anchor: join(dir, 'ca.crt'), anchorKey: join(dir, 'ca.key'), cert: join(dir, 'issuer.crt'), key: join(dir, 'issuer.key') };
  writeFileSync(files.anchor, anchor.cert);
  writeFileSync(files.anchorKey, anchor.key);
  writeFileSync(files.cert, issuer.cert);
  writeFileSync(files.key, issuer.key);
  const settings: IdentitySettings = {
    name: `spiffe://${trustDomain}/ns/prod/sa/gateway`,
    trustAnchor: files.anchor,
    issuer: { cert: files.cert, key: files.key },
    ttl: 24 * HOUR,
    renewAt: 70,
    expiryWarning: 6 * HOUR,
  };
  return { dir, files, settings, anchor, issuer };
}

function serial(m: PemMaterial): string {
  return new X509Certificate(m.cert!).serialNumber;
}

test('renews at 70% of the lifetime with an injected clock; subscribers get the new certificate', async (t) => {
  const { settings, issuer } = await setup(t);
  const clock = new FakeClock();
  const start = clock.t;
  const registry = new CertificateRegistry();
  const { log, lines } = recorder();
  const id = await SelfIdentity.create(settings, { clock, log, registry });
  t.after(() => id.close());
  const first = id.current;
  assert.equal(first.identity, settings.name);
  const leaf = new X509Certificate(first.cert!);
  assert.equal(leaf.subjectAltName, `URI:${settings.name}`);
  assert.equal(first.notAfter, start + 24 * HOUR - ((start + 24 * HOUR) % 1000));
  assert.ok(leaf.verify(new X509Certificate(issuer.cert).publicKey));
  assert.equal(id.nextRenewal, start + (first.notAfter! - start) * 0.7);
  assert.deepEqual(registry.list().map((e) => e.kind).sort(), ['identity', 'issuer', 'trust-anchor']);

  const seen: PemMaterial[] = [];
  const unsubscribeOther = id.subscribe(() => assert.fail('unsubscribed callback called'));
  unsubscribeOther();
  const renewed = new Promise<PemMaterial>((resolve) => id.subscribe((m) => (seen.push(m), resolve(m))));

  clock.advanceTo(start + 0.69 * 24 * HOUR);
  assert.equal(id.renewals, 0);
  assert.equal(id.current, first);
  clock.advanceTo(start + 0.7 * 24 * HOUR);
  const m = await renewed;
  assert.equal(id.renewals, 1);
  assert.equal(id.current, m);
  assert.notEqual(serial(m), serial(first));
  assert.ok(m.notAfter! >= first.notAfter! + 0.7 * 24 * HOUR - 1000, 'the new certificate lasts a full ttl from the renewal');
  assert.ok(!m.key!.equals(first.key!), 'a renewal makes a new key');
  assert.equal(registry.list().find((e) => e.kind === 'identity')?.notAfter, m.notAfter);
  assert.ok(lines.some((l) => l.msg === 'identity certificate renewed'));
  // The next renewal is scheduled from the new certificate.
  assert.ok(id.nextRenewal > clock.t + 0.69 * 24 * HOUR);
  assert.equal(seen.length, 1);
});

test('a failed renewal keeps the current certificate and retries with backoff until the issuer is back', async (t) => {
  const { settings, files } = await setup(t);
  const clock = new FakeClock();
  const { log, lines } = recorder();
  const id = await SelfIdentity.create(settings, { clock, log, registry: new CertificateRegistry() });
  t.after(() => id.close());
  const first = id.current;
  renameSync(files.key, `${files.key}.away`);

  clock.advanceTo(id.nextRenewal);
  assert.equal(await id.renew(), false);
  assert.equal(id.current, first);
  assert.equal(id.failures, 1);
  const errors = lines.filter((l) => l.level === 'error');
  assert.match(String(errors[0]!.obj.err), /identity\.issuer\.key .*issuer\.key: cannot read: no such file/);
  // 1 s, then 2 s, then 4 s after each failure.
  assert.equal(id.nextRenewal, clock.t + 1000);
  clock.advanceTo(clock.t + 1000);
  assert.equal(await id.renew(), false);
  assert.equal(id.nextRenewal, clock.t + 2000);
  assert.equal(clock.pending, 1);

  renameSync(`${files.key}.away`, files.key);
  const renewed = new Promise<PemMaterial>((resolve) => id.subscribe(resolve));
  clock.advanceTo(clock.t + 2000);
  const m = await renewed;
  assert.equal(id.current, m);
  assert.notEqual(serial(m), serial(first));
  assert.equal(id.failures, 2);
  assert.equal(id.renewals, 1);
  // Backoff starts over after a success.
  assert.ok(id.nextRenewal - clock.t > HOUR);
});

test('the certificate serves mTLS: a peer with the trust anchor reads the SPIFFE ID, before and after a renewal', async (t) => {
  const setupResult = await setup(t);
  // A short lifetime: the renewal comes 14 s into fake time, while the 20 s back-dating keeps it valid on the real clock.
  const settings = { ...setupResult.settings, ttl: 20_000 };
  const clock = new FakeClock();
  const id = await SelfIdentity.create(settings, { clock, registry: new CertificateRegistry() });
  t.after(() => id.close());
  const server = tls.createServer({ cert: id.current.cert, key: id.current.key, ca: id.current.ca, requestCert: true, rejectUnauthorized: true }, (s) => {
    const seen = peerIdentity(s.getPeerCertificate());
    s.end('identity' in seen ? seen.identity : seen.error);
  });
  // New handshakes use renewed material, as a listener would.
  id.subscribe((m) => server.setSecureContext({ cert: m.cert, key: m.key, ca: m.ca, requestCert: true, rejectUnauthorized: true } as tls.SecureContextOptions));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const handshake = async (): Promise<{ server: string; serial: string; echoed: string }> => {
    let seen = '';
    const s = tls.connect({
      host: '127.0.0.1', port, ca: id.current.ca, cert: id.current.cert, key: id.current.key,
      checkServerIdentity: (_h, cert) => {
        const r = peerIdentity(cert);
        seen = 'identity' in r ? r.identity : r.error;
        return seen === settings.name ? undefined : new Error(seen);
      },
    });
    await once(s, 'secureConnect');
    const certSerial = s.getPeerCertificate().serialNumber;
    let echoed = '';
    for await (const d of s) echoed += String(d);
    return { server: seen, serial: certSerial, echoed };
  };
  const before = await handshake();
  assert.equal(before.server, settings.name);
  assert.equal(before.echoed, settings.name);
  const renewed = new Promise<PemMaterial>((resolve) => id.subscribe(resolve));
  clock.advanceTo(id.nextRenewal);
  const m = await renewed;
  const after = await handshake();
  assert.equal(after.server, settings.name);
  assert.equal(after.serial.toLowerCase(), serial(m).toLowerCase());
  assert.notEqual(after.serial, before.serial);
});

test('refuses a name outside the issuer\'s trust domain, an issuer the anchor did not sign, and missing files', async (t) => {
  const { settings, dir } = await setup(t);
  await assert.rejects(SelfIdentity.create({ ...settings, name: 'spiffe://other.org/gateway' }),
    (e: Error) => e instanceof IdentityError && /identity\.name spiffe:\/\/other\.org\/gateway is in trust domain "other\.org", but the issuer .* issues for "example\.org"/.test(e.message));
  const other = await setup(t);
  await assert.rejects(SelfIdentity.create({ ...settings, trustAnchor: other.files.anchor }), /identity\.issuer\.cert .* is not signed by the trust anchor/);
  await assert.rejects(SelfIdentity.create({ ...settings, issuer: { ...settings.issuer, key: join(dir, 'nope.key') } }), /identity\.issuer\.key .*nope\.key: cannot read: no such file/);
  await assert.rejects(SelfIdentity.create({ ...settings, issuer: { ...settings.issuer, key: other.files.key } }), /is not the key of/);
  await assert.rejects(SelfIdentity.create({ ...settings, name: 'spiffe://example.org' }), /needs a path/);
});
