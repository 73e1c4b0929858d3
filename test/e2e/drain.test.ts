/**
 * Graceful shutdown of the real `switchyard run` process: SIGTERM while
 * requests are in flight. In-flight requests (HTTP/2 from h2load and
 * node:http2, gRPC server streams from @grpc/grpc-js) must complete, new
 * streams after the final GOAWAY must be refused without touching the others,
 * requests still open at shutdown.drainTimeout are cut at that deadline, and
 * the process exits 0.
 *
 * Backends hold their answers until the proxy has logged "draining", then
 * answer 1.5 s later: every request is in flight across the whole GOAWAY,
 * PING, final GOAWAY sequence (the engine sends its final GOAWAY at most 1 s
 * after the first, PING answered or not).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startCli, type CliProcess } from '../helpers/cli-process.js';
import { track } from '../helpers/request-outcome.js';
import { F, RawPeer, T, frame, goawayCode, hpackLiteral, ping, settingsAck, settings, within } from '../helpers/engine-frames.js';

const MAX_STREAM_ID = 0x7fffffff;
/** How long backends keep requests after the proxy started draining. */
const ANSWER_AFTER_DRAIN_MS = 1500;

// ------------------------------------------------------------------ a backend that answers when told

interface GatedBackend {
  port: number;
  /** Requests whose headers arrived. */
  received: number;
  /** Streams the proxy closed before they were answered. */
  cancelled: number;
  /** Resolves once `n` requests arrived. */
  whenReceived(n: number): Promise<void>;
  /** Resolves once `n` streams were cancelled. */
  whenCancelled(n: number): Promise<void>;
  /** Answers every held request and every later one. */
  release(): void;
  close(): Promise<void>;
}

/** node:http2 backend: GET → 200 "done <path>", POST → 200 with the request body, once released. */
async function startGatedBackend(): Promise<GatedBackend> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const held: Array<() => void> = [];
  let released = false;
  let waiters: Array<() => void> = [];
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const when = (cond: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = (): void => (cond() ? resolve() : void waiters.push(check));
      check();
    });
  const b: GatedBackend = {
    port: 0,
    received: 0,
    cancelled: 0,
    whenReceived: (n) => when(() => b.received >= n),
    whenCancelled: (n) => when(() => b.cancelled >= n),
    release() {
      released = true;
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sessions) s.destroy();
      }),
  };
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    b.received++;
    wake();
    let answered = false;
    stream.on('error', () => {});
    stream.on('close', () => {
      if (!answered) {
        b.cancelled++;
        wake();
      }
    });
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => {
      const answer = (): void => {
        if (stream.destroyed) return;
        answered = true;
        stream.respond({ ':status': 200 });
        stream.end(headers[':method'] === 'POST' ? Buffer.concat(chunks) : `done ${headers[':path']}`);
      };
      if (released) answer();
      else held.push(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as AddressInfo).port;
  return b;
}

function proxyConfig(backendPort: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    log: { level: 'info' },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'slow' }],
    services: [{ name: 'slow', endpoints: [`127.0.0.1:${backendPort}`] }],
    ...extra,
  };
}

/** SIGTERM, then the backend answers ANSWER_AFTER_DRAIN_MS after the proxy logged "draining". Resolves with when the signal was sent. */
async function terminateAndRelease(cli: CliProcess, backend: GatedBackend): Promise<number> {
  const sentAt = performance.now();
  cli.child.kill('SIGTERM');
  await cli.waitLog('draining');
  setTimeout(() => backend.release(), ANSWER_AFTER_DRAIN_MS);
  return sentAt;
}

/** The default drain timeout: a process still running this long after SIGTERM waited for it instead of its connections. */
const DRAIN_TIMEOUT_MS = 30_000;

