import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { echoClient, startEchoServer, unary, type EchoClient, type EchoMessage, type EchoServer } from '../helpers/grpc-echo.js';
import { startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';

let servers: EchoServer[] = [];
let proxy: RunningProxy;
let client: EchoClient;

before(async () => {
  servers = [await startEchoServer('g1'), await startEchoServer('g2')];
  proxy = await startProxy({
    listeners: [{ name: 'grpc', listen: '127.0.0.1:0', protocol: 'auto', service: 'echo' }],
    services: [{ name: 'echo', balancer: 'round-robin', endpoints: servers.map((s) => `127.0.0.1:${s.port}`) }],
  });
  await waitReady(proxy);
  client = echoClient(proxy.port());
});

after(async () => {
  client.close();
  await proxy.stop();
  for (const s of servers) s.close();
});

test('unary calls are balanced per request over one client connection', async () => {
  const seen = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const { reply } = await unary(client, { text: `hi ${i}` });
    assert.equal(reply.text, `hi ${i}`);
    seen.set(reply.backend!, (seen.get(reply.backend!) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries([...seen].sort()), { g1: 10, g2: 10 });
});

test('custom and -bin metadata pass both ways, in headers and trailers', async () => {
  const md = new grpc.Metadata();
  md.set('x-custom', 'value-1');
  md.set('x-blob-bin', Buffer.from([0, 1, 2, 250, 255]));
  const { initial, trailing } = await unary(client, { text: 'md' }, { metadata: md });
  assert.ok(initial, 'response headers arrived');
  assert.deepEqual(initial!.get('x-custom'), ['value-1']);
  assert.deepEqual(initial!.get('x-blob-bin'), [Buffer.from([0, 1, 2, 250, 255])]);
  assert.deepEqual(trailing!.get('x-custom-trailer'), ['value-1']);
  assert.deepEqual(trailing!.get('x-blob-trailer-bin'), [Buffer.from([0, 1, 2, 250, 255])]);
  const seenByServer = servers.map((s) => s.lastMetadata?.get('x-custom')[0]).filter(Boolean);
  assert.ok(seenByServer.includes('value-1'));
});

test('every gRPC status code and its message reach the client', async () => {
  for (let code = 1; code <= 16; code++) {
    await assert.rejects(unary(client, { text: `code ${code}`, failCode: code }), (e: grpc.ServiceError) => {
      assert.equal(e.code, code, `status ${code}`);
      assert.equal(e.details, `failing as asked: code ${code}`);
      return true;
    });
  }
});

test('4 MiB messages both ways', async () => {
  const payload = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
  const { reply } = await unary(client, { text: 'big', payload });
  assert.equal(reply.payload!.length, payload.length);
  assert.equal(createHash('sha256').update(reply.payload!).digest('hex'), createHash('sha256').update(payload).digest('hex'));
});

test('server streaming delivers every message in order', async () => {
  const got: EchoMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.ServerStream({ text: 's', count: 200 }) as grpc.ClientReadableStream<EchoMessage>;
    call.on('data', (m: EchoMessage) => got.push(m));
    call.on('error', reject);
    call.on('end', () => resolve());
  });
  assert.equal(got.length, 200);
  got.forEach((m, i) => assert.equal(m.text, `s-${i}`));
});

test('client streaming and bidi streaming relay message by message', async () => {
  const summary = await new Promise<EchoMessage>((resolve, reject) => {
    const call = client.ClientStream((err: grpc.ServiceError | null, r: EchoMessage) => (err ? reject(err) : resolve(r))) as grpc.ClientWritableStream<EchoMessage>;
    for (let i = 0; i < 100; i++) call.write({ payload: Buffer.alloc(1000, i) });
    call.end();
  });
  assert.equal(summary.count, 100);
  assert.equal(summary.text, '100000');

  const bidi = client.Bidi() as grpc.ClientDuplexStream<EchoMessage, EchoMessage>;
  const received: string[] = [];
  // Each answer arrives before the next request is sent: nothing is buffered whole.
  for (let i = 0; i < 50; i++) {
    const next = new Promise<EchoMessage>((r) => bidi.once('data', r));
    bidi.write({ text: `b${i}` });
    received.push((await next).text!);
  }
  const ended = new Promise<void>((r) => bidi.on('end', () => r()));
  bidi.on('data', () => {});
  bidi.end();
  await ended;
  assert.deepEqual(received, Array.from({ length: 50 }, (_, i) => `b${i}`));
});

test('a client cancel reaches the server', async () => {
  const before = servers.reduce((n, s) => n + s.cancelled, 0);
  const call = client.ServerStream({ text: 'c', count: 1000, delayMs: 20 }) as grpc.ClientReadableStream<EchoMessage>;
  await new Promise<void>((r) => call.once('data', () => r()));
  const status = new Promise<grpc.StatusObject>((r) => call.on('status', r));
  call.on('error', () => {});
  call.cancel();
  assert.equal((await status).code, grpc.status.CANCELLED);
  for (let i = 0; i < 200 && servers.reduce((n, s) => n + s.cancelled, 0) === before; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(servers.reduce((n, s) => n + s.cancelled, 0), before + 1, 'the server saw the cancellation');
});

test('deadlines: grpc-timeout passes through and an expired call is DEADLINE_EXCEEDED', async () => {
  const t0 = performance.now();
  await assert.rejects(unary(client, { text: 'slow', delayMs: 3000 }, { deadlineMs: 200 }), (e: grpc.ServiceError) => {
    assert.equal(e.code, grpc.status.DEADLINE_EXCEEDED);
    return true;
  });
  assert.ok(performance.now() - t0 < 2500, 'did not wait for the slow server');
  const md = servers.map((s) => s.lastMetadata).find((m) => m !== undefined);
  assert.ok(md, 'server saw the call');
});

test('trailers-only error responses pass through unchanged', async () => {
  await assert.rejects(unary(client, { text: 'x', failCode: grpc.status.NOT_FOUND }), (e: grpc.ServiceError) => {
    assert.equal(e.code, grpc.status.NOT_FOUND);
    return true;
  });
});
