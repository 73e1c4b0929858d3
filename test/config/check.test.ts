import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheck } from '../../src/cli/check.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runCheck(args, out, err);
  return { code, out: out.text, err: err.text };
}

test('check: valid example file', async () => {
  const r = await run(['--config', 'examples/switchyard.yaml']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'examples/switchyard.yaml: valid (1 listener, 5 services)\n');
  assert.equal(r.err, '');
  const r2 = await run(['--config=examples/switchyard.yaml']);
  assert.equal(r2.code, 0);
  const r3 = await run(['-c', 'examples/switchyard.yaml']);
  assert.equal(r3.code, 0);
});

test('check: invalid file prints every error and returns 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swy-check-'));
  try {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      'listeners:\n  - name: edge\n    listen: 0.0.0.0:70000\n    service: nosuch\nservices:\n  - name: web\n    balancr: rr\n',
    );
    const r = await run(['--config', file]);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    const lines = r.err.trimEnd().split('\n');
    assert.equal(lines.length, 4, r.err);
    assert.match(lines[0]!, /bad\.yaml:3:13 listeners\[0\]\.listen: .*out of range/);
    assert.match(lines[1]!, /bad\.yaml:4:14 listeners\[0\]\.service: unknown service "nosuch"/);
    assert.match(lines[2]!, /bad\.yaml:7:5 services\[0\]\.balancr: unknown key "balancr" \(did you mean "balancer"\?\)/);
    assert.match(lines[3]!, /bad\.yaml: invalid \(3 problems\)/);

    const missing = await run(['--config', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /file not found/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('check: usage', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /Usage: switchyard check --config FILE/);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /missing --config/);
  assert.match(none.err, /Usage:/);
  assert.equal((await run(['--config'])).code, 2);
  assert.equal((await run(['--bogus'])).code, 2);
});

test('check: discovery settings are validated without contacting anything, and each source is named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swy-check-'));
  try {
    const good = join(dir, 'good.yaml');
    await writeFile(good, [
      'listeners: [{ name: edge, listen: 127.0.0.1:0, service: web }]',
      'services:',
      '  - { name: web, discovery: { file: /nonexistent/web.yaml } }',
      '  - { name: api, discovery: { dns: { name: api.internal, port: 8080, servers: [127.0.0.1:5353] } } }',
      '  - { name: srv, discovery: { dns: { srv: _grpc._tcp.api.internal } } }',
      '  - { name: greeter, discovery: { kubernetes: { service: greeter, namespace: prod, port: grpc, kubeconfig: /nonexistent/kubeconfig } } }',
      '  - { name: named, endpoints: [backend.internal:80] }',
      '  - { name: fixed, endpoints: [10.0.0.1:80] }',
      '',
    ].join('\n'));
    const r = await run(['--config', good]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, [
      `${good}: valid (1 listener, 6 services)`,
      '  service web: endpoints from file /nonexistent/web.yaml (watched)',
      '  service api: endpoints from dns A/AAAA api.internal:8080 via 127.0.0.1:5353',
      '  service srv: endpoints from dns SRV _grpc._tcp.api.internal',
      '  service greeter: endpoints from kubernetes Service prod/greeter port grpc',
      '  service named: endpoints from hostnames backend.internal (resolved every 5 s)',
      '',
    ].join('\n'));

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, [
      'listeners: [{ name: edge, listen: 127.0.0.1:0, service: web }]',
      'services:',
      '  - { name: web, endpoints: [10.0.0.1:80], discovery: { file: /x.yaml } }',
      '  - { name: api, discovery: { dns: { name: api.internal } } }',
      '  - { name: two, discovery: { file: /x.yaml, dns: { srv: _x._tcp.y } } }',
      '  - { name: k8s, discovery: { kubernetes: { service: Greeter_1, port: grpc } } }',
      '',
    ].join('\n'));
    const b = await run(['--config', bad]);
    assert.equal(b.code, 1);
    assert.match(b.err, /services\[0\]\.discovery: set either endpoints or discovery, not both/);
    assert.match(b.err, /services\[1\]\.discovery\.dns\.port: required with name/);
    assert.match(b.err, /services\[2\]\.discovery: set exactly one source \(file, dns or kubernetes\); 2 are set/);
    assert.match(b.err, /services\[3\]\.discovery\.kubernetes\.service: must be a Kubernetes Service name/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
