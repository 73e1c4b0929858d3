/**
 * The engine as CLIENT (connectHttp2 over node:net) against node:http2,
 * nginx (h2c) and @grpc/grpc-js servers; peer SETTINGS, GOAWAY and
 * keepalive behaviour.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  engineCounters, ErrorCode, Http2ConnectionClosedError, ResetReason, type Http2Stream,
} from '../../src/http2/index.js';
import { connectEngine, engineRequest, field, get, StreamResetError, type EngineClient } from '../helpers/engine-client.js';
import { GrpcMessageReader, grpcFrame } from '../helpers/engine-test-server.js';
import {
  FrameParser, PREFACE, freePort, mulberry32, seededBytes, settings, settingsAck, sha256, until, within,
} from '../helpers/engine-frames.js';

const MiB = 1024 * 1024;
const clients: EngineClient[] = [];
function client(port: number, options?: Parameters<typeof connectEngine>[1], extra?: Parameters<typeof connectEngine>[2]): EngineClient {
  const c = connectEngine(port, options, extra);
  clients.push(c);
  return c;
}
after(() => {
  for (const c of clients) c.conn.destroy();
});

// ------------------------------------------------------------------ node:http2 server

interface NodeServer {
  server: http2.Http2Server;
  port: number;
  /** Streams of /hold requests, not yet answered. */
  held: http2.ServerHttp2Stream[];
  sessions: Set<http2.ServerHttp2Session>;
  onHold?: () => void;
  close(): Promise<void>;
}

function startNodeServer(settingsIn: http2.Settings): Promise<NodeServer> {
  const server = http2.createServer({ settings: settingsIn, maxSessionMemory: 1024 });
  const ns: NodeServer = {
    server,
    port: 0,
    held: [],
    sessions: new Set(),
    close: () =>
      new Promise<void>((r) => {
        for (const s of ns.sessions) s.destroy();
        server.close(() => r());
      }),
  };
  server.on('session', (s) => {
    ns.sessions.add(s);
    s.on('close', () => ns.sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const url = new URL(String(headers[':path']), 'http://x');
    if (url.pathname === '/download') {
      const size = Number(url.searchParams.get('size'));
      const body = seededBytes(size, Number(url.searchParams.get('seed')));
      stream.respond({ ':status': 200, 'content-length': size });
      stream.end(body);
    } else if (url.pathname === '/echo') {
      const hash = createHash('sha256');
      let n = 0;
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-sha256': hash.digest('hex'), 'x-length': String(n) }));
      stream.on('data', (c: Buffer) => {
        hash.update(c);
        n += c.length;
      });
      stream.pipe(stream);
    } else if (url.pathname === '/hold') {
      stream.resume();
      ns.held.push(stream);
      ns.onHold?.();
    } else {
      stream.respond({ ':status': 200 });
      stream.end('hello\n');
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      ns.port = (server.address() as net.AddressInfo).port;
      resolve(ns);
    });
  });
}

let nodeSrv: NodeServer;
before(async () => {
  nodeSrv = await startNodeServer({ initialWindowSize: 65535 });
});
after(() => nodeSrv?.close());

test('node:http2 server (64 KiB windows): 64 MiB download and 64 MiB upload echo, both ways flow controlled', { timeout: 60_000 }, async () => {
  const c = client(nodeSrv.port, { initialWindowSize: 65535, connectionWindowSize: 65535 });
  const size = 64 * MiB;
  const body = seededBytes(size, 21);
  const expected = sha256(body);

  const down = await engineRequest(c.conn, get(`/download?size=${size}&seed=21`));
  assert.equal(down.status, 200);
  assert.equal(down.length, size);
  assert.equal(down.sha, expected);

  const up = await engineRequest(c.conn, get('/echo', 'localhost', 'POST'), { body });
  assert.equal(up.status, 200);
  assert.equal(up.length, size);
  assert.equal(up.sha, expected);
  assert.equal(field(up.trailers, 'x-sha256'), expected);
  c.conn.shutdown();
  assert.equal(await c.closed, undefined);
});

test('node:http2 server: 200 concurrent mixed requests on one connection', { timeout: 60_000 }, async () => {
  const c = client(nodeSrv.port);
  await c.settings;
  const rnd = mulberry32(5);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) {
    const size = Math.floor(rnd() * 300_000);
    const body = seededBytes(size, 500 + i);
    await until(() => c.conn.canRequest, 'a free stream slot');
    jobs.push(
      (i % 2 === 0
        ? engineRequest(c.conn, get('/echo', 'localhost', 'POST'), { body })
        : engineRequest(c.conn, get(`/download?size=${size}&seed=${500 + i}`))
      ).then((r) => {
        assert.equal(r.status, 200);
        assert.equal(r.length, size);
        assert.equal(r.sha, sha256(body), `request ${i}`);
      }),
    );
  }
  await Promise.all(jobs);
});

