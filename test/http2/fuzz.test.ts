/**
 * Seeded random and mutated frame sequences and header blocks fed to the
 * engine (server and client roles) over an in-memory duplex pair. Every case
 * must finish: no uncaught exception, no hang, and only typed errors
 * (Http2Error / HpackError surfaced as a GOAWAY code, RST_STREAM, or an
 * Http2ConnectionClosedError); INTERNAL_ERROR would mean an untyped failure.
 * In about a third of the cases the engine is also shut down gracefully
 * (shutdown()) part way through, and the peer answers its drain PING.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptHttp2, connectHttp2, ErrorCode, errorCodeName, Http2ConnectionClosedError, Http2Error,
  type Http2Connection, type Http2Stream, type StreamHandler,
} from '../../src/http2/index.js';
import { HpackEncoder } from '../../src/http2/hpack/index.js';
import { duplexPair, type DuplexEnd } from '../helpers/engine-duplex.js';
import {
  F, FrameParser, PREFACE, T, continuation, data, frame, goaway, goawayCode, hpackLiteral, mulberry32, ping,
  rstStream, settings, settingsAck, windowUpdate, type ParsedFrame,
} from '../helpers/engine-frames.js';

type Rnd = () => number;
const int = (r: Rnd, n: number): number => Math.floor(r() * n);
const pick = <V>(r: Rnd, a: readonly V[]): V => a[int(r, a.length)]!;

// ------------------------------------------------------------------ generators

function requestFields(r: Rnd): string[] {
  const h = [':method', pick(r, ['GET', 'POST', 'HEAD', 'PUT']), ':scheme', 'http', ':path', pick(r, ['/', '/a', '/b?q=1']), ':authority', 'fuzz'];
  const n = int(r, 4);
  for (let i = 0; i < n; i++) h.push(pick(r, ['x-a', 'accept', 'user-agent', 'content-type', 'te', 'cookie']), pick(r, ['1', 'trailers', 'text/plain', 'v'.repeat(int(r, 40))]));
  return h;
}

function badFields(r: Rnd): string[] {
  return pick(r, [
    [':method', 'GET', ':path', '/', ':authority', 'x'],
    [':method', 'GET', ':scheme', 'http', ':path', '/', 'Upper', 'x'],
    [':method', 'GET', ':scheme', 'http', ':path', '/', 'connection', 'close'],
    [':method', 'GET', ':scheme', 'http', ':path', '/', ':status', '200'],
    ['x-a', '1', ':method', 'GET', ':scheme', 'http', ':path', '/'],
    [':method', 'POST', ':scheme', 'http', ':path', '/', 'content-length', 'abc'],
    [':method', 'GET', ':scheme', 'http', ':path', '/', 'x-big', 'b'.repeat(int(r, 70_000))],
    [':status', '200'],
    [':status', '1000'],
    [':status', '103'],
    [':status', '200', 'content-length', '3'],
    ['grpc-status', '0'],
  ]);
}

function responseFields(r: Rnd): string[] {
  const h = [':status', pick(r, ['200', '204', '404', '100', '103', '500'])];
  if (r() < 0.3) h.push('content-length', String(int(r, 50)));
  if (r() < 0.5) h.push('content-type', 'text/plain');
  return h;
}

class Gen {
  readonly enc = new HpackEncoder();
  nextStream = 1;
  constructor(
    readonly r: Rnd,
    readonly server: boolean,
  ) {}

  streamId(): number {
    const r = this.r;
    const p = r();
    if (this.server) {
      if (p < 0.4) {
        const id = this.nextStream;
        this.nextStream += 2;
        return id;
      }
      if (p < 0.8) return Math.max(1, this.nextStream - 2 - 2 * int(r, 3));
    } else if (p < 0.8) {
      return pick(r, [1, 3, 5]);
    }
    return pick(r, [0, 2, 4, int(r, 100), 0x7fffffff]);
  }

  block(): Buffer {
    const r = this.r;
    const p = r();
    const fields = this.server ? requestFields(r) : responseFields(r);
    if (p < 0.4) return this.enc.encode(fields, 0, fields.length);
    if (p < 0.6) return hpackLiteral(fields);
    if (p < 0.75) {
      const b = badFields(r);
      return r() < 0.5 ? hpackLiteral(b) : this.enc.encode(b, 0, b.length);
    }
    if (p < 0.85) {
      // A truncated block.
      const b = hpackLiteral(fields);
      return b.subarray(0, int(r, b.length));
    }
    // Random bytes as a header block.
    return Buffer.from(Array.from({ length: int(r, 80) }, () => int(r, 256)));
  }

  /** HEADERS possibly split over CONTINUATION frames; sometimes padded or with priority. */
  headerFrames(id: number, endStream: boolean): Buffer[] {
    const r = this.r;
    const block = this.block();
    const out: Buffer[] = [];
    const pieces = r() < 0.7 ? 1 : 2 + int(r, 6);
    const size = Math.max(1, Math.ceil(block.length / pieces));
    let first = block.subarray(0, size);
    let flags = endStream ? F.END_STREAM : 0;
    if (r() < 0.1) {
      const pad = int(r, 20);
      flags |= F.PADDED;
      first = Buffer.concat([Buffer.from([pad]), first, Buffer.alloc(pad)]);
    }
    if (r() < 0.1) {
      flags |= F.PRIORITY;
      const prio = Buffer.alloc(5);
      prio.writeUInt32BE(r() < 0.2 ? id : int(r, 10));
      prio[4] = int(r, 256);
      first = flags & F.PADDED ? Buffer.concat([first.subarray(0, 1), prio, first.subarray(1)]) : Buffer.concat([prio, first]);
    }
    const single = size >= block.length;
    out.push(frame(T.HEADERS, flags | (single ? F.END_HEADERS : 0), id, first));
    for (let off = size; off < block.length; off += size) {
      out.push(continuation(id, block.subarray(off, off + size), off + size >= block.length));
    }
    return out;
  }

  hugeContinuation(id: number): Buffer[] {
    const r = this.r;
    const out = [frame(T.HEADERS, F.END_STREAM, id, hpackLiteral(requestFields(r)))];
    const n = 20 + int(r, 200);
    for (let i = 0; i < n; i++) out.push(continuation(id, Buffer.alloc(int(r, 2000), 0x20), i === n - 1 && r() < 0.5));
    return out;
  }

  bogusSettings(): Buffer {
    const r = this.r;
    const v: number[] = [];
    const n = 1 + int(r, 4);
    for (let i = 0; i < n; i++) {
      const id = pick(r, [1, 2, 3, 4, 5, 6, 7, 0x0, 0xffff]);
      const value = pick(r, [0, 1, 2, 16383, 16384, 16777215, 16777216, 0x7fffffff, 0x80000000, 0xffffffff, int(r, 100_000)]);
      v.push(id, value);
    }
    return settings(v);
  }

  frame(): Buffer[] {
    const r = this.r;
    const p = r();
    if (p < 0.25) return this.headerFrames(this.streamId(), r() < 0.5);
    if (p < 0.45) {
      const len = pick(r, [0, 0, 1, 10, 1000, 16384, int(r, 20000)]);
      const payload = Buffer.alloc(len, 0x62);
      if (r() < 0.1 && len > 0) {
        payload[0] = int(r, len + 2);
        return [frame(T.DATA, F.PADDED | (r() < 0.5 ? F.END_STREAM : 0), this.streamId(), payload)];
      }
      return [data(this.streamId(), payload, r() < 0.4)];
    }
    if (p < 0.52) return [r() < 0.5 ? this.bogusSettings() : r() < 0.5 ? settingsAck() : settings([4, int(r, 200_000)])];
    if (p < 0.6) {
      const inc = pick(r, [0, 1, 65535, 0x7fffffff, int(r, 1 << 20)]);
      return [windowUpdate(pick(r, [0, this.streamId()]), inc)];
    }
    if (p < 0.65) return [rstStream(this.streamId(), int(r, 16))];
    if (p < 0.7) return [ping(Buffer.alloc(8, int(r, 256)), r() < 0.2)];
    if (p < 0.74) {
      const prio = Buffer.alloc(5);
      prio.writeUInt32BE(int(r, 12));
      return [frame(T.PRIORITY, 0, this.streamId(), prio)];
    }
    if (p < 0.77) return [goaway(int(r, 10), int(r, 14), r() < 0.5 ? 'fuzz' : '')];
    if (p < 0.8) return this.hugeContinuation(this.streamId());
    if (p < 0.83) return [continuation(this.streamId(), this.block(), r() < 0.5)];
    if (p < 0.86) return [frame(T.PUSH_PROMISE, F.END_HEADERS, this.streamId(), Buffer.alloc(4 + int(r, 20)))];
    if (p < 0.9) return [frame(10 + int(r, 240), int(r, 256), int(r, 10), Buffer.alloc(int(r, 30)))];
    // A frame of the right type with a wrong length.
    const type = pick(r, [T.PRIORITY, T.RST_STREAM, T.PING, T.WINDOW_UPDATE, T.SETTINGS, T.GOAWAY]);
    return [frame(type, 0, type === T.PING || type === T.SETTINGS || type === T.GOAWAY ? 0 : this.streamId(), Buffer.alloc(int(r, 12)))];
  }
}

