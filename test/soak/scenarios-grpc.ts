/**
 * gRPC scenarios: @grpc/grpc-js clients through the proxy to the grpc-js
 * backends. Messages of 0 to 1 MiB, every payload checked; deadlines,
 * cancellations, a retried UNAVAILABLE and an early RESOURCE_EXHAUSTED must
 * end with exactly that status.
 */
import * as grpc from '@grpc/grpc-js';
import type { EchoMessage } from '../helpers/grpc-echo.js';
import { grpcClient } from './environment.js';
import { streamSizes } from './grpc-backend.js';
import { bodyBytes, sha256Hex } from './payload.js';
import { between, pickSize, type Outcome, type Scenario, type ScenarioContext } from './scenario.js';

type Unary = (req: EchoMessage, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: EchoMessage) => void) => grpc.ClientUnaryCall;
type ServerStream = (req: EchoMessage, md: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<EchoMessage>;
type ClientStream = (md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: EchoMessage) => void) => grpc.ClientWritableStream<EchoMessage>;
type Bidi = (md: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientDuplexStream<EchoMessage, EchoMessage>;

interface EchoStub {
  Unary: Unary;
  ServerStream: ServerStream;
  ClientStream: ClientStream;
  Bidi: Bidi;
}

/** How long a call may take before its own deadline says the proxy hung. */
const CALL_DEADLINE_MS = 30_000;

/** A long-lived client most of the time; now and then a new one (a new connection), closed afterwards. */
function client(ctx: ScenarioContext): { stub: EchoStub; describe: string } {
  if (ctx.rng() < 0.7) {
    const i = Math.floor(ctx.rng() * ctx.env.grpcClients.length);
    return { stub: ctx.env.grpcClients[i] as unknown as EchoStub, describe: `long-lived client ${i}` };
  }
  const window = ctx.rng() < 0.5 ? undefined : Math.round(2 ** (16 + ctx.rng() * 8));
  const c = grpcClient(ctx.env.port('edge'), window);
  ctx.defer(() => c.close());
  return { stub: c as unknown as EchoStub, describe: `new client window=${window ?? 'default'}` };
}

function callOptions(ctx: ScenarioContext, deadlineMs = CALL_DEADLINE_MS): grpc.CallOptions {
  return { deadline: Date.now() + deadlineMs };
}

/** Cancels `call` when the watchdog fires. */
function watch(ctx: ScenarioContext, call: { cancel(): void }): void {
  const onAbort = (): void => call.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  ctx.defer(() => ctx.signal.removeEventListener('abort', onAbort));
}

function statusName(code: number): string {
  return grpc.status[code] ?? `status-${code}`;
}

function unaryCall(ctx: ScenarioContext, stub: EchoStub, req: EchoMessage, md: grpc.Metadata, deadlineMs?: number) {
  return new Promise<{ err: grpc.ServiceError | null; reply?: EchoMessage; trailer?: grpc.Metadata }>((resolve) => {
    let trailer: grpc.Metadata | undefined;
    let result: { err: grpc.ServiceError | null; reply?: EchoMessage } | undefined;
    let status = false;
    const done = (): void => {
      if (result !== undefined && status) resolve({ ...result, trailer });
    };
    const call = stub.Unary(req, md, callOptions(ctx, deadlineMs), (err, reply) => {
      result = { err, reply };
      done();
    });
    call.on('status', (s: grpc.StatusObject) => {
      trailer = s.metadata;
      status = true;
      done();
    });
    watch(ctx, call);
  });
}

const unary: Scenario = {
  kind: 'grpc unary',
  weight: 5,
  expect: ['OK'],
  async run(ctx) {
    const { stub, describe } = client(ctx);
    const size = pickSize(ctx.rng, ctx.limits.maxMessage);
    const payload = bodyBytes(ctx.seed, size);
    const r = await unaryCall(ctx, stub, { text: '{"op":"echo"}', payload }, new grpc.Metadata());
    const detail = `${describe} size=${size}`;
    if (r.err) return { label: statusName(r.err.code), down: 0, up: 0, detail: `${detail} ${r.err.details}` };
    const want = sha256Hex(payload);
    if (sha256Hex(r.reply?.payload ?? Buffer.alloc(0)) !== want || r.trailer?.get('x-request-sha256')[0] !== want) {
      return { label: 'bad-digest', down: 0, up: 0, detail };
    }
    return { label: 'OK', down: size, up: size, detail };
  },
};

/** Reads a server stream; cancels after `cancelAfter` messages when given. */
const serverStream = (cancel: boolean): Scenario => ({
  kind: cancel ? 'grpc server-stream cancel' : 'grpc server-stream',
  weight: cancel ? 2 : 4,
  expect: cancel ? ['CANCELLED'] : ['OK'],
  run(ctx) {
    const { stub, describe } = client(ctx);
    const count = between(ctx.rng, cancel ? 2 : 0, 20);
    const max = pickSize(ctx.rng, ctx.limits.maxMessage, 1);
    const cancelAfter = cancel ? between(ctx.rng, 1, count - 1) : Infinity;
    const sizes = streamSizes(ctx.seed, count, max);
    const detail = `${describe} count=${count} max=${max}${cancel ? ` cancel after ${cancelAfter}` : ''}`;
    return new Promise<Outcome>((resolve) => {
      const call = stub.ServerStream({ text: JSON.stringify({ seed: ctx.seed, count, max }) }, new grpc.Metadata(), callOptions(ctx));
      watch(ctx, call);
      let i = 0;
      let down = 0;
      let bad: string | undefined;
      call.on('data', (m: EchoMessage) => {
        const want = bodyBytes(ctx.seed + i, sizes[i] ?? 0);
        if (m.count !== i || !want.equals(m.payload ?? Buffer.alloc(0))) bad ??= `message ${i}`;
        down += want.length;
        i++;
        if (i === cancelAfter) call.cancel();
      });
      call.on('error', () => {});
      call.on('status', (s: grpc.StatusObject) => {
        if (bad !== undefined) resolve({ label: 'bad-digest', down, up: 0, detail: `${detail} ${bad}` });
        else if (s.code === grpc.status.OK && i !== count) resolve({ label: 'short-stream', down, up: 0, detail: `${detail} got ${i}` });
        else resolve({ label: statusName(s.code), down, up: 0, detail: `${detail} got ${i}: ${s.details}` });
      });
    });
  },
});

const clientStream = (early: boolean): Scenario => ({
  kind: early ? 'grpc client-stream early-answer' : 'grpc client-stream',
  weight: early ? 1 : 3,
  expect: early ? ['RESOURCE_EXHAUSTED'] : ['OK'],
  run(ctx) {
    const { stub, describe } = client(ctx);
    const count = between(ctx.rng, early ? 2 : 0, 20);
    const max = pickSize(ctx.rng, ctx.limits.maxMessage, 1);
    const sizes = streamSizes(ctx.seed, count, max);
    const detail = `${describe} count=${count} max=${max}`;
    return new Promise<Outcome>((resolve) => {
      let reply: EchoMessage | undefined;
      const call = stub.ClientStream(new grpc.Metadata(), callOptions(ctx), (_e, r) => (reply = r));
      watch(ctx, call);
      call.on('error', () => {});
      const sent: Buffer[] = [];
      let up = 0;
      // The early answer comes while the client is still writing: later writes may fail, which is the point.
      void (async () => {
        for (let i = 0; i < count; i++) {
          const payload = bodyBytes(ctx.seed + i, sizes[i]!);
          const text = early && i === 0 ? '{"op":"early"}' : '';
          sent.push(payload);
          up += payload.length;
          if (!call.write({ text, payload, count: i })) await new Promise<void>((r) => { call.once('drain', r); call.once('status', r); });
          if (call.destroyed) return;
        }
        call.end();
      })();
      call.on('status', (s: grpc.StatusObject) => {
        const label = statusName(s.code);
        if (s.code !== grpc.status.OK) {
          resolve({ label, down: 0, up: 0, detail: `${detail}: ${s.details}` });
          return;
        }
        const want = JSON.stringify({ bytes: up, sha256: sha256Hex(sent) });
        if (reply?.text !== want || reply.count !== count) resolve({ label: 'bad-digest', down: 0, up: 0, detail: `${detail} backend saw ${reply?.text}` });
        else resolve({ label, down: 0, up, detail });
      });
    });
  },
});

/** Bidi echo: writes and reads at once; optionally cancels after some echoes. */
const bidi = (cancel: boolean): Scenario => ({
  kind: cancel ? 'grpc bidi cancel' : 'grpc bidi',
  weight: cancel ? 1 : 4,
  expect: cancel ? ['CANCELLED'] : ['OK'],
  run(ctx) {
    const { stub, describe } = client(ctx);
    const count = between(ctx.rng, cancel ? 2 : 0, 20);
    const max = pickSize(ctx.rng, ctx.limits.maxMessage, 1);
    const sizes = streamSizes(ctx.seed, count, max);
    const cancelAfter = cancel ? between(ctx.rng, 1, count - 1) : Infinity;
    const detail = `${describe} count=${count} max=${max}${cancel ? ` cancel after ${cancelAfter}` : ''}`;
    return new Promise<Outcome>((resolve) => {
      const call = stub.Bidi(new grpc.Metadata(), callOptions(ctx));
      watch(ctx, call);
      call.on('error', () => {});
      let got = 0;
      let down = 0;
      let bad: string | undefined;
      call.on('data', (m: EchoMessage) => {
        const want = bodyBytes(ctx.seed + got, sizes[got] ?? 0);
        if (m.count !== got || !want.equals(m.payload ?? Buffer.alloc(0))) bad ??= `echo ${got}`;
        down += want.length;
        got++;
        if (got === cancelAfter) call.cancel();
      });
      void (async () => {
        for (let i = 0; i < count; i++) {
          if (!call.write({ payload: bodyBytes(ctx.seed + i, sizes[i]!), count: i })) {
            await new Promise<void>((r) => { call.once('drain', r); call.once('status', r); });
          }
          if (call.destroyed) return;
        }
        call.end();
      })();
      call.on('status', (s: grpc.StatusObject) => {
        if (bad !== undefined) resolve({ label: 'bad-digest', down, up: 0, detail: `${detail} ${bad}` });
        else if (s.code === grpc.status.OK && got !== count) resolve({ label: 'short-stream', down, up: 0, detail: `${detail} got ${got}` });
        else resolve({ label: statusName(s.code), down, up: s.code === grpc.status.OK ? down : 0, detail: `${detail} got ${got}: ${s.details}` });
      });
    });
  },
});

const deadline: Scenario = {
  kind: 'grpc deadline',
  weight: 1,
  expect: ['DEADLINE_EXCEEDED'],
  async run(ctx) {
    const { stub, describe } = client(ctx);
    const ms = between(ctx.rng, 50, 400);
    const r = await unaryCall(ctx, stub, { text: JSON.stringify({ op: 'hold', delay: 20_000 }) }, new grpc.Metadata(), ms);
    return { label: r.err ? statusName(r.err.code) : 'OK', down: 0, up: 0, detail: `${describe} deadline ${ms} ms` };
  },
};

const retry: Scenario = {
  kind: 'grpc retry',
  weight: 2,
  expect: ['OK'],
  async run(ctx) {
    const { stub, describe } = client(ctx);
    // Retried only while the request is within the route's retry.bufferSize (64 KiB, framing included).
    const size = pickSize(ctx.rng, Math.min(ctx.limits.maxMessage, 60 * 1024));
    const payload = bodyBytes(ctx.seed, size);
    const md = new grpc.Metadata();
    md.set('x-soak-retry', '1');
    const r = await unaryCall(ctx, stub, { text: '{"op":"fail-once"}', payload }, md);
    const detail = `${describe} size=${size}`;
    if (r.err) return { label: statusName(r.err.code), down: 0, up: 0, detail: `${detail} ${r.err.details}` };
    if (!payload.equals(r.reply?.payload ?? Buffer.alloc(0))) return { label: 'bad-digest', down: 0, up: 0, detail };
    return { label: 'OK', down: size, up: size, detail };
  },
};

export function allGrpcScenarios(): Scenario[] {
  return [unary, serverStream(false), serverStream(true), clientStream(false), clientStream(true), bidi(false), bidi(true), deadline, retry];
}