test('the peer SETTINGS_MAX_CONCURRENT_STREAMS (5) limits canRequest', { timeout: 30_000 }, async (t) => {
  const ns = await startNodeServer({ maxConcurrentStreams: 5 });
  t.after(() => ns.close());
  const c = client(ns.port);
  await c.settings;
  assert.equal(c.conn.peerMaxStreams, 5);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 5; i++) {
    assert.equal(c.conn.canRequest, true, `slot ${i}`);
    pending.push(engineRequest(c.conn, get('/hold')));
  }
  assert.equal(c.conn.canRequest, false);
  assert.equal(c.conn.localActive, 5);
  await until(() => ns.held.length === 5, 'five held streams at the server');
  const first = ns.held.shift()!;
  first.respond({ ':status': 200 });
  first.end('done');
  await pending[0];
  assert.equal(c.conn.canRequest, true);
  assert.equal(c.conn.localActive, 4);
  for (const s of ns.held.splice(0)) {
    s.respond({ ':status': 200 });
    s.end();
  }
  await Promise.all(pending);
  c.conn.shutdown();
  await c.closed;
});

test('GOAWAY from node:http2: streams above last-stream-id are reported UNPROCESSED, stream 1 completes', { timeout: 30_000 }, async (t) => {
  const ns = await startNodeServer({});
  t.after(() => ns.close());
  let goaway: [number, number] | undefined;
  const c = client(ns.port, undefined, { onGoaway: (_c, last, code) => (goaway = [last, code]) });
  await c.settings;
  const first = engineRequest(c.conn, get('/hold'), { keep: true });
  await until(() => ns.held.length === 1, 'stream 1 at the server');
  const later = [engineRequest(c.conn, get('/hold')), engineRequest(c.conn, get('/hold'))];
  await until(() => ns.held.length === 3, 'streams 3 and 5 at the server');
  const session = ns.held[0]!.session!;
  session.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
  for (const p of later) {
    const err = await p.then(
      () => assert.fail('a stream above last-stream-id completed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StreamResetError, String(err));
    assert.equal(err.reason, ResetReason.UNPROCESSED);
  }
  assert.deepEqual(goaway, [1, ErrorCode.NO_ERROR]);
  assert.equal(c.conn.canRequest, false);
  const s1 = ns.held[0]!;
  s1.respond({ ':status': 200 });
  s1.end('finished');
  const r = await first;
  assert.equal(r.stream.id, 1);
  assert.equal(r.body!.toString(), 'finished');
  // No streams left after GOAWAY: the engine closes the connection.
  assert.equal(await within(c.closed, 10_000, 'close after GOAWAY'), undefined);
});

test('graceful session.close() from node:http2: in-flight stream completes, then a clean close', { timeout: 30_000 }, async (t) => {
  const ns = await startNodeServer({});
  t.after(() => ns.close());
  const c = client(ns.port);
  await c.settings;
  const p = engineRequest(c.conn, get('/hold'), { keep: true });
  await until(() => ns.held.length === 1, 'held stream');
  const s = ns.held[0]!;
  s.session!.close();
  await until(() => c.conn.goawayReceived, 'GOAWAY at the client');
  assert.equal(c.conn.canRequest, false);
  s.respond({ ':status': 200 });
  s.end('bye');
  assert.equal((await p).body!.toString(), 'bye');
  assert.equal(await within(c.closed, 10_000, 'close'), undefined);
});

test('keepalive: a peer that stops answering PING is closed with an error', { timeout: 30_000 }, async (t) => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => {});
    // Complete the preface/SETTINGS exchange by hand, then read and never answer.
    const parser = new FrameParser();
    let prefaceLeft = PREFACE.length;
    let answered = false;
    sock.on('data', (chunk: Buffer) => {
      if (prefaceLeft > 0) {
        const n = Math.min(prefaceLeft, chunk.length);
        prefaceLeft -= n;
        chunk = chunk.subarray(n);
      }
      for (const f of parser.push(chunk)) {
        if (!answered && f.type === 4 && (f.flags & 1) === 0) {
          answered = true;
          sock.write(Buffer.concat([settings([]), settingsAck()]));
        }
      }
    });
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const before = engineCounters.keepaliveTimeouts;
  const c = client((silent.address() as net.AddressInfo).port, { keepaliveInterval: 200, keepaliveTimeout: 500 });
  await c.settings;
  const err = await within(c.closed, 5_000, 'keepalive close');
  assert.ok(err instanceof Http2ConnectionClosedError, String(err));
  assert.match(err.message, /keepalive/);
  assert.equal(engineCounters.keepaliveTimeouts, before + 1);
});