/** A well-formed exchange: complete requests (server role) or responses to streams 1, 3, 5 (client role), with PING, WINDOW_UPDATE, SETTINGS, PRIORITY and unknown frames in between. */
function validFrames(r: Rnd, server: boolean, enc: HpackEncoder): Buffer[] {
  const out: Buffer[] = [];
  const extras = (): void => {
    const p = r();
    if (p < 0.15) out.push(ping(Buffer.alloc(8, int(r, 256))));
    else if (p < 0.3) out.push(windowUpdate(0, 1 + int(r, 1 << 20)));
    else if (p < 0.4) out.push(settings([4, 65535 + int(r, 1 << 20), 1, int(r, 8192)]));
    else if (p < 0.5) out.push(frame(T.PRIORITY, 0, 101 + 2 * int(r, 10), Buffer.from([0, 0, 0, 0, 16])));
    else if (p < 0.6) out.push(frame(0x20 + int(r, 200), int(r, 256), int(r, 5), Buffer.alloc(int(r, 20))));
  };
  const ids = server ? Array.from({ length: 1 + int(r, 6) }, (_, i) => 1 + 2 * i) : [1, 3, 5];
  for (const id of ids) {
    extras();
    const head = server ? requestFields(r) : [':status', id === 5 ? '200' : pick(r, ['200', '404'])];
    // Drop a te field whose value is not "trailers", to stay well formed.
    const fields: string[] = [];
    for (let i = 0; i < head.length; i += 2) if (head[i] !== 'te' || head[i + 1] === 'trailers') fields.push(head[i]!, head[i + 1]!);
    const noBody = id === 5 && !server;
    const withBody = !noBody && r() < 0.6;
    const block = r() < 0.5 ? enc.encode(fields, 0, fields.length) : hpackLiteral(fields);
    if (r() < 0.2 && block.length > 2) {
      const cut = 1 + int(r, block.length - 1);
      out.push(frame(T.HEADERS, withBody ? 0 : F.END_STREAM, id, block.subarray(0, cut)), continuation(id, block.subarray(cut), true));
    } else {
      out.push(frame(T.HEADERS, F.END_HEADERS | (withBody ? 0 : F.END_STREAM), id, block));
    }
    if (withBody) {
      const n = 1 + int(r, 3);
      for (let i = 0; i < n; i++) {
        extras();
        out.push(data(id, Buffer.alloc(int(r, 16384), 0x65), i === n - 1 && r() < 0.7));
      }
      if (out.length > 0 && (out[out.length - 1]![4]! & F.END_STREAM) === 0) {
        if (r() < 0.5) out.push(data(id, Buffer.alloc(0), true));
        else out.push(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, hpackLiteral(['x-trailer', 'yes'])));
      }
    }
  }
  extras();
  return out;
}

