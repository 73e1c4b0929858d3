/**
 * Failure paths between the proxy and real upstream peers: a backend that
 * resets mid-response, a client that cancels mid-upload, a backend that sends
 * GOAWAY while an upload is streaming (resent below the 64 KiB replay limit,
 * failed cleanly above it), hedging + retries + deadlines against seeded
 * misbehaving backends, and the telemetry of retried requests. After each,
 * the proxy must be usable and hold no request, retry or load record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { acceptHttp2, IGNORE_STREAM, type ConnectionHandler, type Http2Connection, type Http2Stream } from '../../src/http2/index.js';
import * as grpc from '@grpc/grpc-js';
import { parseConfig } from '../../src/config/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { AdminServer } from '../../src/telemetry/admin-server.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';
import { echoClient, type EchoMessage } from '../helpers/grpc-echo.js';
import { mulberry32, seededBytes, within } from '../helpers/engine-frames.js';
import { closeSession, connect, h2Request, startProxy, waitReady, runConcurrently, type RunningProxy } from '../helpers/proxy-harness.js';
import { grpcFrame } from '../helpers/raw-grpc-backend.js';
import { track, trackH1 } from '../helpers/request-outcome.js';
import { getText, samples, sum } from '../telemetry/harness.js';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;

// ------------------------------------------------------------------ a scriptable node:http2 backend

interface Backend {
  name: string;
  port: number;
  /** Streams that arrived, by path. */
  paths: string[];
  close(): Promise<void>;
}

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, b: Backend) => void;

async function startBackend(name: string, handler: Handler): Promise<Backend> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  const b: Backend = {
    name,
    port: 0,
    paths: [],
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sessions) s.destroy();
      }),
  };
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    b.paths.push(String(headers[':path']));
    handler(stream, headers, b);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as AddressInfo).port;
  return b;
}

/** 200 "hello from NAME" once the request ended; POST bodies are echoed. */
function answer(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, name: string): void {
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  stream.on('end', () => {
    if (stream.destroyed) return;
    const body = Buffer.concat(chunks);
    stream.respond({ ':status': 200, 'x-backend': name, 'x-request-bytes': String(body.length) });
    stream.end(headers[':method'] === 'POST' ? body : `hello from ${name}\n`);
  });
}

/** Nothing held: no request in flight, no retry waiting, every endpoint's load record released. */
function assertQuiet(p: RunningProxy | { proxy: Proxy }, service = 'web'): void {
  const s = p.proxy.services.get(service)!;
  assert.equal(s.inflight, 0, `${service}: requests in flight`);
  assert.equal(s.retriesInFlight, 0, `${service}: retries in flight`);
  for (const ep of s.endpoints) assert.equal(ep.load.pending, 0, `${ep.id}: pending load records`);
}

/** The proxy still serves: `n` plain requests on a session, all 200. */
async function assertUsable(session: http2.ClientHttp2Session, n = 5): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal((await h2Request(session, { ':path': '/ok' })).status, 200);
}

function event<V = void>(): { promise: Promise<V>; fire: (v: V) => void } {
  let fire!: (v: V) => void;
  const promise = new Promise<V>((r) => (fire = r));
  return { promise, fire };
}

// ------------------------------------------------------------------ upstream reset mid-response

/**
 * A backend for resets mid-response, on the project's own engine: node:http2
 * decides by itself whether a close() after a write ends the stream first
 * (Node 24 does), while the engine writes exactly the frames asked for.
 * /cut?code=N: headers, 32 KiB of DATA (or one gRPC message), then
 * RST_STREAM with code N in the same write. /cut-later: headers and DATA, and
 * the reset only when the test calls cutHeld() (after its client saw the
 * first bytes). Anything else: 200 "hello from cut" once the request ended.
 */