// ------------------------------------------------------------------ nginx

function findNginx(): string | undefined {
  for (const p of ['nginx', '/usr/sbin/nginx']) {
    const r = spawnSync(p, ['-v'], { encoding: 'utf8' });
    if (r.error === undefined && r.status === 0) return p;
  }
  return undefined;
}

test('nginx (h2c): static files up to 64 MiB, HEAD and 404', { timeout: 60_000 }, async (t) => {
  const bin = findNginx();
  if (bin === undefined) return t.skip('nginx is not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-nginx-'));
  const root = path.join(dir, 'www');
  fs.mkdirSync(root);
  const big = seededBytes(64 * MiB, 64);
  fs.writeFileSync(path.join(root, 'big.bin'), big);
  const small = seededBytes(10_000, 10);
  fs.writeFileSync(path.join(root, 'small.bin'), small);
  const port = await freePort();
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { application/octet-stream bin; }
  server {
    listen 127.0.0.1:${port} http2;
    root ${root};
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc: ChildProcess = spawn(bin, ['-p', dir, '-e', `${dir}/error.log`, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  t.after(async () => {
    proc.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Wait until nginx accepts connections (bounded number of attempts, each an event).
  let up = false;
  for (let i = 0; i < 200 && !up && proc.exitCode === null; i++) {
    up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => setTimeout(() => resolve(false), 25));
    });
  }
  assert.ok(up, `nginx did not start: ${stderr}`);

  const c = client(port);
  const [b, s, h, missing] = await Promise.all([
    engineRequest(c.conn, get('/big.bin')),
    engineRequest(c.conn, get('/small.bin'), { keep: true }),
    engineRequest(c.conn, get('/big.bin', 'localhost', 'HEAD')),
    engineRequest(c.conn, get('/missing.bin')),
  ]);
  assert.equal(b.status, 200);
  assert.equal(b.length, big.length);
  assert.equal(b.sha, sha256(big));
  assert.equal(field(b.headers, 'content-length'), String(big.length));
  assert.equal(s.status, 200);
  assert.deepEqual(s.body, small);
  assert.equal(h.status, 200);
  assert.equal(h.length, 0);
  assert.equal(field(h.headers, 'content-length'), String(big.length));
  assert.equal(missing.status, 404);

  // Twenty small files in parallel on the same connection.
  const many = await Promise.all(Array.from({ length: 20 }, () => engineRequest(c.conn, get('/small.bin'))));
  for (const r of many) assert.equal(r.sha, sha256(small));
  c.conn.shutdown();
  assert.equal(await within(c.closed, 10_000, 'nginx close'), undefined);
});

// ------------------------------------------------------------------ gRPC server

const identity = (b: Buffer): Buffer => b;
function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/test.Echo/${name}`, requestStream, responseStream,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  };
}

function echoMeta(md: grpc.Metadata): grpc.Metadata {
  const out = new grpc.Metadata();
  for (const [k, v] of Object.entries(md.getMap())) if (k.startsWith('x-') && k !== 'x-copies' && k !== 'x-fail-code') out.set(k, v);
  return out;
}

function failure(md: grpc.Metadata): grpc.ServiceError | null {
  const code = md.get('x-fail-code')[0];
  if (code === undefined) return null;
  return Object.assign(new Error('requested failure'), { code: Number(code), details: 'requested failure', metadata: echoMeta(md) });
}

async function startGrpcServer(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  server.addService(
    {
      Unary: method('Unary', false, false),
      ServerStream: method('ServerStream', false, true),
      ClientStream: method('ClientStream', true, false),
      Bidi: method('Bidi', true, true),
    },
    {
      Unary(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
        const f = failure(call.metadata);
        if (f !== null) return cb(f);
        call.sendMetadata(echoMeta(call.metadata));
        cb(null, call.request, echoMeta(call.metadata));
      },
      ServerStream(call: grpc.ServerWritableStream<Buffer, Buffer>) {
        const n = Number(call.metadata.get('x-copies')[0] ?? 3);
        call.sendMetadata(echoMeta(call.metadata));
        for (let i = 0; i < n; i++) call.write(call.request);
        call.end(echoMeta(call.metadata));
      },
      ClientStream(call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
        let count = 0;
        call.on('data', () => count++);
        call.on('end', () => cb(null, Buffer.from(String(count)), echoMeta(call.metadata)));
      },
      Bidi(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
        call.sendMetadata(echoMeta(call.metadata));
        call.on('data', (m: Buffer) => call.write(m));
        call.on('end', () => call.end(echoMeta(call.metadata)));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, port };
}

interface GrpcResult {
  messages: Buffer[];
  headers: string[];
  trailers: string[];
}

/** One gRPC call over a raw engine stream: HEADERS, length-prefixed DATA, trailers. */
function grpcCall(ec: EngineClient, port: number, name: string, messages: Buffer[], extraHeaders: string[] = []): Promise<GrpcResult> {
  const reader = new GrpcMessageReader();
  const out: Buffer[] = [];
  const body = Buffer.concat(messages.map(grpcFrame));
  return engineRequest(
    ec.conn,
    [
      ':method', 'POST', ':scheme', 'http', ':path', `/test.Echo/${name}`, ':authority', `127.0.0.1:${port}`,
      'content-type', 'application/grpc', 'te', 'trailers', ...extraHeaders,
    ],
    { body, onData: (_s: Http2Stream, d: Buffer) => out.push(...reader.push(d)) },
  ).then((r) => {
    assert.equal(r.status, 200);
    assert.equal(reader.pending, 0, 'no partial gRPC message left');
    // Trailers-Only responses carry grpc-status in the headers.
    return { messages: out, headers: r.headers, trailers: r.trailers.length > 0 ? r.trailers : r.headers };
  });
}

test('@grpc/grpc-js server: all four call kinds over raw engine streams, 4 MiB messages, metadata, trailers, errors', { timeout: 60_000 }, async (t) => {
  const g = await startGrpcServer();
  t.after(() => g.server.forceShutdown());
  const c = client(g.port);
  const bin = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  const md = ['x-meta', 'hello-metadata', 'x-meta-bin', bin.toString('base64')];
  const big = seededBytes(4 * MiB, 6);
  const checkMd = (h: string[], where: string): void => {
    assert.equal(field(h, 'x-meta'), 'hello-metadata', where);
    assert.deepEqual(Buffer.from(field(h, 'x-meta-bin') ?? '', 'base64'), bin, where);
  };

  const unary = await grpcCall(c, g.port, 'Unary', [big], md);
  assert.equal(field(unary.trailers, 'grpc-status'), '0');
  assert.equal(unary.messages.length, 1);
  assert.equal(sha256(unary.messages[0]!), sha256(big));
  assert.match(field(unary.headers, 'content-type') ?? '', /^application\/grpc/);
  checkMd(unary.headers, 'unary headers');
  checkMd(unary.trailers, 'unary trailers');

  const ss = await grpcCall(c, g.port, 'ServerStream', [Buffer.from('copy')], ['x-copies', '7', ...md]);
  assert.equal(field(ss.trailers, 'grpc-status'), '0');
  assert.deepEqual(ss.messages.map(String), Array(7).fill('copy'));
  checkMd(ss.trailers, 'server-stream trailers');

  const cs = await grpcCall(c, g.port, 'ClientStream', [Buffer.from('a'), big, Buffer.alloc(0), Buffer.from('b')], md);
  assert.equal(field(cs.trailers, 'grpc-status'), '0');
  assert.deepEqual(cs.messages.map(String), ['4']);
  checkMd(cs.trailers, 'client-stream trailers');

  const rnd = mulberry32(3);
  const sent = Array.from({ length: 30 }, (_, i) => seededBytes(i === 15 ? 4 * MiB : Math.floor(rnd() * 50_000), 700 + i));
  const bidi = await grpcCall(c, g.port, 'Bidi', sent, md);
  assert.equal(field(bidi.trailers, 'grpc-status'), '0');
  assert.equal(bidi.messages.length, sent.length);
  for (let i = 0; i < sent.length; i++) assert.equal(sha256(bidi.messages[i]!), sha256(sent[i]!), `bidi ${i}`);

  const failed = await grpcCall(c, g.port, 'Unary', [Buffer.from('x')], ['x-fail-code', String(grpc.status.NOT_FOUND), ...md]);
  assert.equal(field(failed.trailers, 'grpc-status'), String(grpc.status.NOT_FOUND));
  assert.equal(decodeURIComponent(field(failed.trailers, 'grpc-message') ?? ''), 'requested failure');
  assert.equal(failed.messages.length, 0);

  const unknown = await grpcCall(c, g.port, 'Nope', [Buffer.from('x')]);
  assert.equal(field(unknown.trailers, 'grpc-status'), String(grpc.status.UNIMPLEMENTED));
  c.conn.shutdown();
  await c.closed;
});
