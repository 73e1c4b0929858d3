/**
 * `switchyard run --config F` reloading F on SIGHUP, on `switchyard reload`
 * (admin and pid file) and on a change of F with `watch: true`: real process,
 * real signals, node:http2 backends and clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type http2 from 'node:http2';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { closeSession, connect, h2Request, runConcurrently, startH2Backend, type H2Backend } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

const CLI = path.resolve('dist/src/cli/main.js');

/** A backend that records the client's sequence number (x-seq) of every request it gets. */
async function seqBackend(name: string): Promise<H2Backend & { seqs: number[] }> {
  const seqs: number[] = [];
  const b = await startH2Backend(name, {
    handler: (stream, headers) => {
      seqs.push(Number(headers['x-seq'] ?? -1));
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'x-backend': name });
        stream.end(name);
      });
    },
  });
  return Object.assign(b, { seqs });
}

function config(ports: { a: number; b?: number; c?: number }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const api = [`127.0.0.1:${ports.a}`, ...(ports.b === undefined ? [] : [`127.0.0.1:${ports.b}`])];
  const routes: unknown[] = [];
  const services: Record<string, unknown>[] = [{ name: 'api', balancer: 'round-robin', endpoints: api, drainTimeout: '5s' }];
  if (ports.c !== undefined) {
    routes.push({ name: 'fresh', match: { pathPrefix: '/new/' }, service: 'fresh' });
    services.push({ name: 'fresh', endpoints: [`127.0.0.1:${ports.c}`] });
  }
  return {
    admin: { listen: '127.0.0.1:0' },
    shutdown: { drainTimeout: '2s' },
    listeners: [{ name: 'web', listen: '127.0.0.1:0', service: 'api', routes }],
    services,
    ...extra,
  };
}

async function adminOf(cli: CliProcess): Promise<string> {
  const rec = await cli.waitLog('admin listening');
  return `http://${String(rec.address)}`;
}

function count(cli: CliProcess, msg: string): number {
  return cli.log.filter((r) => r.msg === msg).length;
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr });
    });
  });
}

async function metric(admin: string, name: string): Promise<string> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name)).join('\n');
}

