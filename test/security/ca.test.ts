import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CaError, CLOCK_SKEW_MS, createIssuer, createTrustAnchor, issueWorkload, loadSigner, type Signer } from '../../src/security/ca.js';
import { peerIdentity } from '../../src/security/identity.js';

const TD = 'example.org';
const HOUR = 3_600_000;

async function pki(options: { nameConstraint?: boolean; issuerTtl?: number } = {}) {
  const anchor = await createTrustAnchor({ trustDomain: TD, ttlMs: 10 * HOUR, nameConstraint: options.nameConstraint });
  const anchorSigner = await loadSigner(anchor.cert, anchor.key, { cert: 'ca.crt', key: 'ca.key' });
  const issuer = await createIssuer(anchorSigner, { trustDomain: TD, ttlMs: options.issuerTtl ?? 5 * HOUR });
  const issuerSigner = await loadSigner(issuer.cert, issuer.key, { cert: 'issuer.crt', key: 'issuer.key' });
  return { anchor, anchorSigner, issuer, issuerSigner };
}

function opensslVerify(files: Record<string, string>, leaf: string): { ok: boolean; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'swy-ca-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const r = spawnSync('openssl', ['verify', '-CAfile', 'ca.crt', '-untrusted', 'issuer.crt', leaf], { cwd: dir, encoding: 'utf8' });
    return { ok: r.status === 0, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('anchor, issuer and workload certificate: openssl verifies the chain; the leaf is an X.509-SVID', async () => {
  const { anchor, issuer, issuerSigner } = await pki();
  const before = Date.now();
  const leaf = await issueWorkload(issuerSigner, { spiffeId: `spiffe://${TD}/ns/prod/sa/web`, dns: ['web.local'], ttlMs: HOUR });
  const v = opensslVerify({ 'ca.crt': anchor.cert, 'issuer.crt': issuer.cert, 'leaf.crt': leaf.cert }, 'leaf.crt');
  assert.ok(v.ok, v.out);
  assert.match(v.out, /leaf\.crt: OK/);

  const a = new X509Certificate(anchor.cert);
  const i = new X509Certificate(issuer.cert);
  const l = new X509Certificate(leaf.cert);
  assert.ok(a.ca && i.ca && !l.ca);
  assert.equal(a.subjectAltName, `URI:spiffe://${TD}`);
  // openssl's text names the path length and key usages of each one.
  const text = (pem: string): string => execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
  assert.match(text(issuer.cert), /CA:TRUE, pathlen:0/);
  assert.match(text(issuer.cert), /Certificate Sign, CRL Sign/);
  assert.match(text(anchor.cert), /Certificate Sign, CRL Sign/);
  const lt = text(leaf.cert);
  assert.match(lt, /Key Usage: critical\s+Digital Signature\n/);
  assert.match(lt, /TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.equal(l.subjectAltName, `URI:spiffe://${TD}/ns/prod/sa/web, DNS:web.local`);
  // Back-dated for peers whose clocks lag; the lifetime counts from now.
  const notBefore = Date.parse(l.validFrom);
  assert.ok(notBefore <= before - CLOCK_SKEW_MS + 1000 && notBefore >= before - CLOCK_SKEW_MS - 2000, l.validFrom);
  assert.ok(Math.abs(Date.parse(l.validTo) - (before + HOUR)) < 3000, l.validTo);
  // The chain file is the leaf followed by the issuer: what a TLS peer presents.
  assert.equal(leaf.chain, leaf.cert + issuer.cert);
  assert.ok(l.checkIssued(i) && l.verify(i.publicKey));
});

test('mTLS handshake with issued certificates: each side reads the SPIFFE ID of the other', async (t) => {
  // Name-constrained, as `identity init` makes it by default.
  const { anchor, issuerSigner } = await pki({ nameConstraint: true });
  const server = await issueWorkload(issuerSigner, { spiffeId: `spiffe://${TD}/ns/prod/sa/backend`, ttlMs: HOUR });
  const client = await issueWorkload(issuerSigner, { spiffeId: `spiffe://${TD}/ns/prod/sa/web`, ttlMs: HOUR });
  let seenByServer = '';
  const srv = tls.createServer({ cert: server.chain, key: server.key, ca: anchor.cert, requestCert: true, rejectUnauthorized: true }, (s) => {
    const id = peerIdentity(s.getPeerCertificate());
    seenByServer = 'identity' in id ? id.identity : id.error;
    s.end('ok');
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const port = (srv.address() as AddressInfo).port;
  let seenByClient = '';
  const sock = tls.connect({
    host: '127.0.0.1',
    port,
    ca: anchor.cert,
    cert: client.chain,
    key: client.key,
    // The server is known by its SPIFFE ID, not by the address dialled.
    checkServerIdentity: (_host, cert) => {
      const id = peerIdentity(cert);
      seenByClient = 'identity' in id ? id.identity : id.error;
      return seenByClient === `spiffe://${TD}/ns/prod/sa/backend` ? undefined : new Error(`unexpected server ${seenByClient}`);
    },
  });
  await once(sock, 'secureConnect');
  assert.equal(sock.authorized, true, String(sock.authorizationError));
  let body = '';
  for await (const chunk of sock) body += String(chunk);
  assert.equal(body, 'ok');
  assert.equal(seenByClient, `spiffe://${TD}/ns/prod/sa/backend`);
  assert.equal(seenByServer, `spiffe://${TD}/ns/prod/sa/web`);

  // A client certificate from another anchor is refused by the server: no
  // connection reaches the handler (with TLS 1.3 the client learns it only
  // when the server closes).
  const refused = once(srv, 'tlsClientError');
  const other = await pki();
  const stranger = await issueWorkload(other.issuerSigner, { spiffeId: `spiffe://${TD}/ns/prod/sa/web`, ttlMs: HOUR });
  const bad = tls.connect({ host: '127.0.0.1', port, ca: anchor.cert, cert: stranger.chain, key: stranger.key, checkServerIdentity: () => undefined });
  let badBody = '';
  bad.on('data', (d) => (badBody += String(d)));
  bad.on('error', () => {});
  await refused;
  await once(bad, 'close');
  assert.equal(badBody, '');
  assert.equal(seenByServer, `spiffe://${TD}/ns/prod/sa/web`);
});

test('a name-constrained anchor: verifiers refuse a SPIFFE ID of another trust domain signed under it', async () => {
  const { anchor, issuer, issuerSigner } = await pki({ nameConstraint: true });
  const good = await issueWorkload(issuerSigner, { spiffeId: `spiffe://${TD}/a`, ttlMs: HOUR });
  const foreign = await issueWorkload(issuerSigner, { spiffeId: 'spiffe://evil.org/a', ttlMs: HOUR });
  const files = { 'ca.crt': anchor.cert, 'issuer.crt': issuer.cert, 'good.crt': good.cert, 'foreign.crt': foreign.cert };
  assert.ok(opensslVerify(files, 'good.crt').ok);
  const r = opensslVerify(files, 'foreign.crt');
  assert.equal(r.ok, false);
  assert.match(r.out, /permitted subtree violation/);
  // Without the constraint the same certificate passes: the constraint is what refuses it.
  const open = await pki({ nameConstraint: false });
  const f2 = await issueWorkload(open.issuerSigner, { spiffeId: 'spiffe://evil.org/a', ttlMs: HOUR });
  assert.ok(opensslVerify({ 'ca.crt': open.anchor.cert, 'issuer.crt': open.issuer.cert, 'f.crt': f2.cert }, 'f.crt').ok);
});

test('a certificate never outlives the one that signed it', async () => {
  const { issuerSigner } = await pki({ issuerTtl: HOUR });
  const leaf = await issueWorkload(issuerSigner, { spiffeId: `spiffe://${TD}/a`, ttlMs: 24 * HOUR });
  assert.equal(leaf.notAfter, issuerSigner.notAfter);
});

test('loadSigner refuses a leaf, a key of another certificate, and an expired issuer, naming the file', async () => {
  const { anchor, issuer, issuerSigner } = await pki();
  const leaf = await issueWorkload(issuerSigner, { spiffeId: `spiffe://${TD}/a`, ttlMs: HOUR });
  const files = { cert: 'issuer.crt', key: 'issuer.key' };
  await assert.rejects(loadSigner(leaf.cert, leaf.key, files), (e: Error) => e instanceof CaError && /issuer\.crt: not a CA certificate/.test(e.message));
  await assert.rejects(loadSigner(issuer.cert, anchor.key, files), /issuer\.key is not the key of issuer\.crt/);
  await assert.rejects(loadSigner('nonsense', issuer.key, files), /issuer\.crt: not a PEM certificate/);
  await assert.rejects(loadSigner(issuer.cert, 'nonsense', files), /issuer\.key: not a PEM private key/);
  await assert.rejects(loadSigner(issuer.cert, issuer.key, files, Date.now() + 6 * HOUR), /issuer\.crt expired on/);
  const s: Signer = await loadSigner(issuer.cert, issuer.key, files);
  assert.equal(s.trustDomain, TD);
});

test('an issuer made by openssl (EC key in SEC1 form, no SPIFFE ID) signs workloads too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-ca-'));
  try {
    const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
    run(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', '/CN=ext-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt']);
    const { readFileSync } = await import('node:fs');
    const signer = await loadSigner(readFileSync(join(dir, 'ca.crt'), 'utf8'), readFileSync(join(dir, 'ca.key'), 'utf8'), { cert: 'ca.crt', key: 'ca.key' });
    assert.equal(signer.trustDomain, '');
    const leaf = await issueWorkload(signer, { spiffeId: `spiffe://${TD}/ext`, ttlMs: HOUR });
    writeFileSync(join(dir, 'leaf.crt'), leaf.cert);
    const r = spawnSync('openssl', ['verify', '-CAfile', 'ca.crt', 'leaf.crt'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