async function startCuttingBackend(): Promise<Backend & { cutHeld(): void }> {
  const held: Http2Stream[] = [];
  const conns = new Set<Http2Connection>();
  const b: Backend & { cutHeld(): void } = {
    name: 'cut',
    port: 0,
    paths: [],
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const c of conns) c.destroy();
      }),
    cutHeld() {
      for (const s of held.splice(0)) s.reset(NGHTTP2_INTERNAL_ERROR);
    },
  };
  const handler: ConnectionHandler = {
    onStream(_c, stream, headers, endStream) {
      const path = headerValue(headers, ':path');
      b.paths.push(path);
      const grpcCall = headerValue(headers, 'content-type').startsWith('application/grpc');
      if (!path.startsWith('/cut') && !path.startsWith('/test.Echo/')) {
        const reply = (): void => {
          stream.respond([':status', '200', 'x-backend', 'cut'], false);
          stream.sendData(Buffer.from('hello from cut\n'), true);
        };
        if (endStream) reply();
        else stream.handler = { ...IGNORE_STREAM, onData: (s, d, end) => { s.consume(d.length); if (end) reply(); } };
        return;
      }
      stream.handler = IGNORE_STREAM;
      const code = Number(new URL(path, 'http://x').searchParams.get('code') ?? NGHTTP2_INTERNAL_ERROR);
      stream.respond([':status', '200', 'content-type', grpcCall ? 'application/grpc' : 'application/octet-stream'], false);
      if (grpcCall) {
        stream.sendData(grpcFrame('first'), false);
      } else {
        // Two frames' worth within the windows, so both leave before the reset.
        stream.sendData(Buffer.alloc(16 * 1024, 0x61), false);
        stream.sendData(Buffer.alloc(16 * 1024, 0x61), false);
      }
      if (path.startsWith('/cut-later')) held.push(stream);
      else stream.reset(grpcCall ? NGHTTP2_INTERNAL_ERROR : code);
    },
    onClose(c) {
      conns.delete(c);
    },
  };
  const server = net.createServer((socket) => {
    const c = acceptHttp2(socket, handler);
    conns.add(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as AddressInfo).port;
  return b;
}

function headerValue(headers: readonly string[], name: string): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1]!;
  return '';
}

async function cuttingSetup(t: import('node:test').TestContext) {
  const backend = await startCuttingBackend();
  t.after(() => backend.close());
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'web' }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(() => p.stop());
  await waitReady(p);
  const session = await connect(p.port());
  t.after(() => closeSession(session));
  return { backend, p, session };
}

test('upstream RST_STREAM after some DATA: HTTP/2 clients see the reset, HTTP/1.1 a truncated response, gRPC INTERNAL; the proxy stays usable', { timeout: 60_000 }, async (t) => {
  const { backend, p, session } = await cuttingSetup(t);

  // Whatever the upstream's code, the client sees INTERNAL_ERROR: the response it was given is broken.
  // (A CANCEL from node:http2 is not tried: node ends the stream before that reset.)
  for (const [code, expected] of [[NGHTTP2_INTERNAL_ERROR, NGHTTP2_INTERNAL_ERROR], [NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INTERNAL_ERROR]] as const) {
    const o = await track(session, { ':path': `/cut?code=${code}` }).outcome;
    assert.equal(o.status, 200, `code ${code}: the response had started`);
    assert.equal(o.complete, false, `code ${code}: not a complete response`);
    assert.equal(o.rstCode, expected, `code ${code}: reset with ${o.rstCode}`);
    assert.ok(o.body.length <= 32 * 1024);
    assertQuiet(p);
    await assertUsable(session);
  }

  // HTTP/1.1: the reset comes once the client has the first bytes; the response then stops short.
  const h1 = trackH1(p.port(), { path: '/cut-later' });
  h1.req.once('response', (res) => res.once('data', () => backend.cutHeld()));
  const o1 = await h1.outcome;
  assert.equal(o1.status, 200);
  assert.equal(o1.complete, false, 'HTTP/1.1: the response is cut short');
  assert.notEqual(o1.error, '');
  assert.ok(o1.body.length > 0 && o1.body.length <= 32 * 1024);
  assertQuiet(p);

  const client = echoClient(p.port());
  t.after(() => client.close());
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    const call = client.ServerStream({ text: 'x', count: 3 }) as grpc.ClientReadableStream<EchoMessage>;
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', resolve);
  });
  assert.equal(status.code, grpc.status.INTERNAL, `gRPC: ${status.code} ${status.details}`);
  assertQuiet(p);
  await assertUsable(session);
  assertQuiet(p);
});

