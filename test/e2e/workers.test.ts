/**
 * `switchyard run --workers 2` as real processes: the primary's admin port
 * answers for both workers (sums, merged histograms, the tap of both,
 * readiness), a worker killed with SIGKILL is replaced while the port keeps
 * serving, and SIGHUP reaches the workers without ending the primary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { closeSession, connect, h2Request, startH2Backend } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';
import { samples, sum, tap } from '../telemetry/harness.js';

interface Stats {
  listeners: { requests: number; total: { requests: number }; latencyMs: { p99: number | null } }[];
  services: { endpoints: { workers: { worker: number; state: string; totalRequests: number }[] }[] }[];
  workers: { worker: number; pid: number; totalRequests: number }[];
  missingWorkers: { worker: number; reason: string }[];
}

async function startWorkers(t: import('node:test').TestContext): Promise<{ proc: CliProcess; admin: string; backendPort: number }> {
  const backend = await startH2Backend('a');
  t.after(() => backend.close());
  const proc = await startCli(
    {
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
      services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
    },
    ['--workers', '2'],
  );
  t.after(() => proc.kill());
  const admin = `http://${String((await proc.waitLog('admin listening')).address)}`;
  // Each worker logs "listening" after it told the primary it serves.
  await waitFor(() => proc.log.filter((r) => r.msg === 'listening').length >= 2, 'both workers listening');
  return { proc, admin, backendPort: backend.port };
}

/**
 * One new client connection carrying `n` requests (cluster hands each new
 * connection to the next worker); a connection not answered within 1.5 s fails.
 */
async function requestsOnNewConnection(port: number, n: number): Promise<number> {
  const s = await connect(port);
  const timer = setTimeout(() => s.destroy(new Error('no answer within 1.5 s')), 1500);
  try {
    let ok = 0;
    for (let i = 0; i < n; i++) if ((await h2Request(s, { ':path': `/r${i}` })).status === 200) ok++;
    return ok;
  } finally {
    clearTimeout(timer);
    await closeSession(s);
  }
}

async function get(url: string): Promise<{ status: number; headers: Headers; body: string }> {
  const r = await fetch(url);
  return { status: r.status, headers: r.headers, body: await r.text() };
}

test('workers: the primary admin port adds up both workers: request counts, merged histograms, tap, readiness, relayed routes', async (t) => {
  const { proc, admin } = await startWorkers(t);
  // Rounds of 10 requests on a new connection each, until both workers served some (round robin: two rounds).
  let sent = 0;
  let stats: Stats | undefined;
  for (let round = 0; round < 20; round++) {
    sent += await requestsOnNewConnection(proc.port, 10);
    if (round < 1) continue;
    stats = JSON.parse((await get(`${admin}/api/v1/stats`)).body) as Stats;
    if (stats.workers.length === 2 && stats.workers.every((w) => w.totalRequests > 0)) break;
  }
  assert.ok(stats !== undefined);
  assert.deepEqual(stats.workers.map((w) => w.worker), [0, 1]);
  assert.ok(stats.workers.every((w) => w.totalRequests > 0), JSON.stringify(stats.workers));
  assert.equal(sum(stats.workers.map((w) => ({ value: w.totalRequests }))), sent);
  assert.equal(stats.listeners[0]!.requests, sent);
  assert.equal(stats.listeners[0]!.total.requests, sent);
  assert.ok(stats.listeners[0]!.latencyMs.p99! > 0);
  assert.deepEqual(stats.missingWorkers, []);
  const perWorker = stats.services[0]!.endpoints[0]!.workers;
  assert.deepEqual(perWorker.map((w) => [w.worker, w.state]), [[0, 'ready'], [1, 'ready']]);

  const metrics = await get(`${admin}/metrics`);
  assert.equal(metrics.status, 200);
  assert.equal(metrics.headers.get('x-switchyard-workers-missing'), null);
  assert.equal(sum(samples(metrics.body, 'switchyard_requests_total')), sent);
  assert.equal(sum(samples(metrics.body, 'switchyard_request_duration_seconds_count')), sent);
  assert.equal(sum(samples(metrics.body, 'switchyard_request_duration_seconds_bucket', { le: '+Inf' })), sent);
  assert.equal(sum(samples(metrics.body, 'switchyard_workers', { state: 'serving' })), 2);
  assert.equal(sum(samples(metrics.body, 'switchyard_workers_scraped')), 2);
  // Every worker sees the endpoint ready: the state gauge counts workers.
  assert.equal(sum(samples(metrics.body, 'switchyard_endpoint_state', { state: 'ready' })), 2);

  const ready = await get(`${admin}/ready`);
  assert.equal(ready.status, 200, ready.body);
  assert.equal((await get(`${admin}/live`)).status, 200);
  const dashboard = await get(`${admin}/dashboard`);
  assert.equal(dashboard.status, 200);
  assert.match(dashboard.body, /api\/v1\/stats/);
  const topology = JSON.parse((await get(`${admin}/api/v1/topology`)).body) as { workers: unknown[]; services: { endpoints: { state: string }[] }[] };
  assert.equal(topology.workers.length, 2);
  assert.equal(topology.services[0]!.endpoints[0]!.state, 'ready');

  // The tap: events of both workers, each tagged with its worker.
  const c = await tap(admin, '');
  t.after(() => c.close());
  for (let round = 0; round < 20 && new Set(c.events.map((e) => e.worker)).size < 2; round++) {
    await requestsOnNewConnection(proc.port, 2);
    await c.waitFor((round + 1) * 2);
  }
  assert.deepEqual([...new Set(c.events.map((e) => e.worker as number))].sort(), [0, 1]);
  c.close();

  // Routes the primary does not merge are the workers' own: a read from worker 0, a change to every worker.
  const read = await get(`${admin}/api/v1/no-such-route`);
  assert.equal(read.status, 404);
  assert.equal(read.headers.get('x-switchyard-worker'), '0');
  const change = await fetch(`${admin}/api/v1/no-such-route`, { method: 'POST', body: '{}' });
  assert.equal(change.status, 404);
  assert.equal(change.headers.get('x-switchyard-workers'), '0=404, 1=404');
  await change.text();

  // SIGHUP is passed on to each worker; neither the primary nor a worker ends.
  const pids = stats.workers.map((w) => w.pid);
  proc.child.kill('SIGHUP');
  const passed = await proc.waitLog('passing the signal to the workers');
  assert.deepEqual(passed.workers, pids);
  const after = JSON.parse((await get(`${admin}/api/v1/stats`)).body) as Stats;
  assert.deepEqual(after.workers.map((w) => w.pid), pids);
  assert.equal(await requestsOnNewConnection(proc.port, 2), 2);

  proc.child.kill('SIGTERM');
  assert.equal(await proc.exited, 0);
});

