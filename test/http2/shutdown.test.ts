/**
 * The engine's graceful shutdown (RFC 9113 §6.8) as SERVER with streams open:
 * GOAWAY with the largest stream id and a PING, the final GOAWAY with the last
 * stream accepted once the PING is answered, open streams complete, the
 * connection closes once they end, and no INTERNAL_ERROR anywhere. Checked on
 * the wire (a relay parses every frame both ways) against a node:http2 client,
 * an engine client and a raw peer; plus the CLIENT role's shutdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import {
  ErrorCode, type Http2Connection, type Http2Stream, type StreamHandler,
} from '../../src/http2/index.js';
import { connectEngine, engineRequest, get, type EngineResponse } from '../helpers/engine-client.js';
import {
  F, FrameParser, PREFACE, RawPeer, T, frame, goawayCode, hpackLiteral, ping, settings, settingsAck, within, type ParsedFrame,
} from '../helpers/engine-frames.js';
import { header, startEngineTestServer, type EngineTestServer } from '../helpers/engine-test-server.js';

const MAX_STREAM_ID = 0x7fffffff;

// ------------------------------------------------------------------ a server whose /hold streams answer when told

interface HoldServer {
  srv: EngineTestServer;
  /** Streams waiting on /hold. */
  held: Http2Stream[];
  /** Resolves once `n` /hold requests arrived (in total). */
  whenHeld(n: number): Promise<void>;
  /** Answers every held stream: 200 with "held <path>", or the request body for POST. */
  release(): void;
  /** The one connection the server has (the test connects once). */
  conn(): Http2Connection;
}

class HeldRequest implements StreamHandler {
  readonly body: Buffer[] = [];
  ended: boolean;
  answerWhenEnded = false;
  constructor(readonly path: string, readonly method: string, endStream: boolean) {
    this.ended = endStream;
  }
  onHeaders(): void {}
  onData(s: Http2Stream, d: Buffer, end: boolean): void {
    this.body.push(Buffer.from(d));
    s.consume(d.length);
    if (end) {
      this.ended = true;
      if (this.answerWhenEnded) this.answer(s);
    }
  }
  onTrailers(s: Http2Stream): void {
    this.ended = true;
    if (this.answerWhenEnded) this.answer(s);
  }
  onReset(): void {}
  onDataSent(): void {}
  answer(s: Http2Stream): void {
    if (!this.ended) {
      this.answerWhenEnded = true;
      return;
    }
    const body = this.method === 'POST' ? Buffer.concat(this.body) : Buffer.from(`held ${this.path}`);
    s.respond([':status', '200', 'content-length', String(body.length)], false);
    s.sendData(body, true);
  }
}

async function startHoldServer(): Promise<HoldServer> {
  const held: Http2Stream[] = [];
  let total = 0;
  let waiters: Array<() => void> = [];
  const srv = await startEngineTestServer(undefined, (_c, s, h, endStream) => {
    const p = header(h, ':path') ?? '';
    if (!p.startsWith('/hold')) return false;
    s.handler = new HeldRequest(p, header(h, ':method') ?? 'GET', endStream);
    held.push(s);
    total++;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
    return true;
  });
  return {
    srv,
    held,
    whenHeld: (n) =>
      new Promise<void>((resolve) => {
        const check = (): void => (total >= n ? resolve() : void waiters.push(check));
        check();
      }),
    release() {
      for (const s of held.splice(0)) (s.handler as HeldRequest).answer(s);
    },
    conn() {
      assert.equal(srv.connections.size, 1);
      return [...srv.connections][0]!;
    },
  };
}

// ------------------------------------------------------------------ a relay that parses every frame both ways