test('HTTP/1.1 client, upstream headers + DATA + RST_STREAM in one read: the client gets the truncated response, not a bare connection reset', {
  timeout: 60_000,
}, async (t) => {
  const { p, session } = await cuttingSetup(t);
  const o = await trackH1(p.port(), { path: '/cut' }).outcome;
  assertQuiet(p);
  await assertUsable(session);
  assert.equal(o.complete, false);
  assert.equal(o.status, 200, `the client saw ${o.status === 0 ? `no response at all (${o.error})` : o.status}`);
});

// ------------------------------------------------------------------ client cancel mid-upload

test('a client that cancels while its body is still streaming: the upstream stream is cancelled (HTTP/2, HTTP/1.1, gRPC), the proxy stays usable', { timeout: 60_000 }, async (t) => {
  // Uploads are read and never answered; the test learns how each upstream stream ended.
  const uploads: Array<{ bytes: number; aborted: boolean; rstCode: number; closed: boolean }> = [];
  let changed = (): void => {};
  const backend = await startBackend('sink', (stream, headers, b) => {
    if (headers[':method'] !== 'POST') return answer(stream, headers, b.name);
    const u = { bytes: 0, aborted: false, rstCode: -1, closed: false };
    uploads.push(u);
    stream.on('data', (d: Buffer) => {
      u.bytes += d.length;
      changed();
    });
    stream.on('aborted', () => (u.aborted = true));
    stream.on('close', () => {
      u.closed = true;
      u.rstCode = stream.rstCode ?? -1;
      changed();
    });
  });
  t.after(() => backend.close());
  const until = (cond: () => boolean): Promise<void> =>
    within(new Promise<void>((resolve) => {
      const check = (): void => {
        if (cond()) {
          changed = () => {};
          resolve();
        } else {
          changed = check;
        }
      };
      check();
    }), 10_000, 'the backend');
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'web' }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(() => p.stop());
  await waitReady(p);
  const session = await connect(p.port());
  t.after(() => closeSession(session));

  // HTTP/2: RST_STREAM CANCEL from the client.
  const up = track(session, { ':method': 'POST', ':path': '/upload' }, seededBytes(100_000, 1));
  await until(() => uploads.length === 1 && uploads[0]!.bytes >= 100_000);
  up.req.close(NGHTTP2_CANCEL);
  await up.outcome;
  await until(() => uploads[0]!.closed);
  assert.deepEqual({ aborted: uploads[0]!.aborted, rstCode: uploads[0]!.rstCode }, { aborted: true, rstCode: NGHTTP2_CANCEL });
  assertQuiet(p);
  await assertUsable(session);

  // HTTP/1.1: the client closes its connection in the middle of a chunked body.
  const h1 = trackH1(p.port(), { method: 'POST', path: '/upload', headers: { 'transfer-encoding': 'chunked' } }, seededBytes(50_000, 2));
  await until(() => uploads.length === 2 && uploads[1]!.bytes >= 50_000);
  h1.req.destroy();
  await h1.outcome;
  await until(() => uploads[1]!.closed);
  assert.deepEqual({ aborted: uploads[1]!.aborted, rstCode: uploads[1]!.rstCode }, { aborted: true, rstCode: NGHTTP2_CANCEL });
  assertQuiet(p);

  // gRPC client streaming, cancelled after two messages.
  const client = echoClient(p.port());
  t.after(() => client.close());
  const status = event<grpc.StatusObject>();
  const call = client.ClientStream(() => {}) as grpc.ClientWritableStream<EchoMessage>;
  call.on('status', status.fire);
  call.write({ payload: Buffer.alloc(10_000, 1) });
  call.write({ payload: Buffer.alloc(10_000, 2) });
  await until(() => uploads.length === 3 && uploads[2]!.bytes >= 20_000);
  call.cancel();
  assert.equal((await status.promise).code, grpc.status.CANCELLED);
  await until(() => uploads[2]!.closed);
  assert.deepEqual({ aborted: uploads[2]!.aborted, rstCode: uploads[2]!.rstCode }, { aborted: true, rstCode: NGHTTP2_CANCEL });
  assertQuiet(p);
  await assertUsable(session);
});

// ------------------------------------------------------------------ upstream GOAWAY during an upload

interface GoawayPlan {
  /** Bytes of the upload to receive before sending GOAWAY. */
  after: number;
  /** Fires with the name of the backend that sent it. */
  sent: { promise: Promise<string>; fire: (name: string) => void };
}