function mutate(r: Rnd, input: Buffer, skip: number): Buffer {
  const b = Buffer.from(input);
  const n = 1 + int(r, 4);
  for (let i = 0; i < n && b.length > skip; i++) {
    const at = skip + int(r, b.length - skip);
    switch (int(r, 5)) {
      case 0: // flip bits of one byte
        b[at] = b[at]! ^ (1 << int(r, 8));
        break;
      case 1: // random byte
        b[at] = int(r, 256);
        break;
      case 2: // a random 24-bit value somewhere (a length field, maybe)
        b[at] = int(r, 2);
        if (at + 2 < b.length) {
          b[at + 1] = int(r, 256);
          b[at + 2] = int(r, 256);
        }
        break;
      case 3: // truncate
        return b.subarray(0, at);
      default: // insert garbage
        return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(r, 12) }, () => int(r, 256))), b.subarray(at)]);
    }
  }
  return b;
}

// ------------------------------------------------------------------ one case

class FuzzStream implements StreamHandler {
  constructor(private readonly r: Rnd) {}
  onHeaders(): void {}
  onData(s: Http2Stream, d: Buffer, end: boolean): void {
    s.consume(d.length);
    if (end && s.connection.isServer) this.answer(s);
  }
  onTrailers(s: Http2Stream): void {
    if (s.connection.isServer) this.answer(s);
  }
  onReset(): void {}
  onDataSent(): void {}
  answer(s: Http2Stream): void {
    const p = this.r();
    if (p < 0.1) return s.reset(ErrorCode.CANCEL);
    s.respond([':status', '200'], false);
    s.sendData(Buffer.alloc(int(this.r, 40_000), 0x63), p < 0.8);
    if (p >= 0.8) s.sendTrailers(['x-done', '1']);
  }
}

