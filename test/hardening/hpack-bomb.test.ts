/**
 * HPACK bombs: one large field inserted into the decoder's dynamic table,
 * then referenced with one octet each, so a 15 KB block decodes to tens of
 * MB. The engine limits the DECODED header list (RFC 9113 §10.5.1; cookie
 * crumbs, §8.2.3, count one by one): fields past SETTINGS_MAX_HEADER_LIST_SIZE
 * are decoded only to keep the table in step, never collected, and the
 * request is answered 431 without reaching a backend. Each such request
 * counts towards the reset limit, so repeating it closes the connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ErrorCode } from '../../src/http2/constants.js';
import { HpackDecoder } from '../../src/http2/hpack/index.js';
import { FrameParser, PREFACE } from '../helpers/engine-frames.js';
import {
  F, RawH2Client, T, data, getRequest, headers, hpackIndexed, hpackInsert, hpackLiteral, settings, settingsAck,
} from '../helpers/raw-h2.js';
import { closeSession, connect, h2Request, startProxy } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';
import { GoodClient, assertGoodServed, counters, countersSince, memoryMiB, startStage } from './harness.js';

/** A request whose block inserts NAME: 4,000 octets, then references it `refs` times (index 62: the newest entry). */
function bomb(name: string, refs: number, path = '/attack', head: string[] = getRequest(path)): Buffer {
  const parts = [hpackLiteral(head), hpackInsert(name, 'a'.repeat(4000))];
  const ref = hpackIndexed(62);
  for (let i = 0; i < refs; i++) parts.push(ref);
  return Buffer.concat(parts);
}

test('HPACK bomb: 12,000 references to a 4 KB table entry (48 MB decoded) are answered 431; the connection and other clients go on', { timeout: 30_000 }, async (t) => {
  const stage = await startStage();
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage);
  await good.servedMore(10);
  const before = counters();
  const mem0 = memoryMiB();
  const c = await RawH2Client.connect(stage.port);
  const block = bomb('x-bomb', 12_000);
  assert.ok(block.length < 16_384);
  c.write(headers(1, block, true));
  const response = await c.waitResponse(1);
  assert.deepEqual(response, [':status', '431']);
  // Cookie crumbs count one by one: 20 crumbs of 4 KB are 80 KB, above the 64 KiB limit.
  c.write(headers(3, bomb('cookie', 19), true));
  assert.deepEqual(await c.waitResponse(3), [':status', '431']);
  // A bomb on a request with a body: 431, then RST_STREAM NO_ERROR (the rest is not wanted, §8.1).
  c.write(headers(5, bomb('x-bomb', 100), false));
  assert.deepEqual(await c.waitResponse(5), [':status', '431']);
  assert.equal(await c.waitReset(5), ErrorCode.NO_ERROR);
  // The table stayed in step: the same connection is served (a stateless block).
  c.write(headers(7, hpackLiteral(getRequest('/after-bomb')), true));
  assert.equal((await c.waitResponse(7))[1], '200');
  assert.equal(c.closed, false);
  c.destroy();

  const d = countersSince(before);
  assert.equal(d.headerListsTooLarge, 3);
  assert.equal(d.connectionErrors, 0);
  assert.equal(stage.attackRequests, 0, 'no bomb reached the backend');
  const grown = memoryMiB() - mem0;
  assert.ok(grown < 16, `memory grew by ${grown.toFixed(1)} MiB`);
  await good.servedMore(10);
  await assertGoodServed(good, 'HPACK bomb');
});

test('HPACK bomb repeated 300 times on one connection: closed with ENHANCE_YOUR_CALM after the reset limit', { timeout: 30_000 }, async (t) => {
  const stage = await startStage();
  t.after(() => stage.stop());
  const good = await GoodClient.start(stage);
  await good.servedMore(10);
  const before = counters();
  const c = await RawH2Client.connect(stage.port);
  const frames: Buffer[] = [];
  for (let i = 0; i < 300; i++) frames.push(headers(c.streamId(), bomb('x-bomb', 1000), true));
  await c.writeDrained(...frames);
  const goAway = await c.waitGoAway();
  assert.equal(goAway.code, ErrorCode.ENHANCE_YOUR_CALM, goAway.debug);
  const d = countersSince(before);
  assert.equal(d.floodsDetected, 1);
  assert.ok(d.headerListsTooLarge >= 200 && d.headerListsTooLarge <= 201, `${d.headerListsTooLarge} answered 431`);
  await good.servedMore(10);
  await assertGoodServed(good, 'HPACK bomb repeated');
});

/**
 * A hand-written HTTP/2 backend (node:http2 refuses to send a header list
 * above the peer's SETTINGS_MAX_HEADER_LIST_SIZE): answers /big-response with
 * a bomb (a 4 KB field inserted, then referenced 19 times: 80 KB decoded),
 * anything else with 200 "ok".
 */
async function startBombBackend(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const parser = new FrameParser();
    const decoder = new HpackDecoder();
    let preface = PREFACE.length;
    socket.write(settings());
    socket.on('data', (chunk: Buffer) => {
      if (preface > 0) {
        const n = Math.min(preface, chunk.length);
        preface -= n;
        chunk = chunk.subarray(n);
      }
      for (const f of parser.push(chunk)) {
        if (f.type === T.SETTINGS && (f.flags & F.ACK) === 0) socket.write(settingsAck());
        if (f.type !== T.HEADERS) continue;
        const fields: string[] = [];
        decoder.decode(f.payload, 0, f.payload.length, fields);
        const path = fields[fields.indexOf(':path') + 1];
        const block = path === '/big-response' ? bomb('x-big', 19, undefined, [':status', '200']) : hpackLiteral([':status', '200']);
        socket.write(Buffer.concat([headers(f.streamId, block, false), data(f.streamId, Buffer.from('ok'), true)]));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sockets) s.destroy();
    }),
  };
}

test('an upstream response whose header list exceeds the limit is not relayed: the client gets 502, the proxy stays up', { timeout: 30_000 }, async (t) => {
  const backend = await startBombBackend();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitFor(() => [...p.proxy.services.values()].every((s) => s.endpoints.every((e) => e.state === 1)), 'endpoint ready');
  const before = counters();
  const s = await connect(p.port());
  assert.equal((await h2Request(s, { ':path': '/small' })).status, 200);
  const r = await h2Request(s, { ':path': '/big-response' });
  assert.equal(r.status, 502);
  assert.equal(r.headers['x-big'], undefined);
  assert.equal((await h2Request(s, { ':path': '/small' })).status, 200);
  await closeSession(s);
  const d = countersSince(before);
  assert.equal(d.headerListsTooLarge, 1);
  assert.equal(d.connectionErrors, 0);
});