test('upstream GOAWAY below an upload\'s stream id: resent to another endpoint within the 64 KiB replay limit, 502 / UNAVAILABLE beyond it', { timeout: 60_000 }, async (t) => {
  let plan: GoawayPlan | undefined;
  // The first upload to arrive, once `plan.after` bytes are in, gets a GOAWAY whose
  // last-stream-id is below its own: it "was not processed" (RFC 9113 §6.8) and is never answered.
  const handler: Handler = (stream, headers, b) => {
    if (headers[':method'] !== 'POST') return answer(stream, headers, b.name);
    const grpcCall = String(headers['content-type']).startsWith('application/grpc');
    const chunks: Buffer[] = [];
    let bytes = 0;
    let refused = false;
    stream.on('data', (d: Buffer) => {
      chunks.push(d);
      bytes += d.length;
      const pl = plan;
      if (pl !== undefined && !refused && bytes >= pl.after) {
        plan = undefined;
        refused = true;
        // node:http2 turns a last-stream-id of 0 into the last stream it processed: the
        // upload must not be the connection's first stream (warmUp below sees to that).
        assert.ok(stream.id! >= 3, `the upload is on stream ${stream.id}`);
        stream.session!.goaway(NGHTTP2_NO_ERROR, stream.id! - 2);
        pl.sent.fire(b.name);
      }
    });
    stream.on('end', () => {
      if (refused || stream.destroyed) return;
      const body = Buffer.concat(chunks);
      if (grpcCall) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-backend': b.name }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(grpcFrame(`${b.name}:${body.length}`));
      } else {
        stream.respond({ ':status': 200, 'x-backend': b.name });
        stream.end(body);
      }
    });
  };
  const a = await startBackend('a', handler);
  const b = await startBackend('b', handler);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] }],
  });
  t.after(() => p.stop());
  await waitReady(p);
  const session = await connect(p.port());
  t.after(() => closeSession(session));
  /** Every endpoint ready, and each one's connection past its first stream (round robin over two: two requests, one each). */
  const warmUp = async (): Promise<void> => {
    await waitReady(p);
    await assertUsable(session, 2);
  };
  const arm = (after: number): GoawayPlan => (plan = { after, sent: event<string>() });

  // 20 KB sent before the GOAWAY, 20 KB after: all of it fits the replay buffer.
  {
    const body = seededBytes(40_000, 3);
    await warmUp();
    const pl = arm(20_000);
    const up = track(session, { ':method': 'POST', ':path': '/upload/small' }, body.subarray(0, 20_000));
    const refusedBy = await within(pl.sent.promise, 10_000, 'the GOAWAY');
    up.req.end(body.subarray(20_000));
    const o = await up.outcome;
    assert.equal(o.status, 200, `resent upload: ${o.status} ${o.error} ${o.rstCode}`);
    assert.notEqual(o.headers['x-backend'], refusedBy, 'answered by the other endpoint');
    assert.ok(o.body.equals(body), 'the whole body reached it, replayed part first');
    assertQuiet(p);
    await assertUsable(session);
  }

  // 100 KB before the GOAWAY: more than the 64 KiB replay buffer, so it cannot be resent.
  {
    await warmUp();
    const pl = arm(80_000);
    const before = [a.paths.length, b.paths.length];
    const up = track(session, { ':method': 'POST', ':path': '/upload/big' }, seededBytes(100_000, 4));
    await within(pl.sent.promise, 10_000, 'the GOAWAY');
    const o = await up.outcome;
    assert.equal(o.status, 502);
    assert.equal(o.headers['switchyard-error'], 'SWY_ERR_UPSTREAM_RESET');
    assert.equal(a.paths.length + b.paths.length, before[0]! + before[1]! + 1, 'not sent anywhere else');
    assertQuiet(p);
    await assertUsable(session);
  }

  // gRPC client streaming: 3 messages of 12,008 octets framed (36,024 in all), the GOAWAY after two.
  const client = echoClient(p.port());
  t.after(() => client.close());
  const clientStream = (messages: number, goawayAfter: number): Promise<{ err: grpc.ServiceError | null; reply: EchoMessage | undefined; refusedBy: string }> => {
    const pl = arm(goawayAfter);
    return new Promise((resolve) => {
      let refusedBy = '';
      const call = client.ClientStream((err: grpc.ServiceError | null, reply?: EchoMessage) => resolve({ err, reply, refusedBy })) as grpc.ClientWritableStream<EchoMessage>;
      for (let i = 0; i < messages - 1; i++) call.write({ payload: Buffer.alloc(12_000, i) });
      void pl.sent.promise.then((name) => {
        refusedBy = name;
        call.write({ payload: Buffer.alloc(12_000, messages) });
        call.end();
      });
    });
  };
  {
    await warmUp();
    const r = await within(clientStream(3, 24_016), 10_000, 'the small gRPC upload');
    assert.equal(r.err, null, String(r.err?.message));
    const [by, bytes] = r.reply!.text!.split(':');
    assert.notEqual(by, r.refusedBy, 'answered by the other endpoint');
    assert.equal(bytes, '36024', 'every message arrived');
    assertQuiet(p);
  }
  {
    await warmUp();
    const r = await within(clientStream(8, 80_000), 10_000, 'the big gRPC upload');
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE, String(r.err?.message));
    assertQuiet(p);
  }
  await assertUsable(session);
});

