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