test('workers: a stopped worker is left out of admin answers after the timeout; a killed one is replaced and every connection started once the primary noticed is served', async (t) => {
  const { proc, admin } = await startWorkers(t);
  const before = JSON.parse((await get(`${admin}/api/v1/stats`)).body) as Stats;
  const [w0, w1] = before.workers;
  assert.ok(w0 !== undefined && w1 !== undefined);

  // A worker that cannot answer (stopped) costs the admin port the timeout, not a hang.
  process.kill(w0.pid, 'SIGSTOP');
  try {
    const [metrics, ready] = await Promise.all([get(`${admin}/metrics`), get(`${admin}/ready`)]);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('x-switchyard-workers-missing') ?? '', /^0 \(no answer within 1000 ms\)$/);
    assert.equal(sum(samples(metrics.body, 'switchyard_workers_scraped')), 1);
    assert.equal(ready.status, 503);
    assert.equal(ready.body, 'not ready: worker 0: no answer within 1000 ms\n');
  } finally {
    process.kill(w0.pid, 'SIGCONT');
  }

  // A client connecting again and again while worker 1 is killed.
  let stop = false;
  let served = 0;
  let killedAt = 0;
  let noticedAt = Infinity;
  const failures: { started: number; message: string }[] = [];
  const client = (async () => {
    while (!stop) {
      const started = performance.now();
      try {
        served += await requestsOnNewConnection(proc.port, 1);
      } catch (e) {
        failures.push({ started, message: (e as Error).message });
      }
    }
  })();
  t.after(async () => {
    stop = true;
    await client;
  });
  await waitFor(() => served >= 10, 'traffic before the kill');
  killedAt = performance.now();
  process.kill(w1.pid, 'SIGKILL');
  const exited = await proc.waitLog('worker exited; starting another');
  noticedAt = performance.now();
  assert.equal(exited.worker, 1);
  assert.equal(exited.signal, 'SIGKILL');
  const atExit = served;
  // The replacement comes up (a third "listening" line) while the port keeps serving.
  await waitFor(() => proc.log.filter((r) => r.msg === 'listening').length >= 3, 'the replacement listening', 10_000);
  await waitFor(() => served >= atExit + 20, 'traffic after the replacement');
  stop = true;
  await client;
  // Lost: the connection the killed worker was serving, and any the primary handed it in the
  // milliseconds before it noticed the exit (node:cluster hands connections over IPC). Every
  // connection started once the primary had noticed was served; the port never refused one.
  const late = failures.filter((f) => f.started >= noticedAt || /ECONNREFUSED/.test(f.message));
  assert.deepEqual(late, [], `failures ${JSON.stringify(failures.map((f) => ({ ...f, started: f.started - killedAt })))}`);
  assert.ok(failures.length <= 3, `${failures.length} connections lost around the kill`);

  const stats = JSON.parse((await get(`${admin}/api/v1/stats`)).body) as Stats;
  assert.deepEqual(stats.workers.map((w) => w.worker), [0, 1]);
  assert.equal(stats.workers[0]!.pid, w0.pid);
  assert.notEqual(stats.workers[1]!.pid, w1.pid);
  const metrics = await get(`${admin}/metrics`);
  assert.equal(sum(samples(metrics.body, 'switchyard_worker_restarts_total')), 1);
  assert.equal(sum(samples(metrics.body, 'switchyard_workers', { state: 'serving' })), 2);
  assert.equal((await get(`${admin}/ready`)).status, 200);
  proc.child.kill('SIGTERM');
  assert.equal(await proc.exited, 0);
});