// ------------------------------------------------------------------ hedging + retries + deadlines

test('hedging, retries and deadlines together against seeded slow and failing backends: every call ends by its deadline; nothing is left held', { timeout: 120_000 }, async (t) => {
  const ROUTE_TIMEOUT_MS = 400;
  // Seeded behaviour per arriving request: fast, slow, 503, reset before or after the headers, or no answer at all.
  const behave = (rnd: () => number): Handler => (stream, headers, b) => {
    const x = rnd();
    if (x < 0.4) return answer(stream, headers, b.name);
    stream.resume();
    if (x < 0.55) {
      const delay = 20 + Math.floor(rnd() * 500);
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'x-backend': b.name });
        stream.end('slow');
      }, delay);
    } else if (x < 0.7) {
      stream.respond({ ':status': 503, 'x-backend': b.name });
      stream.end();
    } else if (x < 0.8) {
      stream.close(NGHTTP2_INTERNAL_ERROR);
    } else if (x < 0.85) {
      stream.respond({ ':status': 200, 'x-backend': b.name });
      stream.write('partial');
      stream.close(NGHTTP2_INTERNAL_ERROR);
    }
    // else: never answers
  };
  const backends = await Promise.all(['r1', 'r2', 'r3'].map((n, i) => startBackend(n, behave(mulberry32(0xbad5eed + i)))));
  t.after(async () => {
    for (const b of backends) await b.close();
  });
  const p = await startProxy({
    listeners: [{
      name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web',
      routes: [{
        match: {}, service: 'web', idempotent: true, timeout: `${ROUTE_TIMEOUT_MS}ms`,
        retry: { on: ['reset', '5xx', 'gateway-error'], attempts: 3, perTryTimeout: '120ms', backoff: { base: '5ms', max: '20ms' } },
        hedge: { delay: '30ms', maxAttempts: 2 },
      }],
    }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: backends.map((b) => `127.0.0.1:${b.port}`), outlierDetection: { enabled: false } }],
  });
  t.after(() => p.stop());
  await waitReady(p);
  const session = await connect(p.port());
  t.after(() => closeSession(session));
  const total = 300;
  const outcomes = new Array<Awaited<ReturnType<typeof track>['outcome']>>(total);
  await runConcurrently(total, 30, async (i) => {
    outcomes[i] = await track(session, { ':path': `/mix/${i}` }).outcome;
  });
  const tally: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.complete ? String(o.status) : `reset-${o.rstCode}`;
    tally[k] = (tally[k] ?? 0) + 1;
  }
  const slowest = Math.max(...outcomes.map((o) => o.at - o.startedAt));
  const sent = backends.reduce((n, b) => n + b.paths.length, 0);
  t.diagnostic(`${JSON.stringify(tally)}; ${sent} upstream attempts for ${total} requests; slowest ${slowest.toFixed(0)} ms`);
  // Every call ended (the pool above would hang otherwise), none far past the route timeout.
  // The bound is generous for a loaded machine; what it catches is a deadline that never fires.
  assert.ok(slowest < ROUTE_TIMEOUT_MS + 4000, `a call took ${slowest.toFixed(0)} ms with a ${ROUTE_TIMEOUT_MS} ms route timeout`);
  for (const o of outcomes) {
    if (o.complete) assert.ok([200, 502, 503, 504].includes(o.status), `status ${o.status}`);
    else assert.ok(o.status === 200 && o.rstCode !== 0, `a cut response must be one that had started: ${JSON.stringify({ status: o.status, rstCode: o.rstCode, error: o.error })}`);
  }
  // The mix was exercised: successes, the proxy's deadline, and more attempts than requests.
  assert.ok((tally['200'] ?? 0) > total / 2, JSON.stringify(tally));
  assert.ok((tally['504'] ?? 0) > 0, JSON.stringify(tally));
  assert.ok(sent > total * 1.3, `${sent} attempts`);
  assertQuiet(p);
  await closeSession(session);
  assertQuiet(p);
});

