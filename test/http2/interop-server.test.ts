/**
 * The engine as SERVER against real clients: curl, nghttp, h2load,
 * node:http2 (with 64 KiB windows both ways) and @grpc/grpc-js.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { startEngineTestServer, type EngineTestServer } from '../helpers/engine-test-server.js';
import { mulberry32, seededBytes, sha256 } from '../helpers/engine-frames.js';
import { have, run } from '../helpers/external-tools.js';

let srv: EngineTestServer;
/** A second server whose receive windows are the RFC minimum, so uploads are flow controlled too. */
let small: EngineTestServer;
let tmp: string;

before(async () => {
  srv = await startEngineTestServer();
  small = await startEngineTestServer({ initialWindowSize: 65535, connectionWindowSize: 65535 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-interop-'));
});

after(async () => {
  await srv?.close();
  await small?.close();
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});


// ------------------------------------------------------------------ curl

test('curl --http2-prior-knowledge: GET a seeded 3 MiB body and POST a 2 MiB body', { timeout: 60_000 }, async (t) => {
  if (!(await have('curl'))) return t.skip('curl is not installed');
  const size = 3 * 1024 * 1024 + 17;
  const got = await run('curl', ['-sS', '--fail', '--http2-prior-knowledge', `http://127.0.0.1:${srv.port}/download?size=${size}&seed=7`]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout.length, size);
  assert.equal(sha256(got.stdout), sha256(seededBytes(size, 7)));

  const body = seededBytes(2 * 1024 * 1024 + 5, 8);
  const file = path.join(tmp, 'curl-upload.bin');
  fs.writeFileSync(file, body);
  for (const route of ['buffered-echo', 'echo']) {
    const posted = await run('curl', [
      '-sS', '--fail', '--http2-prior-knowledge', '-H', 'content-type: application/octet-stream',
      '--data-binary', `@${file}`, `http://127.0.0.1:${srv.port}/${route}`,
    ]);
    assert.equal(posted.code, 0, posted.stderr);
    assert.equal(sha256(posted.stdout), sha256(body), `${route} body`);
  }
});

// ------------------------------------------------------------------ nghttp

test('nghttp -nv GET and nghttp -d upload', { timeout: 60_000 }, async (t) => {
  if (!(await have('nghttp'))) return t.skip('nghttp is not installed');
  const v = await run('nghttp', ['-nv', `http://127.0.0.1:${srv.port}/download?size=300000&seed=3`]);
  assert.equal(v.code, 0, v.stderr);
  const out = v.stdout.toString();
  assert.match(out, /recv HEADERS frame/);
  assert.match(out, /:status: 200/);
  assert.match(out, /recv DATA frame <length=\d+, flags=0x01, stream_id=\d+>/);
  assert.doesNotMatch(out, /GOAWAY.*error_code=(?!NO_ERROR)/);

  const body = seededBytes(1_500_000, 4);
  const file = path.join(tmp, 'nghttp-upload.bin');
  fs.writeFileSync(file, body);
  for (const route of ['buffered-echo', 'echo']) {
    const up = await run('nghttp', ['-d', file, `http://127.0.0.1:${srv.port}/${route}`]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(sha256(up.stdout), sha256(body), `${route} body`);
  }
});

// ------------------------------------------------------------------ h2load

test('h2load -n 2000 -c 2 -m 20: every request succeeds', { timeout: 60_000 }, async (t) => {
  if (!(await have('h2load'))) return t.skip('h2load is not installed');
  const r = await run('h2load', ['-n', '2000', '-c', '2', '-m', '20', `http://127.0.0.1:${srv.port}/`]);
  const out = r.stdout.toString();
  assert.equal(r.code, 0, out + r.stderr);
  assert.match(out, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
  assert.match(out, /status codes: 2000 2xx/);
});

// ------------------------------------------------------------------ node:http2

interface NodeResponse {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  sha: string;
  length: number;
}

function nodeRequest(session: http2.ClientHttp2Session, reqHeaders: http2.OutgoingHttpHeaders, body?: Buffer): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = session.request(reqHeaders, { endStream: body === undefined });
    const hash = createHash('sha256');
    let length = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (headers = h));
    req.on('trailers', (h) => (trailers = h));
    req.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    req.on('end', () => resolve({ status: Number(headers[':status']), headers, trailers, sha: hash.digest('hex'), length }));
    req.on('error', reject);
    if (body !== undefined) {
      // Written in slices so node's own buffering is exercised as a real upload.
      let off = 0;
      const pump = (): void => {
        while (off < body.length) {
          const end = Math.min(off + 256 * 1024, body.length);
          const ok = req.write(body.subarray(off, end));
          off = end;
          if (!ok) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    }
  });
}

function connectNode(port: number, settings?: http2.Settings): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    // node refuses new streams with ENHANCE_YOUR_CALM past maxSessionMemory (10 MB by default).
    const s = http2.connect(`http://127.0.0.1:${port}`, { settings, maxSessionMemory: 1024 });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function closeSession(s: http2.ClientHttp2Session): Promise<void> {
  return new Promise((r) => {
    if (s.closed || s.destroyed) return r();
    s.close(() => r());
  });
}

test('node:http2 client: 400 concurrent echo streams with seeded bodies', { timeout: 60_000 }, async (t) => {
  const session = await connectNode(srv.port);
  t.after(() => closeSession(session));
  const rnd = mulberry32(42);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 400; i++) {
    const size = i % 10 === 0 ? 0 : Math.floor(rnd() * 200_000);
    const body = seededBytes(size, 1000 + i);
    const route = i % 2 === 0 ? '/echo' : '/buffered-echo';
    jobs.push(
      nodeRequest(session, { ':method': 'POST', ':path': route }, body).then((r) => {
        assert.equal(r.status, 200);
        assert.equal(r.length, size, `stream ${i} length`);
        assert.equal(r.sha, sha256(body), `stream ${i} body`);
        const announced = route === '/echo' ? r.trailers['x-sha256'] : r.headers['x-sha256'];
        assert.equal(announced, sha256(body), `stream ${i} server checksum`);
      }),
    );
  }
  await Promise.all(jobs);
});

test('node:http2 client with 64 KiB windows: 64 MiB download and 64 MiB upload+echo, sha256 verified', { timeout: 60_000 }, async (t) => {
  const session = await connectNode(small.port, { initialWindowSize: 65535 });
  t.after(() => closeSession(session));
  const size = 64 * 1024 * 1024;
  const body = seededBytes(size, 99);
  const expected = sha256(body);

  const down = await nodeRequest(session, { ':path': `/download?size=${size}&seed=99` });
  assert.equal(down.status, 200);
  assert.equal(down.length, size);
  assert.equal(down.sha, expected);

  const up = await nodeRequest(session, { ':method': 'POST', ':path': '/echo' }, body);
  assert.equal(up.status, 200);
  assert.equal(up.length, size);
  assert.equal(up.sha, expected);
  assert.equal(up.trailers['x-sha256'], expected);
  assert.equal(up.trailers['x-length'], String(size));
});

// ------------------------------------------------------------------ gRPC

const identity = (b: Buffer): Buffer => b;
function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/test.Echo/${name}`,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}
const ECHO_SERVICE = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
};

type UnaryCb = (err: grpc.ServiceError | null, res?: Buffer) => void;
interface EchoClient extends grpc.Client {
  Unary(req: Buffer, md: grpc.Metadata, cb: UnaryCb): grpc.ClientUnaryCall;
  ServerStream(req: Buffer, md: grpc.Metadata): grpc.ClientReadableStream<Buffer>;
  ClientStream(md: grpc.Metadata, cb: UnaryCb): grpc.ClientWritableStream<Buffer>;
  Bidi(md: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer>;
}

function grpcClient(port: number): EchoClient {
  const Ctor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'test.Echo');
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  }) as unknown as EchoClient;
}

function meta(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-meta', 'hello-metadata');
  md.set('x-meta-bin', Buffer.from([0, 1, 2, 0xfe, 0xff]));
  return md;
}

function checkMeta(md: grpc.Metadata, where: string): void {
  assert.deepEqual(md.get('x-meta'), ['hello-metadata'], `${where}: x-meta`);
  const bin = md.get('x-meta-bin');
  assert.equal(bin.length, 1, `${where}: x-meta-bin`);
  assert.deepEqual(Buffer.from(bin[0] as Buffer), Buffer.from([0, 1, 2, 0xfe, 0xff]), `${where}: x-meta-bin value`);
}

test('@grpc/grpc-js client: unary, server, client and bidi streaming with 4 MiB messages, metadata and trailers', { timeout: 60_000 }, async (t) => {
  const client = grpcClient(srv.port);
  t.after(() => client.close());
  const big = seededBytes(4 * 1024 * 1024, 5);

  // Unary with a 4 MiB message; metadata echoed in headers and trailers.
  await new Promise<void>((resolve, reject) => {
    let headersMd: grpc.Metadata | undefined;
    const call = client.Unary(big, meta(), (err, res) => {
      if (err) return reject(err);
      try {
        assert.equal(sha256(res!), sha256(big));
      } catch (e) {
        reject(e);
      }
    });
    call.on('metadata', (md) => (headersMd = md));
    call.on('status', (st: grpc.StatusObject) => {
      try {
        assert.equal(st.code, grpc.status.OK);
        assert.ok(headersMd !== undefined, 'response headers metadata');
        checkMeta(headersMd!, 'headers');
        checkMeta(st.metadata, 'trailers');
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  });

  // Server streaming: 5 copies of each message.
  {
    const md = meta();
    md.set('x-copies', '5');
    const call = client.ServerStream(Buffer.from('copy me'), md);
    const got: Buffer[] = [];
    call.on('data', (m: Buffer) => got.push(m));
    const st = await new Promise<grpc.StatusObject>((resolve, reject) => {
      call.on('status', resolve);
      call.on('error', reject);
    });
    assert.equal(st.code, grpc.status.OK);
    assert.equal(got.length, 5);
    for (const m of got) assert.equal(m.toString(), 'copy me');
    checkMeta(st.metadata, 'server-stream trailers');
  }

  // Client streaming: one reply with the count, including a 4 MiB message and an empty one.
  {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const call = client.ClientStream(meta(), (err, res) => (err ? reject(err) : resolve(res!)));
      for (let i = 0; i < 9; i++) call.write(Buffer.from(`m${i}`));
      call.write(big);
      call.write(Buffer.alloc(0));
      call.end();
    });
    assert.equal(reply.toString(), '11');
  }

  // Bidi: each message echoed in order; sizes straddle DATA frame boundaries.
  {
    const rnd = mulberry32(77);
    const sent: Buffer[] = [];
    const call = client.Bidi(meta());
    const got: Buffer[] = [];
    call.on('data', (m: Buffer) => got.push(m));
    const done = new Promise<grpc.StatusObject>((resolve, reject) => {
      call.on('status', resolve);
      call.on('error', reject);
    });
    for (let i = 0; i < 40; i++) {
      const m = seededBytes(i === 20 ? big.length : Math.floor(rnd() * 70_000), 300 + i);
      sent.push(m);
      call.write(m);
    }
    call.end();
    const st = await done;
    assert.equal(st.code, grpc.status.OK);
    assert.equal(got.length, sent.length);
    for (let i = 0; i < sent.length; i++) assert.equal(sha256(got[i]!), sha256(sent[i]!), `bidi message ${i}`);
    checkMeta(st.metadata, 'bidi trailers');
  }
});

test('@grpc/grpc-js client: a non-OK status with grpc-message', { timeout: 30_000 }, async (t) => {
  const client = grpcClient(srv.port);
  t.after(() => client.close());
  const md = meta();
  md.set('x-fail-code', String(grpc.status.FAILED_PRECONDITION));
  const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
    client.Unary(Buffer.from('x'), md, (e) => (e ? resolve(e) : reject(new Error('expected an error'))));
  });
  assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(err.details, 'requested failure');
  checkMeta(err.metadata, 'trailers-only');
});
