import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { closeSession, connect, h2Request, startH2Backend } from '../helpers/proxy-harness.js';

const CLI = path.resolve('dist/src/cli/main.js');

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('--version, --help and unknown commands', () => {
  const v = run(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^\d+\.\d+\.\d+\n$/);
  const h = run(['--help']);
  assert.equal(h.code, 0);
  for (const c of ['run', 'check', 'simulate', 'demo']) assert.match(h.out, new RegExp(`\\b${c}\\b`));
  for (const c of ['run', 'check', 'simulate', 'demo']) assert.equal(run([c, '--help']).code, 0, `${c} --help`);
  const u = run(['nosuch']);
  assert.equal(u.code, 2);
  assert.match(u.err, /unknown command "nosuch"/);
});

test('run as a program: the shell prologue starts Node with the launch flags', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  // What `npx switchyard` and an installed `switchyard` do: the file is
  // executed, sh reads line 2 and execs Node with the flags.
  const v = spawnSync('sh', [CLI, '--version'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const child = spawn('sh', [CLI, 'run', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:1', '--admin', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  for await (const line of createInterface({ input: child.stdout! })) {
    if ((JSON.parse(line) as { msg: string }).msg === 'listening') break;
  }
  // exec keeps the pid: the process sh started is now Node.
  const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
  assert.match(path.basename(argv[0]!), /^node/);
  assert.ok(argv.includes('--max-semi-space-size=4'), argv.join(' '));
  assert.equal(argv[argv.indexOf('--max-semi-space-size=4') + 1], CLI);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('check: exit 0 for a valid file, 1 with every error named by its path', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-cli-'));
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, 'listeners:\n  - name: edge\n    listen: 127.0.0.1:8080\n    service: web\nservices:\n  - name: web\n    endpoints: [127.0.0.1:7001]\n');
  assert.equal(run(['check', '--config', good]).code, 0);
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'listeners:\n  - name: edge\n    listen: 127.0.0.1:99999\n    service: nosuch\nservices:\n  - name: web\n    endpoints: [127.0.0.1:7001]\n');
  const r = run(['check', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(r.out + r.err, /listeners\[0\]\.listen/);
  assert.match(r.out + r.err, /listeners\[0\]\.service: unknown service "nosuch"/);
});

test('run (quick mode) forwards per request, then drains and exits 0 on SIGTERM', async (t) => {
  const a = await startH2Backend('a');
  const b = await startH2Backend('b');
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const child = spawn(process.execPath, [CLI, 'run', '--listen', '127.0.0.1:0', '--to', `127.0.0.1:${a.port},127.0.0.1:${b.port}`, '--balancer', 'round-robin', '--protocol', 'http2', '--admin', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! });
  let port = 0;
  let adminPort = 0;
  for await (const line of lines) {
    const rec = JSON.parse(line) as { msg: string; address?: string };
    if (rec.msg === 'admin listening') adminPort = Number(rec.address!.split(':').pop());
    if (rec.msg === 'listening') {
      port = Number(rec.address!.split(':').pop());
      break;
    }
  }
  assert.ok(port > 0);
  const live = await fetch(`http://127.0.0.1:${adminPort}/live`);
  assert.equal(live.status, 200);
  const s = await connect(port);
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add(String((await h2Request(s, { ':path': '/' })).headers['x-backend']));
  assert.deepEqual([...seen].sort(), ['a', 'b']);
  const ready = await fetch(`http://127.0.0.1:${adminPort}/ready`);
  assert.equal(ready.status, 200);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  // The client gets a GOAWAY; the process exits 0 once its connection is gone.
  await new Promise<void>((r) => s.once('goaway', () => r()));
  await closeSession(s).catch(() => {});
  assert.equal(await exited, 0);
});

test('run --workers 2: two processes share the port; SIGTERM stops both and exits 0', async (t) => {
  const a = await startH2Backend('a');
  t.after(() => a.close());
  const net = await import('node:net');
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as import('node:net').AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const child = spawn(process.execPath, [CLI, 'run', '--listen', `127.0.0.1:${port}`, '--to', `127.0.0.1:${a.port}`, '--protocol', 'http2', '--admin', 'off', '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! });
  let listening = 0;
  for await (const line of lines) {
    if ((JSON.parse(line) as { msg: string }).msg === 'listening' && ++listening === 2) break;
  }
  const sessions = await Promise.all([connect(port), connect(port), connect(port), connect(port)]);
  for (const s of sessions) assert.equal((await h2Request(s, { ':path': '/' })).status, 200);
  for (const s of sessions) await closeSession(s);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
