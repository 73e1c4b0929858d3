import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parse } from 'yaml';
import { runIdentity } from '../../src/cli/identity.js';
import { parseConfig } from '../../src/config/index.js';

const CLI = path.resolve('dist/src/cli/main.js');

async function identity(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d) => (o += String(d)));
  err.on('data', (d) => (e += String(d)));
  const code = await runIdentity(args, out, err);
  return { code, out: o, err: e };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-ident-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function opensslVerify(dir: string, leaf: string, untrusted = 'issuer.crt'): { status: number | null; out: string } {
  const r = spawnSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-untrusted', path.join(dir, untrusted), leaf], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('init writes the anchor and issuer (keys 0600), prints a valid identity section, and refuses to overwrite without --force', async (t) => {
  const base = tempDir(t);
  const dir = path.join(base, 'id');
  const r = await identity(['init', '--dir', dir, '--trust-domain', 'example.org', '--anchor-ttl', '365d', '--issuer-ttl', '2160h']);
  assert.equal(r.code, 0, r.err);
  for (const f of ['ca.crt', 'ca.key', 'issuer.crt', 'issuer.key']) assert.match(r.out, new RegExp(`${f}`));
  assert.equal(statSync(path.join(dir, 'ca.key')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(dir, 'issuer.key')).mode & 0o777, 0o600);
  const anchor = new X509Certificate(readFileSync(path.join(dir, 'ca.crt')));
  const issuer = new X509Certificate(readFileSync(path.join(dir, 'issuer.crt')));
  assert.ok(issuer.checkIssued(anchor) && issuer.verify(anchor.publicKey));
  const days = (x: X509Certificate): number => Math.round((Date.parse(x.validTo) - Date.now()) / 86_400_000);
  assert.equal(days(anchor), 365);
  assert.equal(days(issuer), 90);
  // openssl accepts the issuer under the anchor.
  const v = spawnSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'issuer.crt')], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);

  // The printed snippet is a valid `identity` section.
  const snippet = r.out.slice(r.out.indexOf('identity:'));
  const raw = parse(snippet) as { identity: Record<string, unknown> };
  assert.equal(raw.identity.name, 'spiffe://example.org/switchyard');
  const config = parseConfig({ ...raw, listeners: [{ name: 'l', listen: '127.0.0.1:0', service: 's' }], services: [{ name: 's', endpoints: ['127.0.0.1:1'] }] }, 'snippet');
  assert.equal(config.identity?.trustAnchor, path.join(dir, 'ca.crt'));

  const before = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  const again = await identity(['init', '--dir', dir]);
  assert.equal(again.code, 1);
  assert.match(again.err, /already exist.*--force/);
  assert.equal(readFileSync(path.join(dir, 'ca.crt'), 'utf8'), before);
  const forced = await identity(['init', '--dir', dir, '--force']);
  assert.equal(forced.code, 0, forced.err);
  assert.notEqual(readFileSync(path.join(dir, 'ca.crt'), 'utf8'), before);
  assert.match(forced.out, /spiffe:\/\/cluster\.local\/switchyard/);
});

