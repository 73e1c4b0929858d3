/**
 * Starting `switchyard run` as users do: a bare port for --listen, flags next
 * to --config, and a port someone else already holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../bench/lib/processes.js';

const CLI = path.resolve('dist/src/cli/main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI until it exits, or until `until(stdout)` holds (then SIGTERM). */
function runCli(args: string[], until?: (stdout: string) => boolean): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!signalled && until?.(stdout)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function configFile(t: { after(fn: () => void): void }, config: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-run-startup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const listening = (s: string): boolean => s.includes('"msg":"listening"');

test('--listen PORT (a bare port) listens on 0.0.0.0:PORT, as documented', async () => {
  const port = await freePort();
  const r = await runCli(['run', '--listen', String(port), '--to', '127.0.0.1:1', '--admin', 'off'], listening);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`"address":"0\\.0\\.0\\.0:${port}","msg":"listening"`));
});

test('with --config, --admin overrides the file, and quick-mode flags are refused instead of ignored', async (t) => {
  const [fileAdmin, flagAdmin] = [await freePort(), await freePort()];
  const file = configFile(t, {
    admin: { listen: `127.0.0.1:${fileAdmin}` },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'api' }],
    services: [{ name: 'api', endpoints: ['127.0.0.1:1'] }],
  });
  const r = await runCli(['run', '--config', file, '--admin', `127.0.0.1:${flagAdmin}`, '--log-level', 'info'], listening);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`"address":"127\\.0\\.0\\.1:${flagAdmin}","msg":"admin listening"`));
  assert.doesNotMatch(r.stdout, new RegExp(`:${fileAdmin}"`));

  const off = await runCli(['run', '--config', file, '--admin', 'off'], listening);
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(off.stdout, /admin listening/);

  const refused = await runCli(['run', '--config', file, '--listen', '8080', '--to', '10.0.0.1:80']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^--listen, --to cannot be combined with --config/);
});

test('a port that is taken: one line naming the address, who holds it, and what to change; exit 1', async (t) => {
  const held = await holdPort();
  t.after(() => held.close());
  // The admin port (the case of a second Switchyard on the same host).
  const file = configFile(t, {
    admin: { listen: `127.0.0.1:${held.port}` },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'api' }],
    services: [{ name: 'api', endpoints: ['127.0.0.1:1'] }],
  });
  const a = await runCli(['run', '--config', file]);
  assert.equal(a.code, 1);
  assert.equal(a.stderr.trim().split('\n').length, 1, a.stderr);
  assert.match(a.stderr, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${held.port} for the admin server: address already in use, held by pid ${process.pid} \\(.*\\); choose another with --admin HOST:PORT \\(or admin\\.listen in the file\\), or --admin off\\n$`));
  assert.doesNotMatch(a.stdout, /"stack"/);

  // A listener in a file, and in quick mode.
  const file2 = configFile(t, {
    admin: { enabled: false },
    listeners: [{ name: 'other', listen: '127.0.0.1:0', service: 'api' }, { name: 'edge', listen: `127.0.0.1:${held.port}`, service: 'api' }],
    services: [{ name: 'api', endpoints: ['127.0.0.1:1'] }],
  });
  const l = await runCli(['run', '--config', file2]);
  assert.equal(l.code, 1);
  assert.match(l.stderr, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${held.port} for listener "edge": address already in use, held by pid ${process.pid} .*; choose another with listeners\\[1\\]\\.listen in .*config\\.json\\n$`));
  const q = await runCli(['run', '--listen', `127.0.0.1:${held.port}`, '--to', '127.0.0.1:1', '--admin', 'off']);
  assert.equal(q.code, 1);
  assert.match(q.stderr, /for listener "quick": address already in use, held by pid \d+ .*; choose another with --listen HOST:PORT\n$/);
});
