import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import pino from 'pino';
import { formatTap } from '../../src/cli/tap.js';
import { startEchoServer, type EchoClient, type EchoMessage } from '../helpers/grpc-echo.js';
import { CLIENT_ID, listenerPki } from '../helpers/listener-tls.js';
import { waitReady } from '../helpers/proxy-harness.js';
import { getText, samples, startTelemetryProxy, tap } from '../telemetry/harness.js';

function echoCtor(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(path.resolve('test/fixtures/echo.proto'), { defaults: true, keepCase: false });
  return (grpc.loadPackageDefinition(def).test as grpc.GrpcObject).Echo as grpc.ServiceClientConstructor;
}

function unary(c: EchoClient, req: EchoMessage): Promise<EchoMessage> {
  return new Promise((resolve, reject) => {
    c.Unary(req, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, reply: EchoMessage) => (err ? reject(err) : resolve(reply)));
  });
}

function collect(call: grpc.ClientReadableStream<EchoMessage> | grpc.ClientDuplexStream<EchoMessage, EchoMessage>): Promise<EchoMessage[]> {
  return new Promise((resolve, reject) => {
    const out: EchoMessage[] = [];
    call.on('data', (m: EchoMessage) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

test('gRPC over TLS with ALPN h2 and a client certificate: all four call kinds reach a plaintext grpc-js backend; the identity shows in tap, access log and tap lines', async (t) => {
  const pki = listenerPki();
  const backend = await startEchoServer('echo');
  const access: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') access.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'echo', tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert } }],
    services: [{ name: 'echo', endpoints: [`127.0.0.1:${backend.port}`] }],
  }, { accessLog: pino({ base: null }, sink) });
  const Echo = echoCtor();
  const clients: grpc.Client[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await p.stop();
    backend.close();
    pki.cleanup();
  });
  await waitReady({ proxy: p.proxy } as never);
  const client = (creds: grpc.ChannelCredentials): EchoClient => {
    const c = new Echo(`127.0.0.1:${p.port()}`, creds, { 'grpc.use_local_subchannel_pool': 1 }) as unknown as EchoClient;
    clients.push(c);
    return c;
  };
  const events = await tap(p.adminUrl, 'listener=edge');
  const c = client(grpc.credentials.createSsl(Buffer.from(pki.ca.certPem), Buffer.from(pki.client.keyPem), Buffer.from(pki.client.certPem)));

  assert.equal((await unary(c, { text: 'one' })).text, 'one');

  const server = await collect(c.ServerStream({ text: 's', count: 5 }, new grpc.Metadata(), { deadline: Date.now() + 5000 }) as grpc.ClientReadableStream<EchoMessage>);
  assert.deepEqual(server.map((m) => m.text), ['s-0', 's-1', 's-2', 's-3', 's-4']);

  const sum = await new Promise<EchoMessage>((resolve, reject) => {
    const call = c.ClientStream(new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, r: EchoMessage) => (err ? reject(err) : resolve(r))) as grpc.ClientWritableStream<EchoMessage>;
    for (let i = 0; i < 4; i++) call.write({ payload: Buffer.alloc(1000, i) });
    call.end();
  });
  assert.equal(sum.count, 4);
  assert.equal(sum.text, '4000');

  const bidi = c.Bidi(new grpc.Metadata(), { deadline: Date.now() + 5000 }) as grpc.ClientDuplexStream<EchoMessage, EchoMessage>;
  const echoed = collect(bidi);
  for (let i = 0; i < 3; i++) bidi.write({ text: `b${i}`, count: i });
  bidi.end();
  assert.deepEqual((await echoed).map((m) => m.text), ['b0', 'b1', 'b2']);

  // Without a client certificate the channel never becomes ready.
  const anonymous = client(grpc.credentials.createSsl(Buffer.from(pki.ca.certPem)));
  await assert.rejects(unary(anonymous, { text: 'x' }), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
  // Nor with one from another CA.
  const rogue = client(grpc.credentials.createSsl(Buffer.from(pki.ca.certPem), Buffer.from(pki.rogueClient.keyPem), Buffer.from(pki.rogueClient.certPem)));
  await assert.rejects(unary(rogue, { text: 'x' }), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
  assert.equal(backend.calls, 4);

  await events.waitFor(4);
  events.close();
  assert.deepEqual(events.events.map((e) => e.clientIdentity), [CLIENT_ID, CLIENT_ID, CLIENT_ID, CLIENT_ID]);
  assert.deepEqual(events.events.map((e) => e.grpcMethod), ['test.Echo/Unary', 'test.Echo/ServerStream', 'test.Echo/ClientStream', 'test.Echo/Bidi']);
  assert.match(formatTap(events.events[0] as never), new RegExp(` client=${CLIENT_ID}$`));
  // The access log line is written with the tap event (synchronously into this sink).
  assert.equal(access.length, 4);
  for (const a of access) assert.equal(a.clientIdentity, CLIENT_ID);

  const metrics = await getText(`${p.adminUrl}/metrics`);
  const ok = samples(metrics, 'switchyard_tls_handshakes_total', { listener: 'edge', result: 'ok' });
  assert.equal(ok.length, 1);
  assert.ok(ok[0]!.value >= 1);
  const refused = samples(metrics, 'switchyard_tls_handshakes_total', { listener: 'edge', result: 'client_cert_refused' });
  assert.ok(refused[0]!.value >= 2, `client_cert_refused ${refused[0]?.value}`);
  // Identities are no metric label: one series per (listener, result).
  assert.equal(samples(metrics, 'switchyard_requests_total').some((s) => Object.values(s.labels).includes(CLIENT_ID)), false);
});