// ------------------------------------------------------------------ telemetry under retries

test('telemetry under retries: each request counted once, its retries in switchyard_request_retries_total', { timeout: 60_000 }, async (t) => {
  // A request with x-fail: N fails N times with 503 (counted per x-test-id), then succeeds.
  const failures = new Map<string, number>();
  let calls = 0;
  const handler: Handler = (stream, headers, b) => {
    calls++;
    const id = String(headers['x-test-id']);
    const seen = failures.get(id) ?? 0;
    failures.set(id, seen + 1);
    stream.resume();
    stream.on('end', () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': seen < Number(headers['x-fail'] ?? 0) ? 503 : 200, 'x-backend': b.name });
      stream.end();
    });
  };
  const backends = [await startBackend('t1', handler), await startBackend('t2', handler)];
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web', routes: [{ name: 'retried', match: {}, service: 'web', retry: { on: ['5xx'], attempts: 3, backoff: { base: '1ms', max: '5ms' } } }] }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: backends.map((b) => `127.0.0.1:${b.port}`), outlierDetection: { enabled: false } }],
  }, 'test');
  const telemetry = new Telemetry({ processMetrics: false });
  const proxy = new Proxy(config, { observer: telemetry, policies: defaultPolicies });
  telemetry.attach(proxy);
  await proxy.start();
  const admin = new AdminServer(() => proxy.ready);
  telemetry.routes(admin);
  const adminPort = (await admin.listen('127.0.0.1', 0)).port;
  t.after(async () => {
    telemetry.close();
    await admin.close();
    await proxy.stop(200);
    for (const b of backends) await b.close();
  });
  await waitReady({ proxy } as never);
  const session = await connect(proxy.listeners[0]!.address.port);
  // 10 requests each with 0, 1 and 2 failures (all succeed within 3 attempts) and 5 with 3 (the last 503 reaches the client).
  const plan = [...Array(10).fill(0), ...Array(10).fill(1), ...Array(10).fill(2), ...Array(5).fill(3)] as number[];
  const statuses = await Promise.all(plan.map(async (fail, i) => (await h2Request(session, { ':path': `/r/${i}`, 'x-test-id': String(i), 'x-fail': String(fail) })).status));
  await closeSession(session);
  assert.deepEqual(statuses, plan.map((f) => (f < 3 ? 200 : 503)));
  const retries = 10 * 1 + 10 * 2 + 5 * 2;
  assert.equal(calls, plan.length + retries);
  const m = await getText(`http://127.0.0.1:${adminPort}/metrics`);
  assert.equal(sum(samples(m, 'switchyard_requests_total')), plan.length, 'each request counted once');
  assert.equal(sum(samples(m, 'switchyard_requests_total', { status_code: '200' })), 30);
  assert.equal(sum(samples(m, 'switchyard_requests_total', { status_code: '503' })), 5);
  assert.equal(sum(samples(m, 'switchyard_request_duration_seconds_count')), plan.length);
  assert.equal(sum(samples(m, 'switchyard_request_retries_total', { route: 'retried' })), retries);
  assert.equal(sum(samples(m, 'switchyard_request_hedges_total')), 0);
  assert.equal(sum(samples(m, 'switchyard_requests_in_flight', { service: 'web' })), 0);
  assertQuiet({ proxy });
});
