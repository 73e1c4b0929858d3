import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { closeSession, connect, h2Request, startH2Backend, startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';

/** Resolves when `value()` has not changed for `quietPolls` polls in a row (bounded). */
async function settle(value: () => number, quietPolls = 10, intervalMs = 50, maxPolls = 400): Promise<number> {
  let last = value();
  let quiet = 0;
  for (let i = 0; i < maxPolls && quiet < quietPolls; i++) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const v = value();
    quiet = v === last ? quiet + 1 : 0;
    last = v;
  }
  return last;
}

function pendingOf(p: RunningProxy): number {
  let n = 0;
  for (const s of p.proxy.services.values()) for (const e of s.endpoints) n += e.load.pending;
  return n;
}

test('a client that stops reading a large response stalls the backend; proxy memory stays bounded; others unaffected', async (t) => {
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const backend = await startH2Backend('big', {
    handler(stream, headers) {
      if (headers[':path'] !== '/big') {
        stream.respond({ ':status': 200, 'x-backend': 'big' });
        stream.end('small');
        return;
      }
      stream.respond({ ':status': 200 });
      const pump = (): void => {
        while (written < 256 * 1024 * 1024 && !stream.destroyed) {
          written += chunk.length;
          if (!stream.write(chunk)) {
            stream.once('drain', pump);
            return;
          }
        }
        stream.end();
      };
      pump();
      stream.on('error', () => {});
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const memBefore = process.memoryUsage().arrayBuffers;
  const slow = await connect(p.port());
  const req = slow.request({ ':path': '/big' });
  req.on('error', () => {});
  let received = 0;
  await new Promise<void>((r) => req.once('response', () => r()));
  // Read one chunk, then stop reading.
  await new Promise<void>((r) => req.once('data', (d: Buffer) => { received += d.length; r(); }));
  req.pause();
  const stalledAt = await settle(() => written);
  const memAfter = process.memoryUsage().arrayBuffers;
  t.diagnostic(`backend stalled after ${stalledAt} bytes; buffer memory grew by ${memAfter - memBefore} bytes`);
  assert.ok(stalledAt < 32 * 1024 * 1024, `backend stalled after ${stalledAt} bytes (of 256 MiB)`);
  assert.ok(memAfter - memBefore < 48 * 1024 * 1024, `buffer memory grew by ${memAfter - memBefore} bytes`);
  // Another client on another connection is served meanwhile.
  const other = await connect(p.port());
  const r = await h2Request(other, { ':path': '/small' });
  assert.equal(r.status, 200);
  await closeSession(other);
  // Resume reading: the rest flows end to end.
  req.on('data', (d: Buffer) => (received += d.length));
  req.resume();
  await new Promise<void>((r) => req.on('end', () => r()));
  assert.equal(received, 256 * 1024 * 1024);
  await closeSession(slow);
});

test('misbehaving clients (garbage, abrupt resets, half-sent requests) never disturb other connections', async (t) => {
  const backend = await startH2Backend('b', { delayMs: 5 });
  const p = await startProxy({
    listeners: [
      { name: 'auto', listen: '127.0.0.1:0', protocol: 'auto', service: 'web' },
      { name: 'h2', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' },
    ],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const good = await connect(p.port('h2'));
  const goodLoop = (async () => {
    let ok = 0;
    for (let i = 0; i < 200; i++) if ((await h2Request(good, { ':path': '/' })).status === 200) ok++;
    return ok;
  })();

  const rawSend = (port: number, bytes: Buffer, end: boolean): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(bytes);
        if (end) s.end();
        else s.destroy();
      });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
  // Garbage on both listeners.
  for (const name of ['auto', 'h2']) {
    await rawSend(p.port(name), Buffer.from('\x00\xff garbage \r\n\r\n'.repeat(50), 'latin1'), true);
    await rawSend(p.port(name), Buffer.alloc(70_000, 0xee), false);
  }
  // A preface, SETTINGS and a HEADERS frame cut in the middle, then the socket vanishes.
  const preface = Buffer.concat([
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
    Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
    Buffer.from([0, 0, 40, 1, 4, 0, 0, 0, 1, 0x82, 0x86]),
  ]);
  await rawSend(p.port('h2'), preface, false);

  // Half-sent requests: headers without END_STREAM, a little body, then the client closes.
  for (let i = 0; i < 5; i++) {
    const s = await connect(p.port('auto'));
    const req = s.request({ ':method': 'POST', ':path': '/' }, { endStream: false });
    req.on('error', () => {});
    req.write('partial');
    await new Promise((r) => setImmediate(r));
    s.destroy();
  }
  // Abrupt resets: many streams cancelled right after they start.
  const resetter = await connect(p.port('h2'));
  for (let i = 0; i < 100; i++) {
    const req = resetter.request({ ':path': '/' });
    req.on('error', () => {});
    req.close(http2.constants.NGHTTP2_CANCEL);
  }
  await closeSession(resetter).catch(() => {});

  assert.equal(await goodLoop, 200, 'the well-behaved client was served throughout');
  await closeSession(good);
  // Every request released its endpoint exactly once.
  assert.equal(await settle(() => pendingOf(p), 5, 20), 0);
  const s = await connect(p.port('auto'));
  assert.equal((await h2Request(s, { ':path': '/' })).status, 200);
  await closeSession(s);
});