async function exitsOnceDrained(cli: CliProcess, sentAt: number): Promise<void> {
  assert.equal(await cli.exited, 0, cli.stderr());
  const ms = performance.now() - sentAt;
  assert.ok(ms < DRAIN_TIMEOUT_MS, `exited ${ms.toFixed(0)} ms after SIGTERM: it waited for the drain timeout, not for its connections`);
}

async function setup(t: import('node:test').TestContext, extra: Record<string, unknown> = {}): Promise<{ backend: GatedBackend; cli: CliProcess }> {
  const backend = await startGatedBackend();
  t.after(() => backend.close());
  const cli = await startCli(proxyConfig(backend.port, extra));
  t.after(() => cli.kill());
  return { backend, cli };
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

function connectClient(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// ------------------------------------------------------------------ tests

test('SIGTERM with 20 requests in flight (h2load -n 20 -c 1 -m 20): all 20 complete with 200, exit 0', { timeout: 60_000 }, async (t) => {
  const { backend, cli } = await setup(t);
  const load = run('h2load', ['-n', '20', '-c', '1', '-m', '20', `http://127.0.0.1:${cli.port}/slow`]);
  await backend.whenReceived(20);
  const sentAt = await terminateAndRelease(cli, backend);
  const r = await load;
  assert.match(r.out, /requests: 20 total, 20 started, 20 done, 20 succeeded, 0 failed, 0 errored/, r.out);
  assert.match(r.out, /status codes: 20 2xx/, r.out);
  await exitsOnceDrained(cli, sentAt);
  assert.equal(backend.received, 20);
});

test('SIGTERM with 20 node:http2 streams in flight, uploads still sending: GOAWAY, PING, final GOAWAY; all complete; exit 0', { timeout: 60_000 }, async (t) => {
  const { backend, cli } = await setup(t);
  const session = await connectClient(cli.port);
  t.after(() => session.destroy());
  const goaways: Array<[number, number]> = [];
  let finalGoaway!: () => void;
  const final = new Promise<void>((r) => (finalGoaway = r));
  session.on('goaway', (code: number, lastStreamId: number) => {
    goaways.push([code, lastStreamId]);
    if (lastStreamId !== MAX_STREAM_ID) finalGoaway();
  });
  session.on('error', () => {});
  // 16 GETs and 4 POSTs whose bodies are half sent: the rest goes out after the final GOAWAY.
  const reqs = Array.from({ length: 20 }, (_, i) =>
    i % 5 === 4
      ? track(session, { ':method': 'POST', ':path': `/upload/${i}` }, `first half of ${i};`)
      : track(session, { ':path': `/get/${i}` }),
  );
  await backend.whenReceived(20);
  const lastId = Math.max(...reqs.map((r) => r.req.id!));
  const sentAt = await terminateAndRelease(cli, backend);
  await within(final, 10_000, 'the final GOAWAY');
  for (const [i, r] of reqs.entries()) if (i % 5 === 4) r.req.end(`second half of ${i}`);
  const outcomes = await Promise.all(reqs.map((r) => r.outcome));
  outcomes.forEach((o, i) => {
    assert.deepEqual({ status: o.status, complete: o.complete, rstCode: o.rstCode, error: o.error }, { status: 200, complete: true, rstCode: 0, error: '' }, `request ${i}`);
    assert.equal(o.body.toString(), i % 5 === 4 ? `first half of ${i};second half of ${i}` : `done /get/${i}`);
  });
  // §6.8: first GOAWAY with the largest stream id, the final one with the last stream accepted.
  assert.deepEqual(goaways, [[0, MAX_STREAM_ID], [0, lastId]]);
  await exitsOnceDrained(cli, sentAt);
});

test('a raw client during the drain: streams opened before the PING answer are served, those after the final GOAWAY are refused, the others untouched', { timeout: 60_000 }, async (t) => {
  const { backend, cli } = await setup(t);
  const peer = new RawPeer(cli.port);
  t.after(() => peer.destroy());
  await peer.ready;
  const request = (id: number): Buffer =>
    frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, hpackLiteral([':method', 'GET', ':scheme', 'http', ':path', `/raw/${id}`, ':authority', 'proxy']));
  peer.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), settings([])]));
  await peer.waitFrame((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0, 'SETTINGS');
  peer.write([settingsAck(), request(1), request(3), request(5)]);
  await backend.whenReceived(3);
  cli.child.kill('SIGTERM');
  const first = await peer.waitFrame((f) => f.type === T.GOAWAY, 'the first GOAWAY');
  assert.equal(first.payload.readUInt32BE(0), MAX_STREAM_ID);
  assert.equal(goawayCode(first), 0);
  const drainPing = await peer.waitFrame((f) => f.type === T.PING && (f.flags & F.ACK) === 0, 'the drain PING');
  // In flight before the client heard of the drain: stream 7 arrives before the PING answer.
  peer.write([request(7), ping(drainPing.payload, true)]);
  const final = await peer.waitFrame((f) => f.type === T.GOAWAY && f !== first, 'the final GOAWAY');
  assert.equal(goawayCode(final), 0, `final GOAWAY code ${goawayCode(final)}: ${final.payload.subarray(8).toString()}`);
  assert.equal(final.payload.readUInt32BE(0), 7, 'last stream id of the final GOAWAY');
  // Above the last stream id: not processed (§6.8).
  peer.write(request(9));
  await cli.waitLog('draining');
  setTimeout(() => backend.release(), ANSWER_AFTER_DRAIN_MS);
  await within(peer.waitClose(), 20_000, 'the connection to close');
  const frames = peer.parser.frames;
  for (const id of [1, 3, 5, 7]) {
    assert.ok(frames.some((f) => f.type === T.HEADERS && f.streamId === id), `response headers on ${id}`);
    assert.ok(frames.some((f) => f.type === T.DATA && f.streamId === id && (f.flags & F.END_STREAM) !== 0), `response end on ${id}`);
    assert.ok(!frames.some((f) => f.type === T.RST_STREAM && f.streamId === id), `no reset of ${id}`);
  }
  const on9 = frames.filter((f) => f.streamId === 9);
  assert.ok(on9.every((f) => f.type === T.RST_STREAM && f.payload.readUInt32BE(0) === 7), `stream 9 refused or ignored, got types ${on9.map((f) => f.type)}`);
  assert.deepEqual(frames.filter((f) => f.type === T.GOAWAY).map(goawayCode), [0, 0]);
  assert.equal(backend.received, 4, 'stream 9 never reached the backend');
  assert.equal(await cli.exited, 0, cli.stderr());
});