interface CaseResult {
  outcome: 'usable' | 'closed' | 'ended';
  /** shutdown() was called; the peer then answered a PING of the engine. */
  shutdown: boolean;
  drainPingAnswered: boolean;
  error: Error | undefined;
  goaways: number[];
  resets: number[];
}

const PROBE = Buffer.from('fuzzprob');

async function runCase(seed: number, server: boolean): Promise<CaseResult> {
  const r = mulberry32(seed);
  const [engineEnd, peer]: [DuplexEnd, DuplexEnd] = duplexPair();
  let closed = false;
  let error: Error | undefined;
  const onClose = (_c: Http2Connection, e: Error | undefined): void => {
    closed = true;
    error = e;
  };
  const conn = server
    ? acceptHttp2(engineEnd, {
        onStream(_c, s, _h, endStream) {
          const h = new FuzzStream(r);
          s.handler = h;
          if (endStream) h.answer(s);
        },
        onClose,
      })
    : connectHttp2(engineEnd, { onClose });
  if (!server) {
    const h = new FuzzStream(r);
    conn.request([':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'f'], true, h);
    const post = conn.request([':method', 'POST', ':scheme', 'http', ':path', '/', ':authority', 'f'], false, h);
    post.sendData(Buffer.alloc(70_000, 0x64), true);
    conn.request([':method', 'HEAD', ':scheme', 'http', ':path', '/', ':authority', 'f'], true, h);
  }

  // The shutdown() action draws from its own PRNG, so a seed's generated input stays the
  // same with or without it: in some cases the engine shuts down gracefully at a random
  // point of the feed, and the peer answers the engine's PINGs (the drain PING) as a real
  // peer does, between whole frames of its own input.
  const rs = mulberry32(seed ^ 0x5d0a7e11);
  const shutdownAt = rs() < 0.35 ? rs() : -1;
  let shutdownCalled = false;
  let drainPingAnswered = false;
  const answers: Buffer[] = [];
  // Whether the input fed so far ends between two frames (the client preface included).
  let atBoundary = false;

  const parser = new FrameParser();
  let prefaceSkip = server ? 0 : PREFACE.length;
  // Like a TCP peer without half-open support: when the engine ends its side, end ours.
  let engineEnded = false;
  const sendAnswers = (): void => {
    if (answers.length === 0 || !atBoundary || engineEnded || closed) return;
    if (shutdownCalled) drainPingAnswered = true;
    peer.write(Buffer.concat(answers.splice(0)));
  };
  peer.on('data', (c: Buffer) => {
    if (prefaceSkip > 0) {
      const n = Math.min(prefaceSkip, c.length);
      prefaceSkip -= n;
      c = c.subarray(n);
    }
    for (const f of parser.push(c)) {
      if (f.type === T.PING && (f.flags & F.ACK) === 0 && f.payload.length === 8 && rs() < 0.9) answers.push(ping(f.payload, true));
    }
    // In a later turn, as over a network: writing from inside the engine's own write would re-enter it.
    if (answers.length > 0) setImmediate(sendAnswers);
  });
  peer.on('error', () => {});
  peer.on('end', () => {
    engineEnded = true;
    peer.end();
  });
  const shutdownIfDue = (fed: number, total: number): void => {
    if (shutdownAt < 0 || shutdownCalled || closed || fed < shutdownAt * total) return;
    shutdownCalled = true;
    conn.shutdown();
  };

  const gen = new Gen(r, server);
  const parts: Buffer[] = [];
  if (server) parts.push(PREFACE);
  const valid = r() < 0.4;
  if (valid || r() < 0.95) parts.push(settings(r() < 0.5 ? [] : [4, int(r, 1 << 20), 5, 16384 + int(r, 1000)]));
  if (valid) {
    parts.push(...validFrames(r, server, gen.enc));
  } else {
    const nFrames = 1 + int(r, 25);
    for (let i = 0; i < nFrames; i++) parts.push(...gen.frame());
  }
  let input: Buffer = Buffer.concat(parts);
  const mutated = r() < (valid ? 0.25 : 0.5);
  if (mutated) input = mutate(r, input, server && r() < 0.8 ? PREFACE.length : 0);
  // Offsets where a whole frame (or the preface) ends: the peer's answers go there.
  const boundaries = new Set<number>();
  if (!mutated) parts.reduce((end, p) => (boundaries.add(end + p.length), end + p.length), 0);

  // Feed in random slices.
  for (let off = 0; off < input.length && !closed; ) {
    shutdownIfDue(off, input.length);
    const n = 1 + int(r, r() < 0.3 ? 16 : 4096);
    peer.write(input.subarray(off, off + n));
    off += n;
    atBoundary = boundaries.has(off);
    sendAnswers();
    if (r() < 0.3) await new Promise<void>((res) => setImmediate(res));
  }
  // The whole input is out (a truncated or mutated one included): answers may follow it.
  atBoundary = true;
  shutdownIfDue(input.length, input.length);
  sendAnswers();

  // Liveness probe: a usable connection answers a PING; otherwise it must close.
  let outcome: CaseResult['outcome'] = 'closed';
  if (!closed && !engineEnded) peer.write(ping(PROBE));
  const acked = (): boolean => parser.frames.some((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(PROBE));
  for (let i = 0; i < 200 && !closed && !engineEnded && !acked(); i++) await new Promise<void>((res) => setImmediate(res));
  if (engineEnded) {
    // The engine ended the connection (GOAWAY, then end of its side): it must close now.
    for (let i = 0; i < 2000 && !closed; i++) await new Promise<void>((res) => setImmediate(res));
  }
  if (!closed) {
    // Still open (usable, or waiting for the rest of a truncated frame): end our side; it must close.
    outcome = acked() ? 'usable' : 'ended';
    peer.end();
    for (let i = 0; i < 2000 && !closed; i++) await new Promise<void>((res) => setImmediate(res));
  }
  if (!closed) {
    conn.destroy();
    throw new Error(`case ${seed} (${server ? 'server' : 'client'}) did not close after the peer ended`);
  }
  const goaways = parser.frames.filter((f: ParsedFrame) => f.type === T.GOAWAY && f.payload.length >= 8).map(goawayCode);
  const resets = parser.frames.filter((f) => f.type === T.RST_STREAM && f.payload.length === 4).map((f) => f.payload.readUInt32BE(0));
  peer.destroy();
  return { outcome, shutdown: shutdownCalled, drainPingAnswered, error, goaways, resets };
}

function checkCase(seed: number, server: boolean, res: CaseResult): void {
  const where = `seed ${seed} (${server ? 'server' : 'client'} role)`;
  const e = res.error;
  if (e !== undefined) {
    assert.ok(e instanceof Http2Error || e instanceof Http2ConnectionClosedError, `${where}: untyped close error ${e?.name}: ${e?.message}`);
    if (e instanceof Http2Error) assert.notEqual(e.errorCode, ErrorCode.INTERNAL_ERROR, `${where}: ${e.message}`);
  }
  for (const code of res.goaways) {
    assert.notEqual(code, ErrorCode.INTERNAL_ERROR, `${where}: GOAWAY INTERNAL_ERROR (${e?.message})`);
    assert.ok(code <= ErrorCode.HTTP_1_1_REQUIRED, `${where}: GOAWAY code ${code}`);
  }
  for (const code of res.resets) {
    assert.notEqual(code, ErrorCode.INTERNAL_ERROR, `${where}: RST_STREAM INTERNAL_ERROR`);
    assert.ok(code <= ErrorCode.HTTP_1_1_REQUIRED, `${where}: RST_STREAM code ${code}`);
  }
}

async function fuzz(server: boolean, base: number, count: number): Promise<Record<string, number>> {
  const tally: Record<string, number> = { usable: 0, closed: 0, ended: 0 };
  for (let i = 0; i < count; i++) {
    const seed = base + i;
    // FUZZ_ONLY=<seed> replays a single failing case.
    if (process.env.FUZZ_ONLY && Number(process.env.FUZZ_ONLY) !== seed) continue;
    const res = await runCase(seed, server);
    checkCase(seed, server, res);
    tally[res.outcome]!++;
    if (res.shutdown) tally.shutdown = (tally.shutdown ?? 0) + 1;
    if (res.drainPingAnswered) tally.drainPingAnswered = (tally.drainPingAnswered ?? 0) + 1;
    if (res.error instanceof Http2Error) {
      const k = errorCodeName(res.error.errorCode);
      tally[k] = (tally[k] ?? 0) + 1;
    }
  }
  return tally;
}

test('fuzz: 1,000 random and mutated inputs to the SERVER role', { timeout: 60_000 }, async (t) => {
  const tally = await fuzz(true, 0x5eed0000, 1000);
  t.diagnostic(JSON.stringify(tally));
  // The generator must reach both outcomes, or it is not testing much.
  assert.ok(tally.usable! > 50 && tally.closed! > 50, JSON.stringify(tally));
  // The shutdown() action: graceful drains whose PING the peer answered, the path of the final GOAWAY.
  assert.ok((tally.drainPingAnswered ?? 0) > 50, JSON.stringify(tally));
});

test('fuzz: 1,000 random and mutated inputs to the CLIENT role', { timeout: 60_000 }, async (t) => {
  const tally = await fuzz(false, 0xc11e0000, 1000);
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.usable! > 50 && tally.closed! > 50, JSON.stringify(tally));
  assert.ok((tally.shutdown ?? 0) > 100, JSON.stringify(tally));
});

// ------------------------------------------------------------------ targeted malformed inputs

async function feedServer(frames: Buffer[]): Promise<{ error: Error | undefined; out: ParsedFrame[] }> {
  const [engineEnd, peer] = duplexPair();
  let closed = false;
  let error: Error | undefined;
  acceptHttp2(engineEnd, {
    onStream(_c, s) {
      // Never consumes: the receive windows are not replenished.
      s.handler = { onHeaders() {}, onData() {}, onTrailers() {}, onReset() {}, onDataSent() {} };
    },
    onClose(_c, e) {
      closed = true;
      error = e;
    },
  });
  const parser = new FrameParser();
  let ended = false;
  peer.on('data', (c: Buffer) => parser.push(c));
  peer.on('end', () => (ended = true));
  peer.write(Buffer.concat([PREFACE, settings([]), ...frames, ping(PROBE)]));
  const done = (): boolean => closed || ended || parser.frames.some((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(PROBE));
  for (let i = 0; i < 1000 && !done(); i++) await new Promise<void>((res) => setImmediate(res));
  assert.ok(done(), 'neither answered nor closed');
  peer.destroy();
  for (let i = 0; i < 1000 && !closed; i++) await new Promise<void>((res) => setImmediate(res));
  return { error, out: parser.frames };
}

const req = (id: number, end = true): Buffer => frame(T.HEADERS, F.END_HEADERS | (end ? F.END_STREAM : 0), id, hpackLiteral([':method', 'POST', ':scheme', 'http', ':path', '/', ':authority', 'x']));
const goawayOf = (out: ParsedFrame[]): number | undefined => {
  const g = out.find((f) => f.type === T.GOAWAY);
  return g === undefined ? undefined : goawayCode(g);
};
const rstOf = (out: ParsedFrame[], id: number): number | undefined => {
  const f = out.find((x) => x.type === T.RST_STREAM && x.streamId === id);
  return f?.payload.readUInt32BE(0);
};

test('targeted: bogus SETTINGS values, window overflows, huge CONTINUATION sequences, truncated header blocks', { timeout: 30_000 }, async () => {
  const cases: Array<[string, Buffer[], (r: { error: Error | undefined; out: ParsedFrame[] }) => void]> = [
    ['INITIAL_WINDOW_SIZE 2^31', [settings([4, 0x80000000])], (r) => assert.equal(goawayOf(r.out), ErrorCode.FLOW_CONTROL_ERROR)],
    ['MAX_FRAME_SIZE 16383', [settings([5, 16383])], (r) => assert.equal(goawayOf(r.out), ErrorCode.PROTOCOL_ERROR)],
    ['MAX_FRAME_SIZE 2^24', [settings([5, 1 << 24])], (r) => assert.equal(goawayOf(r.out), ErrorCode.PROTOCOL_ERROR)],
    ['ENABLE_PUSH 2', [settings([2, 2])], (r) => assert.equal(goawayOf(r.out), ErrorCode.PROTOCOL_ERROR)],
    ['unknown setting ignored', [settings([0xff, 7])], (r) => assert.equal(goawayOf(r.out), undefined)],
    ['connection window overflow', [windowUpdate(0, 0x7fffffff)], (r) => assert.equal(goawayOf(r.out), ErrorCode.FLOW_CONTROL_ERROR)],
    ['stream window overflow', [req(1, false), windowUpdate(1, 0x7fffffff)], (r) => {
      assert.equal(rstOf(r.out, 1), ErrorCode.FLOW_CONTROL_ERROR);
      assert.equal(goawayOf(r.out), undefined);
    }],
    ['INITIAL_WINDOW_SIZE change overflows an open stream', [req(1, false), windowUpdate(1, 0x7fffffff - 65535), settings([4, 65536])], (r) =>
      assert.equal(goawayOf(r.out), ErrorCode.FLOW_CONTROL_ERROR)],
    ['DATA beyond the stream window', [req(1, false), ...Array.from({ length: 70 }, () => data(1, Buffer.alloc(16384)))], (r) =>
      assert.equal(rstOf(r.out, 1) ?? goawayOf(r.out), ErrorCode.FLOW_CONTROL_ERROR)],
    ['huge CONTINUATION sequence', [frame(T.HEADERS, F.END_STREAM, 1, hpackLiteral([':method', 'GET'])), ...Array.from({ length: 500 }, () => continuation(1, Buffer.alloc(16, 0x20), false))], (r) =>
      assert.equal(goawayOf(r.out), ErrorCode.ENHANCE_YOUR_CALM)],
    ['CONTINUATION of 16 KiB frames past twice the header list limit', [frame(T.HEADERS, F.END_STREAM, 1, Buffer.alloc(0)), ...Array.from({ length: 10 }, () => continuation(1, Buffer.alloc(16384, 0x40), false))], (r) =>
      assert.equal(goawayOf(r.out), ErrorCode.ENHANCE_YOUR_CALM)],
    ['truncated header block', [frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, 1, hpackLiteral([':method', 'GET', ':path', '/']).subarray(0, 7))], (r) =>
      assert.equal(goawayOf(r.out), ErrorCode.COMPRESSION_ERROR)],
    ['index beyond the tables', [frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, 1, Buffer.from([0xff, 0x80, 0x01]))], (r) =>
      assert.equal(goawayOf(r.out), ErrorCode.COMPRESSION_ERROR)],
    ['table size update above the limit', [frame(T.HEADERS, F.END_STREAM | F.END_HEADERS, 1, Buffer.from([0x3f, 0xe1, 0xff, 0x03]))], (r) =>
      assert.equal(goawayOf(r.out), ErrorCode.COMPRESSION_ERROR)],
    ['frame larger than SETTINGS_MAX_FRAME_SIZE', [data(1, Buffer.alloc(16385))], (r) => assert.equal(goawayOf(r.out), ErrorCode.FRAME_SIZE_ERROR)],
    ['WINDOW_UPDATE of 0 on the connection', [windowUpdate(0, 0)], (r) => assert.equal(goawayOf(r.out), ErrorCode.PROTOCOL_ERROR)],
  ];
  for (const [name, frames, check] of cases) {
    const r = await feedServer(frames);
    try {
      check(r);
      if (r.error instanceof Http2Error) assert.notEqual(r.error.errorCode, ErrorCode.INTERNAL_ERROR);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message} (close error: ${r.error?.message})`);
    }
  }
});

test('regression: a connection error while DATA waits in the send list ends the connection (no flush spin)', { timeout: 30_000 }, async () => {
  const [engineEnd, peer] = duplexPair();
  const state: { closed: boolean; error: Error | undefined } = { closed: false, error: undefined };
  const conn = acceptHttp2(engineEnd, {
    onStream(_c, s) {
      s.handler = new FuzzStream(() => 0.5);
      // More than the peer's 64 KiB window: the rest waits in the send list.
      s.respond([':status', '200'], false);
      s.sendData(Buffer.alloc(200_000, 0x66), true);
    },
    onClose(_c, e) {
      state.closed = true;
      state.error = e;
    },
  });
  const parser = new FrameParser();
  let ended = false;
  peer.on('data', (c: Buffer) => parser.push(c));
  // The peer does not end its side at once, so the connection stays open (half closed) after its GOAWAY.
  peer.on('end', () => (ended = true));
  // In one read: a request, then a connection error (PING on a stream).
  peer.write(Buffer.concat([PREFACE, settings([]), req(1), frame(T.PING, 0, 1, Buffer.alloc(8))]));
  for (let i = 0; i < 10_000 && !ended; i++) await new Promise<void>((res) => setImmediate(res));
  assert.ok(ended, 'the engine ended its side');
  assert.equal(goawayOf(parser.frames), ErrorCode.PROTOCOL_ERROR);
  // The event loop is still turning (a spinning flush loop would never get here).
  await new Promise<void>((res) => setImmediate(res));
  peer.end();
  for (let i = 0; i < 10_000 && !state.closed; i++) await new Promise<void>((res) => setImmediate(res));
  assert.ok(state.closed);
  assert.ok(state.error instanceof Http2Error, String(state.error));
  conn.destroy();
});