test('SIGHUP applies a new file under load: no failed request, the new route answers, the removed endpoint gets nothing more, the kept one keeps its connection; an invalid file is rejected', async () => {
  const a = await seqBackend('a');
  const b = await seqBackend('b');
  const c = await seqBackend('c');
  const cli = await startCli(config({ a: a.port, b: b.port }));
  const sessions: http2.ClientHttp2Session[] = [];
  try {
    const admin = await adminOf(cli);
    const pid = cli.child.pid;
    for (let i = 0; i < 4; i++) sessions.push(await connect(cli.port));
    const statuses = new Map<number, number>();
    let seq = 0;
    let done = 0;
    /** The first sequence number sent after the proxy logged the reload. */
    let firstAfter = Infinity;
    let sessionsAtReload = -1;
    const reloaded = (async () => {
      await waitFor(() => done >= 500, '500 responses', 20_000);
      sessionsAtReload = a.sessions;
      writeFileSync(cli.file, JSON.stringify(config({ a: a.port, c: c.port })));
      cli.child.kill('SIGHUP');
      await cli.waitLog('config reloaded');
      firstAfter = seq;
    })();
    await runConcurrently(2000, 16, async (i) => {
      const s = seq++;
      const r = await h2Request(sessions[i % sessions.length]!, { ':path': `/x/${s}`, 'x-seq': String(s) });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      done++;
    });
    await reloaded;
    assert.deepEqual([...statuses], [[200, 2000]], 'every request answered 200');
    assert.ok(firstAfter < 2000, 'the reload completed while requests were flowing');
    assert.equal(b.seqs.filter((s) => s >= firstAfter).length, 0, 'the removed endpoint got no request sent after the reload');
    assert.ok(a.seqs.some((s) => s >= firstAfter), 'the kept endpoint took the requests after the reload');
    assert.equal(sessionsAtReload, 1);
    assert.equal(a.sessions, 1, 'the kept endpoint saw no new connection');
    const line = cli.log.find((r) => r.msg === 'config reloaded')!;
    assert.deepEqual(line.servicesAdded, ['fresh']);
    assert.deepEqual(line.listenersUpdated, ['web']);
    assert.equal(line.endpointsRemoved, 1);

    const fresh = await h2Request(sessions[0]!, { ':path': '/new/thing' });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers['x-backend'], 'c');
    // Telemetry follows: the new service and route are in the topology and the metrics.
    const topo = (await (await fetch(`${admin}/api/v1/topology`)).json()) as { services: { name: string; endpoints: { id: string }[] }[]; listeners: { routes: { name: string }[] }[] };
    assert.deepEqual(topo.services.map((x) => x.name).sort(), ['api', 'fresh']);
    assert.deepEqual(topo.listeners[0]!.routes.map((r) => r.name), ['fresh', 'default']);
    assert.match(await metric(admin, 'switchyard_requests_total'), /service="fresh"/);

    // An invalid file: rejected with every error and its key path; the running configuration stays.
    writeFileSync(cli.file, JSON.stringify({ ...config({ a: a.port, c: c.port }), services: [{ name: 'api', endpoints: ['nope'], balancr: 'x' }] }));
    cli.child.kill('SIGHUP');
    const failed = await cli.waitLog('config reload failed');
    const errors = failed.errors as string[];
    assert.ok(errors.some((e) => e.includes('services[0].endpoints[0]')), errors.join('\n'));
    assert.ok(errors.some((e) => e.includes('services[0].balancr') && e.includes('did you mean "balancer"')), errors.join('\n'));
    assert.ok(errors.some((e) => e.includes('unknown service "fresh"')), errors.join('\n'));
    const st = (await (await fetch(`${admin}/api/v1/config`)).json()) as {
      reloads: { success: number; failure: number }; lastError: { errors: string[]; at: string }; version: { hash: string }; path: string;
    };
    assert.deepEqual(st.reloads, { success: 1, failure: 1 });
    assert.ok(st.lastError.errors.some((e) => e.includes('services[0].endpoints[0]')));
    assert.equal(st.path, cli.file);
    assert.match(await metric(admin, 'switchyard_config_reload_total'), /result="failure"} 1/);
    assert.match(await metric(admin, 'switchyard_config_last_reload_successful'), / 0$/);
    const still = await h2Request(sessions[1]!, { ':path': '/new/again' });
    assert.equal(still.headers['x-backend'], 'c', 'still serving the last good configuration');
    assert.equal(cli.child.pid, pid);
    assert.equal(cli.child.exitCode, null);
  } finally {
    for (const s of sessions) await closeSession(s);
    cli.kill();
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('switchyard reload: through the admin server it prints the changes (or the errors, exit 1); with --pid-file it signals the process', async () => {
  const a = await seqBackend('a');
  const b = await seqBackend('b');
  const pidFile = path.join(tmpdir(), `swy-reload-${process.pid}-${Date.now()}.pid`);
  const cli = await startCli(config({ a: a.port }), ['--pid-file', pidFile]);
  try {
    const admin = await adminOf(cli);
    const adminAddr = admin.slice('http://'.length);
    writeFileSync(cli.file, JSON.stringify(config({ a: a.port, b: b.port })));
    const ok = await runCli(['reload', '--admin', adminAddr]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /service api changed: endpoints/);
    assert.match(ok.stdout, /endpoints: \+1 -0/);

    writeFileSync(cli.file, '{ "listeners": [ }');
    const bad = await runCli(['reload', '--admin', adminAddr]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /reload rejected/);
    assert.match(bad.stderr, /YAML syntax error/);

    writeFileSync(cli.file, JSON.stringify(config({ a: b.port })));
    const sig = await runCli(['reload', '--pid-file', pidFile]);
    assert.equal(sig.code, 0, sig.stderr);
    await waitFor(() => count(cli, 'config reloaded') === 2, 'the signalled reload');
    const st = (await (await fetch(`${admin}/api/v1/config`)).json()) as { reloads: { success: number; failure: number }; lastError: unknown };
    assert.deepEqual(st.reloads, { success: 2, failure: 1 });
    assert.equal(st.lastError, null, 'a successful reload clears the last error');
    const missing = await runCli(['reload', '--pid-file', `${pidFile}.none`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such file/);
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
    cli.kill();
    await Promise.all([a.close(), b.close()]);
  }
  const gone = await runCli(['reload', '--pid-file', pidFile]);
  assert.equal(gone.code, 1, 'the pid file is removed on exit');
});

test('watch: true reloads when the file is replaced by a rename; the same content again changes nothing', async () => {
  const a = await seqBackend('a');
  const b = await seqBackend('b');
  const cli = await startCli(config({ a: a.port }, { watch: true }));
  try {
    const next = `${cli.file}.new`;
    writeFileSync(next, JSON.stringify(config({ a: a.port, b: b.port }, { watch: true })));
    renameSync(next, cli.file);
    const line = await cli.waitLog('config reloaded');
    assert.equal(line.trigger, 'watch');
    assert.equal(line.endpointsAdded, 1);
    // The same text written again: no reload (a SIGHUP afterwards is the second one).
    writeFileSync(cli.file, JSON.stringify(config({ a: a.port, b: b.port }, { watch: true })));
    cli.child.kill('SIGHUP');
    await waitFor(() => count(cli, 'config reloaded') >= 2, 'the SIGHUP reload');
    assert.deepEqual(cli.log.filter((r) => r.msg === 'config reloaded').map((r) => r.trigger), ['watch', 'SIGHUP']);
  } finally {
    cli.kill();
    await Promise.all([a.close(), b.close()]);
  }
});

test('quick mode: SIGHUP logs that there is nothing to reload and the proxy keeps running', async () => {
  const { spawn } = await import('node:child_process');
  const { createInterface } = await import('node:readline');
  const a = await seqBackend('a');
  const child = spawn(process.execPath, [CLI, 'run', '--listen', '127.0.0.1:0', '--to', `127.0.0.1:${a.port}`, '--admin', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const msgs: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => msgs.push((JSON.parse(l) as { msg: string }).msg));
  try {
    await waitFor(() => msgs.includes('listening'), 'listening');
    child.kill('SIGHUP');
    await waitFor(() => msgs.some((m) => m.startsWith('nothing to reload')), 'the SIGHUP line');
    assert.equal(child.exitCode, null);
  } finally {
    child.kill('SIGKILL');
    await a.close();
  }
});
