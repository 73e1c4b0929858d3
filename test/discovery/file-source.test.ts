import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource, parseEndpointFile, type DiscoveredEndpoint, type DiscoverySink } from '../../src/discovery/index.js';

/** A sink that records every call and lets a test wait for the next one. */
class Recorder implements DiscoverySink {
  readonly calls: (DiscoveredEndpoint[] | string)[] = [];
  private waiters: (() => void)[] = [];
  update(endpoints: readonly DiscoveredEndpoint[]): void {
    this.calls.push([...endpoints]);
    this.wake();
  }
  error(message: string): void {
    this.calls.push(message);
    this.wake();
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once there are at least `n` calls. */
  async next(n: number, ms = 5000): Promise<DiscoveredEndpoint[] | string> {
    const deadline = Date.now() + ms;
    while (this.calls.length < n) {
      if (Date.now() > deadline) throw new Error(`no call #${n} within ${ms} ms (calls: ${JSON.stringify(this.calls)})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.calls[n - 1]!;
  }
}

function addresses(call: DiscoveredEndpoint[] | string): string[] {
  assert.ok(Array.isArray(call), `expected a set, got ${String(call)}`);
  return call.map((e) => `${e.address.host}:${e.address.port}/${e.weight}`);
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'swy-file-source-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('parseEndpointFile: the same forms as endpoints, and errors that name the path, the line and the reason', () => {
  const ok = parseEndpointFile('- 10.0.0.1:80\n- { address: "[::1]:81", weight: 3 }\n', '/x.yaml');
  assert.ok(Array.isArray(ok));
  assert.deepEqual(ok.map((e) => [e.address.host, e.address.port, e.weight]), [['10.0.0.1', 80, 1], ['::1', 81, 3]]);
  assert.deepEqual(parseEndpointFile('[]', '/x.yaml'), []);
  assert.deepEqual(parseEndpointFile('["10.0.0.1:80"]', '/x.json'), [{ address: { host: '10.0.0.1', port: 80 }, weight: 1 }]);
  assert.equal(parseEndpointFile('  \n', '/x.yaml'), 'file /x.yaml: the file is empty (write [] for no endpoints)');
  assert.match(parseEndpointFile('- 10.0.0.1:80\n- 10.0.0.2\n', '/x.yaml') as string, /^file \/x\.yaml line 2: \[1\]\.address: invalid address "10\.0\.0\.2": missing port/);
  assert.match(parseEndpointFile('- 10.0.0.1:80\n- { address: 10.0.0.2:80, wieght: 2 }\n', '/x.yaml') as string, /^file \/x\.yaml line 2: \[1\]: Unrecognized key\(s\) in object: 'wieght'/);
  assert.match(parseEndpointFile('- 10.0.0.1:80\n- [unclosed\n', '/x.yaml') as string, /^file \/x\.yaml line \d+: /);
  assert.match(parseEndpointFile('endpoints: 3\n', '/x.yaml') as string, /^file \/x\.yaml line 1: Expected array, received object/);
});

test('FileSource: sees writes in place and replacements by rename, keeps the last set on a broken file, and recovers', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'eps.yaml');
  writeFileSync(file, '- 127.0.0.1:1001\n');
  const src = new FileSource(file);
  const rec = new Recorder();
  src.start(rec);
  t.after(() => src.stop());
  assert.deepEqual(addresses(await rec.next(1)), ['127.0.0.1:1001/1']);

  // Written in place.
  writeFileSync(file, '- 127.0.0.1:1001\n- 127.0.0.1:1002\n');
  assert.deepEqual(addresses(await rec.next(2)), ['127.0.0.1:1001/1', '127.0.0.1:1002/1']);

  // Replaced by rename: a new inode.
  writeFileSync(join(dir, 'eps.yaml.new'), '- { address: 127.0.0.1:1003, weight: 5 }\n');
  renameSync(join(dir, 'eps.yaml.new'), file);
  assert.deepEqual(addresses(await rec.next(3)), ['127.0.0.1:1003/5']);

  // Broken: one error, no set.
  writeFileSync(join(dir, 'eps.yaml.new'), '- 127.0.0.1:1003\n- nope\n');
  renameSync(join(dir, 'eps.yaml.new'), file);
  assert.match(await rec.next(4) as string, new RegExp(`^file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} line 2: \\[1\\]\\.address: `));

  // Deleted, then back.
  unlinkSync(file);
  assert.match(await rec.next(5) as string, /cannot read: no such file$/);
  writeFileSync(file, '- 127.0.0.1:1004\n');
  assert.deepEqual(addresses(await rec.next(6)), ['127.0.0.1:1004/1']);

  // Stopped: later changes are not delivered.
  src.stop();
  writeFileSync(file, '- 127.0.0.1:1005\n');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(rec.calls.length, 6);
});

test('FileSource: a missing file is an error until it appears; a ConfigMap-style symlink swap is followed', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'eps.yaml');
  const src = new FileSource(file, { pollInterval: 100 });
  const rec = new Recorder();
  src.start(rec);
  t.after(() => src.stop());
  assert.match(await rec.next(1) as string, /cannot read: no such file$/);

  // Kubernetes projects a ConfigMap as eps.yaml -> ..data/eps.yaml, ..data -> ..<timestamp>;
  // an update writes a new timestamped directory and renames a new ..data link over the old one.
  const version = (name: string, text: string): void => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'eps.yaml'), text);
    symlinkSync(name, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  version('..v1', '- 127.0.0.1:2001\n');
  symlinkSync('..data/eps.yaml', file);
  assert.deepEqual(addresses(await rec.next(2)), ['127.0.0.1:2001/1']);
  version('..v2', '- 127.0.0.1:2002\n');
  assert.deepEqual(addresses(await rec.next(3)), ['127.0.0.1:2002/1']);
});
