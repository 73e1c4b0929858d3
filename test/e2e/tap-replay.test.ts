import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, startCli } from '../helpers/cli-process.js';
import { closeSession, connect, h2Request, startH2Backend, type H2Backend } from '../helpers/proxy-harness.js';
import { SeededRandom } from '../../src/balancing/random-source.js';
import { parseRecording } from '../../src/balancing/simulation/replay-recording.js';

/** Seconds of traffic recorded (the suite keeps it short; the same test measures a minute with REPLAY_RECORD_SECONDS=60). */
const SECONDS = Number(process.env.REPLAY_RECORD_SECONDS ?? 6);
/** Callers, each sending its next request when the previous one is answered. */
const CLIENTS = 8;

const cli = (args: string[]) => runCli(args, (SECONDS + 60) * 1000);

/** A backend answering after a seeded delay uniform in [0.5, 1.5] × meanMs. */
function delayed(name: string, meanMs: number, seed: number): Promise<H2Backend> {
  const random = new SeededRandom(seed);
  return startH2Backend(name, {
    handler: (stream: http2.ServerHttp2Stream) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        setTimeout(
          (s: http2.ServerHttp2Stream) => {
            if (s.destroyed) return;
            s.respond({ ':status': 200, 'x-backend': name });
            s.end('ok\n');
          },
          meanMs * (0.5 + random.next()),
          stream,
        );
      });
    },
  });
}

interface ReplayJson {
  livePolicy: string;
  load: { mode: string; clients: number };
  endpoints: { id: string; share: number; requests: number }[];
  results: { policy: string; groups: { share: number }[] }[];
}

test('a recording of live traffic replayed under the default policy gives each endpoint its live share within 5 points', async (t) => {
  const backends = [await delayed('fast', 10, 1), await delayed('slower', 20, 2), await delayed('slowest', 50, 3)];
  const proxy = await startCli({
    admin: { listen: '127.0.0.1:0' },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    // No `balancer`: the default policy.
    services: [{ name: 'web', endpoints: backends.map((b) => `127.0.0.1:${b.port}`) }],
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-tap-replay-'));
  t.after(async () => {
    proxy.kill();
    for (const b of backends) await b.close();
    if (process.env.REPLAY_KEEP === undefined) rmSync(dir, { recursive: true, force: true }); else t.diagnostic(dir);
  });
  const adminLog = await proxy.waitLog('admin listening');
  const admin = `127.0.0.1:${String(adminLog.address).split(':').pop()}`;
  const file = path.join(dir, 'web.jsonl');

  const recorder = cli(['tap', '--record', file, '--duration', `${SECONDS}s`, '--admin', admin, '--service', 'web']);
  let recorded = false;
  void recorder.then(() => (recorded = true));
  // Traffic starts once the recorder's subscription is in place (however long a busy machine takes to start
  // the recorder: the wait ends when it subscribed or exited, and runCli bounds its life).
  let subscribed = false;
  while (!recorded) {
    const st = (await (await fetch(`http://${admin}/api/v1/stats`)).json()) as { tapSubscribers: number };
    if (st.tapSubscribers > 0) {
      subscribed = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(subscribed, 'the recorder subscribed to the tap');

  const session = await connect(proxy.port);
  let sent = 0;
  let failed = 0;
  // Bounded: at most 1000 requests a second of recording, whatever the machine's speed.
  const limit = SECONDS * 1000;
  const caller = async (): Promise<void> => {
    while (!recorded && sent < limit) {
      sent++;
      const r = await h2Request(session, { ':path': '/work' });
      if (r.status !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, caller));
  const rec = await recorder;
  await closeSession(session);
  assert.equal(rec.code, 0, rec.err);
  assert.equal(failed, 0);
  assert.match(rec.out, /^recorded \d+ requests in [\d.]+s of web \(peak-ewma, 3 endpoints\) to /);

  const recording = parseRecording(readFileSync(file, 'utf8'));
  assert.equal(recording.header.services[0]!.policy, 'peak-ewma');
  assert.deepEqual(recording.header.services[0]!.endpoints.map((e) => e.id), backends.map((b) => `127.0.0.1:${b.port}`));
  assert.equal(recording.end?.dropped, 0);
  assert.equal(recording.end?.requests, recording.requests.length);
  assert.ok(recording.requests.length >= 500, `${recording.requests.length} requests recorded`);
  assert.ok(recording.requests.every((r) => r.o === 'success' && r.st === 200));

  // The callers are a closed loop, and the replay is told so: whether the recording alone shows it depends on
  // how fast this process turns an answer into the next request (on a busy machine the callers' think time
  // grows to a good part of a request's duration, and the level of 8 in flight is held under half the time).
  // The classification has its own tests (test/balancing/replay.test.ts).
  const json = await cli(['simulate', '--replay', file, '--loop', 'closed', '--json']);
  assert.equal(json.code, 0, json.err);
  const replay = JSON.parse(json.out) as ReplayJson;
  assert.equal(replay.livePolicy, 'peak-ewma');
  assert.equal(replay.load.mode, 'closed');
  // The most common level in flight: all callers, or fewer when their think time is long.
  assert.ok(replay.load.clients >= 1 && replay.load.clients <= CLIENTS, String(replay.load.clients));
  const sim = replay.results.find((r) => r.policy === 'peak-ewma')!;
  const live = replay.endpoints.map((e) => e.share);
  const simulated = sim.groups.map((g) => g.share);
  const fmt = (xs: number[]): string => xs.map((x) => `${(x * 100).toFixed(1)}%`).join(' / ');
  t.diagnostic(`${recording.requests.length} requests in ${SECONDS}s; fast/slower/slowest live ${fmt(live)}, simulated ${fmt(simulated)}`);
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(live[i]! - simulated[i]!) <= 0.05, `${backends[i]!.name}: live ${fmt(live)} vs simulated ${fmt(simulated)}`);
  }
  // The latency-aware default sends the fast backend more than the slowest.
  assert.ok(live[0]! > live[2]!);

  const table = await cli(['simulate', '--replay', file, '--loop', 'closed', '--policies', 'peak-ewma,round-robin']);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^replay of web: 3 endpoints, \d+ requests, seed 1\nclosed loop: [1-8] clients?/);
  assert.match(table.out, /\npeak-ewma \*\s+[\d.]+%\s+[\d.]+%\s+[\d.]+%\s+\S+\s+\S+\s+0 \(0\.0%\)\n  live\s+[\d.]+%/);
  assert.match(table.out, /\nround-robin\s+3\d\.\d%\s+3\d\.\d%\s+3\d\.\d%/);
});