interface FrameTap {
  port: number;
  /** Frames the server sent, in order. */
  fromServer: ParsedFrame[];
  /** Frames the client sent (after the preface), in order. */
  fromClient: ParsedFrame[];
  /** Resolves when the relayed connection closed on both sides. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** A TCP relay to `target` for one connection, recording the frames without changing a byte. */
async function startFrameTap(target: number): Promise<FrameTap> {
  const toClient = new FrameParser();
  const toServer = new FrameParser();
  let prefaceLeft = PREFACE.length;
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const sockets: net.Socket[] = [];
  const server = net.createServer((c) => {
    const u = net.connect(target, '127.0.0.1');
    sockets.push(c, u);
    c.on('data', (d: Buffer) => {
      let rest = d;
      if (prefaceLeft > 0) {
        const n = Math.min(prefaceLeft, rest.length);
        prefaceLeft -= n;
        rest = rest.subarray(n);
      }
      if (rest.length > 0) toServer.push(rest);
      u.write(d);
    });
    u.on('data', (d: Buffer) => {
      toClient.push(d);
      c.write(d);
    });
    c.on('end', () => u.end());
    u.on('end', () => c.end());
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    let open = 2;
    const one = (): void => {
      if (--open === 0) onClosed();
    };
    c.on('close', one);
    u.on('close', one);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    fromServer: toClient.frames,
    fromClient: toServer.frames,
    closed,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface GoawayInfo {
  lastStreamId: number;
  code: number;
}
const goaways = (frames: ParsedFrame[]): GoawayInfo[] =>
  frames.filter((f) => f.type === T.GOAWAY).map((f) => ({ lastStreamId: f.payload.readUInt32BE(0) & MAX_STREAM_ID, code: goawayCode(f) }));

/**
 * The §6.8 sequence on the wire: GOAWAY(max id), PING; the client's PING
 * answer; GOAWAY(last accepted id); no reset and no error anywhere.
 */
function checkGracefulSequence(tap: FrameTap, lastId: number): void {
  const s = tap.fromServer;
  const firstGoaway = s.findIndex((f) => f.type === T.GOAWAY);
  assert.ok(firstGoaway >= 0, 'a GOAWAY was sent');
  const drainPing = s.slice(firstGoaway).find((f) => f.type === T.PING && (f.flags & F.ACK) === 0);
  assert.ok(drainPing !== undefined, 'a PING follows the first GOAWAY');
  assert.equal(drainPing.payload.length, 8);
  assert.ok(
    tap.fromClient.some((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(drainPing.payload)),
    'the client answered the drain PING',
  );
  assert.deepEqual(goaways(s), [
    { lastStreamId: MAX_STREAM_ID, code: ErrorCode.NO_ERROR },
    { lastStreamId: lastId, code: ErrorCode.NO_ERROR },
  ]);
  assert.deepEqual(s.filter((f) => f.type === T.RST_STREAM).map((f) => f.streamId), [], 'no stream was reset');
}

// ------------------------------------------------------------------ tests

test('shutdown() with 6 streams open, node:http2 client: GOAWAY + PING, final GOAWAY after the PING answer, streams complete, then the connection closes', { timeout: 30_000 }, async (t) => {
  const hs = await startHoldServer();
  t.after(() => hs.srv.close());
  const tap = await startFrameTap(hs.srv.port);
  t.after(() => tap.close());
  const session = http2.connect(`http://127.0.0.1:${tap.port}`);
  t.after(() => session.destroy());
  const seen: Array<[number, number]> = [];
  let onFinal!: () => void;
  const final = new Promise<void>((r) => (onFinal = r));
  session.on('goaway', (code: number, last: number) => {
    seen.push([code, last]);
    if (last !== MAX_STREAM_ID) onFinal();
  });
  const sessionClosed = new Promise<void>((r) => session.once('close', () => r()));
  const results = Array.from({ length: 6 }, (_, i) => {
    const post = i === 5;
    const req = session.request({ ':method': post ? 'POST' : 'GET', ':path': `/hold/${i}` }, { endStream: !post });
    if (post) req.write('half of the body, ');
    const done = new Promise<{ status: number; body: string; rstCode: number }>((resolve, reject) => {
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('error', reject);
      req.on('close', () => resolve({ status, body: Buffer.concat(chunks).toString(), rstCode: req.rstCode ?? -1 }));
    });
    return { req, done };
  });
  await hs.whenHeld(6);
  hs.conn().shutdown();
  await within(final, 10_000, 'the final GOAWAY');
  // The upload goes on after the final GOAWAY: its stream was accepted.
  results[5]!.req.end('and the rest');
  hs.release();
  const out = await Promise.all(results.map((r) => r.done));
  out.forEach((o, i) => assert.deepEqual(o, { status: 200, body: i === 5 ? 'half of the body, and the rest' : `held /hold/${i}`, rstCode: 0 }, `stream ${i}`));
  await within(sessionClosed, 10_000, 'the client session to close');
  await within(tap.closed, 10_000, 'the connection to close');
  assert.deepEqual(seen, [[0, MAX_STREAM_ID], [0, 11]]);
  checkGracefulSequence(tap, 11);
  assert.deepEqual(hs.srv.closeErrors, []);
  assert.equal(hs.srv.connections.size, 0);
});

test('shutdown() with streams open, engine client: the same sequence; the client cannot open streams after the first GOAWAY', { timeout: 30_000 }, async (t) => {
  const hs = await startHoldServer();
  t.after(() => hs.srv.close());
  const tap = await startFrameTap(hs.srv.port);
  t.after(() => tap.close());
  const seen: Array<[number, number]> = [];
  let onFinal!: () => void;
  const final = new Promise<void>((r) => (onFinal = r));
  const client = connectEngine(tap.port, undefined, {
    onGoaway(_c, last, code) {
      seen.push([code, last]);
      if (last !== MAX_STREAM_ID) onFinal();
    },
  });
  t.after(() => client.conn.destroy());
  const reqs: Array<Promise<EngineResponse>> = [];
  for (let i = 0; i < 5; i++) reqs.push(engineRequest(client.conn, get(`/hold/${i}`), { keep: true }));
  reqs.push(engineRequest(client.conn, get('/hold/upload', 'localhost', 'POST'), { body: Buffer.alloc(100_000, 0x61), keep: true }));
  await hs.whenHeld(6);
  hs.conn().shutdown();
  await within(final, 10_000, 'the final GOAWAY');
  assert.equal(client.conn.canRequest, false, 'no new streams once GOAWAY arrived');
  hs.release();
  const out = await Promise.all(reqs);
  out.slice(0, 5).forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.equal(r.body!.toString(), `held /hold/${i}`);
  });
  assert.equal(out[5]!.status, 200);
  assert.ok(out[5]!.body!.equals(Buffer.alloc(100_000, 0x61)), 'the upload arrived whole');
  assert.equal(await within(client.closed, 10_000, 'the client connection to close'), undefined, 'clean close');
  await within(tap.closed, 10_000, 'the connection to close');
  assert.deepEqual(seen, [[0, MAX_STREAM_ID], [0, 11]]);
  checkGracefulSequence(tap, 11);
  assert.deepEqual(hs.srv.closeErrors, []);
});

test('shutdown() with no stream open: GOAWAY + PING; once the PING is answered, the final GOAWAY and the close', { timeout: 30_000 }, async (t) => {
  const hs = await startHoldServer();
  t.after(() => hs.srv.close());
  const peer = new RawPeer(hs.srv.port);
  t.after(() => peer.destroy());
  await peer.ready;
  peer.write([PREFACE, settings([]), settingsAck(), frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, hpackLiteral([':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'x']))]);
  await peer.waitFrame((f) => f.type === T.DATA && f.streamId === 1 && (f.flags & F.END_STREAM) !== 0, 'the response');
  hs.conn().shutdown();
  const drainPing = await peer.waitFrame((f) => f.type === T.PING && (f.flags & F.ACK) === 0, 'the drain PING');
  peer.write(ping(drainPing.payload, true));
  await within(peer.waitClose(), 10_000, 'the connection to close');
  assert.deepEqual(goaways(peer.parser.frames), [{ lastStreamId: MAX_STREAM_ID, code: 0 }, { lastStreamId: 1, code: 0 }]);
  assert.deepEqual(hs.srv.closeErrors, []);
});

test('shutdown() with no stream open, engine client: the client closes on the first GOAWAY; both sides close cleanly', { timeout: 30_000 }, async (t) => {
  const hs = await startHoldServer();
  t.after(() => hs.srv.close());
  const tap = await startFrameTap(hs.srv.port);
  t.after(() => tap.close());
  const client = connectEngine(tap.port);
  t.after(() => client.conn.destroy());
  const r = await engineRequest(client.conn, get('/'), { keep: true });
  assert.equal(r.body!.toString(), 'hello\n');
  hs.conn().shutdown();
  assert.equal(await within(client.closed, 10_000, 'the client to close'), undefined);
  await within(tap.closed, 10_000, 'the connection to close');
  assert.deepEqual(goaways(tap.fromServer)[0], { lastStreamId: MAX_STREAM_ID, code: 0 });
  assert.ok(goaways(tap.fromServer).every((g) => g.code === ErrorCode.NO_ERROR), JSON.stringify(goaways(tap.fromServer)));
  assert.deepEqual(hs.srv.closeErrors, []);
});

test('raw peer: a stream opened before the PING answer is accepted, one after the final GOAWAY is not processed, the others complete', { timeout: 30_000 }, async (t) => {
  const hs = await startHoldServer();
  t.after(() => hs.srv.close());
  const peer = new RawPeer(hs.srv.port);
  t.after(() => peer.destroy());
  await peer.ready;
  const request = (id: number): Buffer =>
    frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, hpackLiteral([':method', 'GET', ':scheme', 'http', ':path', `/hold/${id}`, ':authority', 'x']));
  peer.write([PREFACE, settings([]), settingsAck(), request(1), request(3)]);
  await hs.whenHeld(2);
  hs.conn().shutdown();
  const drainPing = await peer.waitFrame((f) => f.type === T.PING && (f.flags & F.ACK) === 0, 'the drain PING');
  peer.write([request(5), ping(drainPing.payload, true)]);
  const final = await peer.waitFrame((f) => f.type === T.GOAWAY && (f.payload.readUInt32BE(0) & MAX_STREAM_ID) !== MAX_STREAM_ID, 'the final GOAWAY');
  assert.equal(final.payload.readUInt32BE(0), 5);
  assert.equal(goawayCode(final), ErrorCode.NO_ERROR);
  peer.write(request(7));
  // Stream 7 reached no handler; a PING round trip shows it was read.
  peer.write(ping(Buffer.from('after-7!')));
  await peer.waitFrame((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(Buffer.from('after-7!')), 'the PING after stream 7');
  assert.equal(hs.held.length, 3, 'streams 1, 3 and 5 are held; 7 was not processed');
  hs.release();
  await within(peer.waitClose(), 10_000, 'the connection to close');
  const frames = peer.parser.frames;
  for (const id of [1, 3, 5]) {
    assert.ok(frames.some((f) => f.type === T.DATA && f.streamId === id && (f.flags & F.END_STREAM) !== 0), `stream ${id} completed`);
  }
  assert.ok(frames.filter((f) => f.streamId === 7).every((f) => f.type === T.RST_STREAM && f.payload.readUInt32BE(0) === ErrorCode.REFUSED_STREAM), 'stream 7 ignored or refused');
  assert.deepEqual(goaways(frames), [{ lastStreamId: MAX_STREAM_ID, code: 0 }, { lastStreamId: 5, code: 0 }]);
  assert.ok(!frames.some((f) => f.type === T.RST_STREAM && f.streamId !== 7));
  assert.deepEqual(hs.srv.closeErrors, []);
});

test('a peer that never answers the drain PING still gets the final GOAWAY (the engine stops waiting) and its streams complete', { timeout: 30_000 }, async (t) => {
  const hs = await startHoldServer();
  t.after(() => hs.srv.close());
  const peer = new RawPeer(hs.srv.port);
  t.after(() => peer.destroy());
  await peer.ready;
  const request = (id: number): Buffer =>
    frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, hpackLiteral([':method', 'GET', ':scheme', 'http', ':path', `/hold/${id}`, ':authority', 'x']));
  peer.write([PREFACE, settings([]), settingsAck(), request(1)]);
  await hs.whenHeld(1);
  hs.conn().shutdown();
  await peer.waitFrame((f) => f.type === T.PING && (f.flags & F.ACK) === 0, 'the drain PING');
  const final = await within(
    peer.waitFrame((f) => f.type === T.GOAWAY && (f.payload.readUInt32BE(0) & MAX_STREAM_ID) !== MAX_STREAM_ID, 'the final GOAWAY'),
    15_000,
    'the final GOAWAY without a PING answer',
  );
  assert.equal(final.payload.readUInt32BE(0), 1);
  assert.equal(goawayCode(final), ErrorCode.NO_ERROR);
  hs.release();
  await within(peer.waitClose(), 10_000, 'the connection to close');
  assert.ok(peer.parser.frames.some((f) => f.type === T.DATA && f.streamId === 1 && (f.flags & F.END_STREAM) !== 0));
  assert.deepEqual(hs.srv.closeErrors, []);
});

test('shutdown() as CLIENT against a node:http2 server: GOAWAY, the open request completes, no new requests, the connection closes', { timeout: 30_000 }, async (t) => {
  const server = http2.createServer();
  const pending: http2.ServerHttp2Stream[] = [];
  let onStream!: () => void;
  const streamArrived = new Promise<void>((r) => (onStream = r));
  let serverGoaway: [number, number] | undefined;
  server.on('session', (s) => s.on('goaway', (code: number, last: number) => (serverGoaway = [code, last])));
  server.on('stream', (s) => {
    s.on('error', () => {});
    pending.push(s);
    onStream();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const client = connectEngine((server.address() as net.AddressInfo).port);
  t.after(() => client.conn.destroy());
  const res = engineRequest(client.conn, get('/slow'), { keep: true });
  await streamArrived;
  client.conn.shutdown();
  assert.equal(client.conn.canRequest, false);
  // The server hears the GOAWAY before it answers.
  for (let i = 0; i < 100_000 && serverGoaway === undefined; i++) await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(serverGoaway, [ErrorCode.NO_ERROR, 0]);
  const s = pending[0]!;
  s.respond({ ':status': 200 });
  s.end('late but complete');
  const r = await res;
  assert.equal(r.status, 200);
  assert.equal(r.body!.toString(), 'late but complete');
  assert.equal(await within(client.closed, 10_000, 'the client connection to close'), undefined);
});