test('issue NAME: a SPIFFE certificate + issuer chain and a 0600 key that openssl verifies with ca.crt; --new-issuer keeps the anchor', async (t) => {
  const dir = tempDir(t);
  const ids = path.join(dir, 'identity');
  assert.equal((await identity(['init', '--dir', ids, '--trust-domain', 'example.org'])).code, 0);
  const out = path.join(dir, 'certs');
  const r = await identity(['issue', 'ns/prod/sa/web', '--dir', ids, '--out', out, '--ttl', '2h', '--dns', 'web.local', '--dns=web.internal,web']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^spiffe:\/\/example\.org\/ns\/prod\/sa\/web\n/);
  const crt = path.join(out, 'ns-prod-sa-web.crt');
  const key = path.join(out, 'ns-prod-sa-web.key');
  assert.equal(statSync(key).mode & 0o777, 0o600);
  const v = opensslVerify(ids, crt);
  assert.equal(v.status, 0, v.out);
  const chain = readFileSync(crt, 'utf8');
  assert.equal(chain.match(/BEGIN CERTIFICATE/g)?.length, 2);
  assert.ok(chain.endsWith(readFileSync(path.join(ids, 'issuer.crt'), 'utf8')));
  const leaf = new X509Certificate(chain);
  assert.equal(leaf.subjectAltName, 'URI:spiffe://example.org/ns/prod/sa/web, DNS:web.local, DNS:web.internal, DNS:web');
  assert.ok(Math.abs(Date.parse(leaf.validTo) - Date.now() - 2 * 3_600_000) < 5_000);
  // The key belongs to the certificate.
  assert.ok(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(key))));

  // A whole SPIFFE ID in the issuer's trust domain is accepted too.
  const whole = await identity(['issue', 'spiffe://example.org/gateway', '--dir', ids, '--out', out]);
  assert.equal(whole.code, 0, whole.err);
  assert.equal(opensslVerify(ids, path.join(out, 'gateway.crt')).status, 0);

  // A new issuer under the same anchor: certificates it issues verify with the unchanged ca.crt.
  const anchorBefore = readFileSync(path.join(ids, 'ca.crt'), 'utf8');
  const issuerBefore = readFileSync(path.join(ids, 'issuer.crt'), 'utf8');
  const rotated = await identity(['init', '--new-issuer', '--dir', ids]);
  assert.equal(rotated.code, 0, rotated.err);
  assert.equal(readFileSync(path.join(ids, 'ca.crt'), 'utf8'), anchorBefore);
  assert.notEqual(readFileSync(path.join(ids, 'issuer.crt'), 'utf8'), issuerBefore);
  assert.equal((await identity(['issue', 'ns/prod/sa/web', '--dir', ids, '--out', out])).code, 0);
  assert.equal(opensslVerify(ids, crt).status, 0);
});

test('issue refuses bad names, other trust domains and missing issuer files (exit 1); usage errors exit 2', async (t) => {
  const dir = tempDir(t);
  const ids = path.join(dir, 'identity');
  assert.equal((await identity(['init', '--dir', ids, '--trust-domain', 'example.org'])).code, 0);
  const bad: Array<[string, RegExp]> = [
    ['ns//web', /empty segment/],
    ['ns/prod/', /ends with "\/"/],
    ['ns/../web', /"\.\." segment/],
    ['ns/we b', /segment "we b" may only hold/],
    ['ns/%41', /may only hold/],
    ['spiffe://Example.org/a', /trust domain "Example\.org"/],
    ['spiffe://example.org', /needs a path/],
    ['spiffe://other.org/a', /trust domain "other\.org", but .*issuer\.crt issues for "example\.org"/],
  ];
  for (const [name, message] of bad) {
    const r = await identity(['issue', name, '--dir', ids, '--out', dir]);
    assert.equal(r.code, 1, `${name}: ${r.err}`);
    assert.match(r.err, message, name);
  }
  const missing = await identity(['issue', 'web', '--dir', path.join(dir, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no issuer in .*nope.*identity init --dir/);
  rmSync(path.join(ids, 'issuer.key'));
  const noKey = await identity(['issue', 'web', '--dir', ids, '--out', dir]);
  assert.equal(noKey.code, 1);
  assert.match(noKey.err, /issuer key .*issuer\.key: cannot read: no such file/);
  writeFileSync(path.join(ids, 'issuer.key'), readFileSync(path.join(ids, 'ca.key')));
  const wrongKey = await identity(['issue', 'web', '--dir', ids, '--out', dir]);
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.err, /issuer\.key is not the key of .*issuer\.crt/);

  const usage: string[][] = [[], ['frob'], ['issue'], ['issue', 'a', 'b'], ['issue', 'a', '--ttl', 'soon'], ['issue', 'a', '--ttl', '1s'],
    ['issue', 'a', '--bogus', 'x'], ['issue', 'a', '--dns', 'not a name'], ['init', '--trust-domain', 'Bad_Domain!'], ['init', 'extra'],
    ['init', '--new-issuer', '--trust-domain', 'x.org'], ['issue', 'a', '--dir']];
  for (const args of usage) {
    const r = await identity(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /Usage:/);
  }
  const help = await identity(['issue', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /switchyard identity issue NAME/);
});

test('switchyard identity runs from the command line', (t) => {
  const dir = tempDir(t);
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  const init = run(['identity', 'init']);
  assert.equal(init.status, 0, init.stderr);
  const issue = run(['identity', 'issue', 'web']);
  assert.equal(issue.status, 0, issue.stderr);
  assert.equal(opensslVerify(path.join(dir, 'identity'), path.join(dir, 'web.crt')).status, 0);
  assert.equal(run(['identity', 'issue']).status, 2);
  assert.match(run(['--help']).stdout, /identity/);
});