test('SIGTERM with @grpc/grpc-js server-streaming calls in flight: every call completes with OK and all its messages', { timeout: 60_000 }, async (t) => {
  const def = protoLoader.loadSync(path.resolve('test/fixtures/echo.proto'), { defaults: true });
  const pkg = grpc.loadPackageDefinition(def).test as grpc.GrpcObject;
  const Echo = pkg.Echo as grpc.ServiceClientConstructor;
  const server = new grpc.Server();
  const held: Array<() => void> = [];
  let released = false;
  let started = 0;
  server.addService(Echo.service, {
    // One message at once, four more once released, then OK.
    ServerStream(call: grpc.ServerWritableStream<{ text: string }, { text: string }>) {
      started++;
      call.write({ text: `${call.request.text}-0` });
      const rest = (): void => {
        for (let i = 1; i < 5; i++) call.write({ text: `${call.request.text}-${i}` });
        call.end();
      };
      if (released) rest();
      else held.push(rest);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  t.after(() => server.forceShutdown());
  const cli = await startCli({
    log: { level: 'info' },
    listeners: [{ name: 'grpc', listen: '127.0.0.1:0', protocol: 'http2', service: 'echo' }],
    services: [{ name: 'echo', endpoints: [`127.0.0.1:${port}`] }],
  });
  t.after(() => cli.kill());
  const client = new Echo(`127.0.0.1:${cli.port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const calls = Array.from({ length: 10 }, (_, i) => {
    const call = client.ServerStream({ text: `c${i}` }) as grpc.ClientReadableStream<{ text: string }>;
    const texts: string[] = [];
    const first = new Promise<void>((r) => call.once('data', () => r()));
    call.on('data', (m: { text: string }) => texts.push(m.text));
    call.on('error', () => {});
    const status = new Promise<grpc.StatusObject>((r) => call.on('status', r));
    return { first, status, texts };
  });
  // Every call has its first message: all ten are open on the backend.
  await Promise.all(calls.map((c) => c.first));
  assert.equal(started, 10);
  cli.child.kill('SIGTERM');
  await cli.waitLog('draining');
  setTimeout(() => {
    released = true;
    for (const rest of held.splice(0)) rest();
  }, ANSWER_AFTER_DRAIN_MS);
  const statuses = await Promise.all(calls.map((c) => c.status));
  statuses.forEach((s, i) => {
    assert.equal(s.code, grpc.status.OK, `call ${i}: ${s.code} ${s.details}`);
    assert.deepEqual(calls[i]!.texts, Array.from({ length: 5 }, (_, k) => `c${i}-${k}`));
  });
  assert.equal(await cli.exited, 0, cli.stderr());
});

test('SIGTERM with HTTP/1.1 keep-alive requests in flight: they complete, their connections close after them, the process exits without waiting for the drain timeout', {
  timeout: 60_000,
}, async (t) => {
  const drainMs = 8_000;
  const { backend, cli } = await setup(t, { shutdown: { drainTimeout: `${drainMs}ms` } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  const reqs = Array.from({ length: 4 }, (_, i) =>
    new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: cli.port, path: `/h1/${i}`, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), connection: res.headers.connection }));
        res.on('error', reject);
      });
      req.on('error', reject);
    }),
  );
  await backend.whenReceived(4);
  const sentAt = await terminateAndRelease(cli, backend);
  const out = await Promise.all(reqs);
  out.forEach((o, i) => assert.deepEqual({ status: o.status, body: o.body }, { status: 200, body: `done /h1/${i}` }));
  assert.equal(await cli.exited, 0, cli.stderr());
  const ms = performance.now() - sentAt;
  assert.ok(ms < drainMs, `exited ${ms.toFixed(0)} ms after SIGTERM: idle keep-alive connections held it until the ${drainMs} ms drain timeout`);
});

test('shutdown.drainTimeout: requests still open at the deadline are cut then, not before, and the process exits 0', { timeout: 60_000 }, async (t) => {
  const drainMs = 1000;
  const { backend, cli } = await setup(t, { shutdown: { drainTimeout: `${drainMs}ms` } });
  const session = await connectClient(cli.port);
  t.after(() => session.destroy());
  session.on('error', () => {});
  const reqs = Array.from({ length: 5 }, (_, i) => track(session, { ':path': `/never/${i}` }));
  await backend.whenReceived(5);
  const t0 = performance.now();
  cli.child.kill('SIGTERM');
  // The backend never answers.
  const outcomes = await Promise.all(reqs.map((r) => r.outcome));
  const code = await cli.exited;
  const exitedAt = performance.now();
  for (const [i, o] of outcomes.entries()) {
    assert.equal(o.complete, false, `request ${i} did not complete`);
    assert.notEqual(o.status, 200, `request ${i} got no answer`);
    // The proxy cannot have started draining before the signal was sent.
    assert.ok(o.at - t0 >= drainMs, `request ${i} was cut ${(o.at - t0).toFixed(0)} ms after SIGTERM, before the ${drainMs} ms drain timeout`);
  }
  assert.ok(exitedAt - t0 >= drainMs);
  assert.equal(code, 0, cli.stderr());
  // The upstream streams were cancelled too.
  await within(backend.whenCancelled(5), 10_000, 'the backend streams to close');
});
