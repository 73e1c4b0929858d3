/**
 * Back-pressure: a peer that stops reading leaves the engine's memory
 * bounded, and a receiver that does not consume() stops its sender at the
 * advertised window.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Http2Stream, StreamHandler } from '../../src/http2/index.js';
import { startEngineTestServer, header, type EngineTestServer } from '../helpers/engine-test-server.js';
import { connectEngine, engineRequest, get, type EngineClient } from '../helpers/engine-client.js';
import {
  PREFACE, headers, hpackLiteral, getRequest, settings, settingsAck, seededBytes, sha256, until, windowUpdate,
} from '../helpers/engine-frames.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB;
const AHEAD = 128 * KiB;

/** An endless response, produced only on demand: a new chunk once earlier ones left for the socket. */
class Endless implements StreamHandler {
  produced = 0;
  sent = 0;
  onHeaders(): void {}
  onData(s: Http2Stream, d: Buffer): void {
    s.consume(d.length);
  }
  onTrailers(): void {}
  onReset(): void {}
  produce(s: Http2Stream): void {
    while (this.produced - this.sent < AHEAD && !s.closed) {
      this.produced += CHUNK;
      s.sendData(Buffer.alloc(CHUNK, 0x61), false);
    }
  }
  onDataSent(s: Http2Stream, n: number): void {
    this.sent += n;
    this.produce(s);
  }
}

const servers: EngineTestServer[] = [];
const sockets: net.Socket[] = [];
const clients: EngineClient[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  for (const c of clients) c.conn.destroy();
  for (const s of servers) await s.close();
});

async function endlessServer(): Promise<{ srv: EngineTestServer; endless: Endless[]; serverSockets: () => net.Socket[] }> {
  const endless: Endless[] = [];
  const srv = await startEngineTestServer(undefined, (_c, s, h) => {
    if (header(h, ':path') !== '/endless') return false;
    const e = new Endless();
    endless.push(e);
    s.handler = e;
    s.respond([':status', '200'], false);
    e.produce(s);
    return true;
  });
  servers.push(srv);
  const accepted: net.Socket[] = [];
  srv.server.on('connection', (sock) => accepted.push(sock));
  return { srv, endless, serverSockets: () => accepted };
}

/** A raw client that sends the preface, SETTINGS and one request, then never reads. */
function rawNonReader(port: number, bigWindows: boolean): net.Socket {
  const sock = net.connect(port, '127.0.0.1');
  sockets.push(sock);
  sock.on('error', () => {});
  sock.pause();
  const frames: Buffer[] = [PREFACE];
  if (bigWindows) {
    frames.push(settings([4, 0x7fffffff]), windowUpdate(0, 0x7fffffff - 65535));
  } else {
    frames.push(settings([]));
  }
  frames.push(settingsAck(), headers(1, hpackLiteral(getRequest('/endless')), true));
  sock.write(Buffer.concat(frames));
  return sock;
}

/** Waits until `value()` has not changed for `stable` consecutive event-loop turns while `stalled()` holds. */
async function settle(value: () => number, stalled: () => boolean, stable = 2000): Promise<number> {
  let last = -1;
  let same = 0;
  await until(() => {
    const v = value();
    if (v === last && stalled()) same++;
    else same = 0;
    last = v;
    return same >= stable;
  }, 'the stall to settle', 10_000_000);
  return last;
}

test('flow-control stall: a peer that never sends WINDOW_UPDATE gets at most its 64 KiB window; production stops', { timeout: 30_000 }, async () => {
  const { srv, endless } = await endlessServer();
  rawNonReader(srv.port, false);
  await until(() => endless.length === 1, 'the endless stream');
  const e = endless[0]!;
  const produced = await settle(() => e.produced, () => true);
  // 64 KiB may leave (the peer's window); production stops once AHEAD bytes wait in the queue.
  assert.ok(e.sent <= 65535, `sent ${e.sent}`);
  assert.equal(e.sent, 65535);
  assert.ok(produced <= 65535 + AHEAD + CHUNK, `produced ${produced}`);
});

test('socket stall: with 2 GiB windows a non-reading peer bounds production by socket back-pressure, memory stays bounded', { timeout: 30_000 }, async (t) => {
  const { srv, endless, serverSockets } = await endlessServer();
  gc();
  const baseline = process.memoryUsage().arrayBuffers;
  const client = rawNonReader(srv.port, true);
  await until(() => endless.length === 1 && serverSockets().length === 1, 'the endless stream');
  const e = endless[0]!;
  const serverSocket = serverSockets()[0]!;
  const produced = await settle(() => e.produced, () => serverSocket.writableNeedDrain);
  gc();
  const grown = process.memoryUsage().arrayBuffers - baseline;
  // Kernel socket buffers hold most of what left; the engine holds at most a batch and AHEAD bytes.
  const userland = serverSocket.writableLength + (e.produced - e.sent);
  t.diagnostic(`stalled after ${produced} bytes produced; ${userland} in engine/socket buffers; arrayBuffers +${grown}`);
  assert.ok(produced < 16 * MiB, `produced ${produced} bytes into a stalled socket`);
  assert.ok(userland < 2 * MiB, `engine and socket buffers hold ${userland} bytes`);
  assert.ok(grown < 8 * MiB, `arrayBuffers grew by ${grown} bytes`);

  // It is a stall, not a dead connection: once the peer reads, production resumes.
  client.on('data', () => {});
  client.resume();
  await until(() => e.produced > produced + 8 * MiB, 'production to resume');
});

test('engine client without consume(): the node:http2 sender stalls at the advertised 256 KiB window; consume() lets the rest through', { timeout: 30_000 }, async (t) => {
  const size = 4 * MiB;
  const body = seededBytes(size, 31);
  const server = http2.createServer();
  server.on('stream', (stream, h) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-length': h[':path'] === '/small' ? 5 : size });
    stream.end(h[':path'] === '/small' ? 'small' : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const window = 256 * KiB;
  const c = connectEngine(port, { initialWindowSize: window });
  clients.push(c);
  await c.settings;

  let received = 0;
  let consuming = false;
  let stream: Http2Stream | undefined;
  const big = engineRequest(c.conn, get('/big'), {
    noConsume: true,
    onStream: (s) => (stream = s),
    onData: (s, d) => {
      received += d.length;
      if (consuming) s.consume(d.length);
    },
  });
  await until(() => received >= window - 16 * KiB, 'the first window of data');
  // A PING round trip: anything the server sent before its PING ACK has arrived.
  c.conn.ping();
  await until(() => c.conn.pingRtt >= 0, 'the PING ACK');
  assert.ok(received <= window, `received ${received} > window ${window}`);
  assert.ok(received < size);
  const stalledAt = received;

  // Other streams on the connection keep flowing while this one is stalled.
  const other = await engineRequest(c.conn, get('/small'), { keep: true });
  assert.equal(other.body!.toString(), 'small');
  assert.equal(received, stalledAt);

  consuming = true;
  stream!.consume(received);
  const r = await big;
  assert.equal(r.length, size);
  assert.equal(r.sha, sha256(body));
  c.conn.shutdown();
  await c.closed;
});
