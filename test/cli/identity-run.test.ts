import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCli } from '../helpers/cli-process.js';

const CLI = path.resolve('dist/src/cli/main.js');

test('run with an identity section: the proxy issues its certificate at start and exports the expiry of it, its issuer and anchor', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-ident-run-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const init = spawnSync(process.execPath, [CLI, 'identity', 'init', '--dir', dir, '--trust-domain', 'example.org', '--issuer-ttl', '48h'], { encoding: 'utf8' });
  assert.equal(init.status, 0, init.stderr);
  const identity = {
    name: 'spiffe://example.org/ns/edge/sa/gateway',
    trustAnchor: path.join(dir, 'ca.crt'),
    issuer: { cert: path.join(dir, 'issuer.crt'), key: path.join(dir, 'issuer.key') },
    ttl: '1h',
  };
  const proxy = await startCli({
    admin: { listen: '127.0.0.1:0' },
    identity,
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web' }],
    services: [{ name: 'web', endpoints: ['127.0.0.1:1'] }],
  });
  t.after(() => proxy.kill());
  const issued = await proxy.waitLog('identity certificate issued');
  assert.equal(issued.identity, identity.name);
  const admin = await proxy.waitLog('admin listening');
  const metrics = await (await fetch(`http://${String(admin.address)}/metrics`)).text();
  const value = (kind: string, name: string): number => {
    const line = metrics.split('\n').find((l) => l.startsWith(`switchyard_certificate_expiry_seconds{kind="${kind}",name="${name}"}`));
    assert.ok(line !== undefined, `${kind} ${name} in\n${metrics}`);
    return Number(line.split(' ').pop());
  };
  assert.ok(Math.abs(value('identity', identity.name) - 3600) < 30);
  assert.ok(Math.abs(value('issuer', identity.issuer.cert) - 48 * 3600) < 30);
  assert.ok(Math.abs(value('trust-anchor', identity.trustAnchor) - 8760 * 3600) < 30);
  proxy.child.kill('SIGTERM');
  assert.equal(await proxy.exited, 0);

  // An identity the issuer cannot vouch for stops the start with a clear reason (exit 1).
  const file = path.join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({
    admin: { enabled: false },
    identity: { ...identity, name: 'spiffe://other.org/gateway' },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web' }],
    services: [{ name: 'web', endpoints: ['127.0.0.1:1'] }],
  }));
  const bad = spawnSync(process.execPath, [CLI, 'run', '--config', file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /cannot issue the proxy certificate/);
  assert.match(bad.stdout, /in trust domain \\"other\.org\\", but the issuer .* issues for \\"example\.org\\"/);
  assert.doesNotMatch(bad.stdout, /"listening"/);
});
