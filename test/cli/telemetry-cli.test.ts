import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { runCli } from '../helpers/cli-process.js';
import { closeSession, connect, h2Request, startH2Backend, type H2Backend } from '../helpers/proxy-harness.js';

const CLI = path.resolve('dist/src/cli/main.js');

const cli = (args: string[]) => runCli(args);

/** A node:http2 backend that answers GET with x-backend and gRPC health checks with SERVING. */
function backend(name: string): Promise<H2Backend> {
  return startH2Backend(name, {
    handler: (stream: http2.ServerHttp2Stream, headers) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        if (headers[':path'] === '/grpc.health.v1.Health/Check') {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-backend': name }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          // HealthCheckResponse { status: SERVING (1) }
          stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
          return;
        }
        stream.respond({ ':status': 200, 'x-backend': name });
        stream.end(`hello from ${name}\n`);
      });
    },
  });
}

test('stat, top, tap and diagnose against a running proxy', async (t) => {
  const backends = await Promise.all(['a', 'b', 'c'].map(backend));
  t.after(async () => {
    for (const b of backends) await b.close();
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-telemetry-cli-'));
  const file = path.join(dir, 'proxy.yaml');
  writeFileSync(file, [
    'admin:',
    '  listen: 127.0.0.1:0',
    'listeners:',
    '  - name: edge',
    '    listen: 127.0.0.1:0',
    '    protocol: http2',
    '    service: web',
    '  - name: l4',
    '    listen: 127.0.0.1:0',
    '    protocol: tcp',
    '    service: web',
    'services:',
    '  - name: web',
    '    balancer: round-robin',
    `    endpoints: [${backends.map((b) => `127.0.0.1:${b.port}`).join(', ')}]`,
    '',
  ].join('\n'));
  const child = spawn(process.execPath, [CLI, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const ports: Record<string, number> = {};
  let adminPort = 0;
  for await (const line of createInterface({ input: child.stdout! })) {
    const rec = JSON.parse(line) as { msg: string; address?: string; listener?: string };
    if (rec.msg === 'admin listening') adminPort = Number(rec.address!.split(':').pop());
    if (rec.msg === 'listening') ports[rec.listener!] = Number(rec.address!.split(':').pop());
    if (ports.edge !== undefined && ports.l4 !== undefined) break;
  }
  assert.ok(adminPort > 0);
  const admin = `127.0.0.1:${adminPort}`;

  // 30 requests, round robin over three endpoints.
  const s = await connect(ports.edge!);
  for (let i = 0; i < 30; i++) assert.equal((await h2Request(s, { ':path': '/hello' })).status, 200);

  const stat = await cli(['stat', '--admin', admin]);
  assert.equal(stat.code, 0, stat.err);
  const lines = stat.out.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+SUCCESS\s+RPS\s+P50\s+P95\s+P99\s+TOTAL\s+SHARE\s+STATE$/);
  assert.match(lines[1]!, /^web\s+100\.00%\s+\S+\s+\S+ms\s+\S+ms\s+\S+ms\s+30\b/);
  for (const b of backends) assert.match(stat.out, new RegExp(`  127\\.0\\.0\\.1:${b.port}\\s+100\\.00%.*\\b10\\s+33% #+\\s+ready`));
  const statJson = await cli(['stat', 'web', '--admin', admin, '--window', '1m', '--json']);
  assert.equal(statJson.code, 0, statJson.err);
  const sj = JSON.parse(statJson.out) as { window: string; services: { total: { requests: number }; endpoints: { requests: number }[] }[] };
  assert.equal(sj.window, '1m');
  assert.equal(sj.services[0]!.total.requests, 30);
  assert.deepEqual(sj.services[0]!.endpoints.map((e) => e.requests), [10, 10, 10]);
  assert.equal((await cli(['stat', 'nosuch', '--admin', admin])).code, 1);
  assert.equal((await cli(['stat', '--admin', admin, '--window', '5m'])).code, 2);

  const top = await cli(['top', '--once', '--by', 'path', '--admin', admin]);
  assert.equal(top.code, 0, top.err);
  assert.match(top.out, /^PATH\s+RPS\s+SUCCESS\s+P50\s+P95\s+P99\s+FAILURES\s+TOTAL\n\/hello\s+\S+\s+100\.00%.*\s0\s+30\n$/);

  // gRPC health checks through the proxy: per request over three backends.
  const grpcDiag = await cli(['diagnose', `http://127.0.0.1:${ports.edge}`, '--grpc', '--requests', '30', '--connections', '3']);
  assert.equal(grpcDiag.code, 0, grpcDiag.out + grpcDiag.err);
  assert.match(grpcDiag.out, /the target balances per request/);
  const top2 = await cli(['top', '--once', '--admin', admin]);
  assert.match(top2.out, /^METHOD\s.*\ngrpc\.health\.v1\.Health\/Check\s+\S+\s+100\.00%.*\s0\s+60\n$/);

  // tap: subscribe, then send traffic once the subscription is in place.
  const tapRun = cli(['tap', '--admin', admin, '--path', '/tapped', '--max', '3']);
  for (let i = 0; i < 500; i++) {
    const st = (await (await fetch(`http://${admin}/api/v1/stats`)).json()) as { tapSubscribers: number };
    if (st.tapSubscribers > 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  for (let i = 0; i < 3; i++) await h2Request(s, { ':path': '/other' });
  for (let i = 0; i < 3; i++) await h2Request(s, { ':path': `/tapped/${i}` });
  const tapped = await tapRun;
  assert.equal(tapped.code, 0, tapped.err);
  const events = tapped.out.trimEnd().split('\n');
  assert.equal(events.length, 3);
  events.forEach((e, i) => assert.match(e, new RegExp(`^\\S+ edge/default web GET /tapped/${i} -> 127\\.0\\.0\\.1:\\d+ status=200 [\\d.]+ms attempts=1 success$`)));
  await closeSession(s);

  // diagnose: the HTTP/2 listener balances every request; the tcp listener pins each connection.
  const perRequest = await cli(['diagnose', `http://127.0.0.1:${ports.edge}/`, '--requests', '60', '--connections', '6']);
  assert.equal(perRequest.code, 0, perRequest.out + perRequest.err);
  assert.match(perRequest.out, /60 requests on 1 connection were spread over 3 backends \([abc]: 20, [abc]: 20, [abc]: 20\); 3 backends seen across 6 connections: the target balances per request\n/);
  const perConnection = await cli(['diagnose', `http://127.0.0.1:${ports.l4}/`, '--requests', '60', '--connections', '6', '--json']);
  assert.equal(perConnection.code, 0, perConnection.out + perConnection.err);
  const pc = JSON.parse(perConnection.out) as { verdict: string; message: string; multi: { backendsPerConnection: number[] } };
  assert.equal(pc.verdict, 'per-connection');
  assert.match(pc.message, /^60 requests on 1 connection all reached 1 backend \([abc]\) out of 3 seen across 6 connections: the target balances per connection; HTTP\/2 clients will pin$/);
  assert.deepEqual(pc.multi.backendsPerConnection, [1, 1, 1, 1, 1, 1]);
  const text = await cli(['diagnose', `http://127.0.0.1:${ports.l4}/`, '--requests', '20', '--connections', '4', '--identify', 'header:x-backend']);
  assert.equal(text.code, 0);
  assert.match(text.out, /balances per connection; HTTP\/2 clients will pin/);
  // Nothing identifies the backend: inconclusive, exit 3.
  const none = await cli(['diagnose', `http://127.0.0.1:${ports.edge}/`, '--requests', '5', '--connections', '2', '--identify', 'header:x-nothing']);
  assert.equal(none.code, 3);
  assert.match(none.out, /did not say which backend answered/);
  assert.equal((await cli(['diagnose'])).code, 2);

  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('tap lines name the failure reason, and a request without one shows none', async () => {
  const { formatTap } = await import('../../src/cli/tap.js');
  const base = {
    time: '2026-01-01T00:00:00.000Z', listener: 'edge', route: 'default', service: 'web', method: 'GET', path: '/x',
    endpoint: '', status: 503, grpcStatus: -1, latencyMs: 3000, attempts: 0, errorCode: 'SWY_ERR_QUEUE_TIMEOUT',
    classification: 'failure', reason: 'queue-timeout',
  } as const;
  assert.equal(
    formatTap(base),
    '2026-01-01T00:00:00.000Z edge/default web GET /x -> (none) status=503 3000.000ms attempts=0 failure reason=queue-timeout SWY_ERR_QUEUE_TIMEOUT',
  );
  assert.doesNotMatch(formatTap({ ...base, status: 200, errorCode: '', classification: 'success', reason: '' }), /reason=/);
});
