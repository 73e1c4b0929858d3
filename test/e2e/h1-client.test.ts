import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import http2, { type ServerHttp2Stream } from 'node:http2';
import { connect, h2Request, startH2Backend, startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { h1Request, startHoldingBackend, within } from '../helpers/h1-peers.js';

const MiB = 1 << 20;

/** Resolves once `cond()` holds, checking after each turn of the event loop (bounded: 2,000 turns and 5 s). */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 5000;
  for (let i = 0; i < 2000 && Date.now() < until; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.ok(cond(), what);
}

function inflight(p: RunningProxy): number {
  let n = 0;
  for (const s of p.proxy.services.values()) n += s.inflight;
  return n;
}

/** A GET that must complete within `ms` (a wedged upstream connection would hang it). */
function getWithin(port: number, path: string, ms: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks) });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`GET ${path} did not complete within ${ms} ms`));
    }, ms);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Waits (bounded: 5 s) until `sent()` has not moved for 100 ms: every buffer on the way is full and the sender is held back. */
async function stalled(sent: () => number, at: () => number): Promise<void> {
  for (let n = 0; n < 500 && (sent() === 0 || Date.now() - at() < 100); n++) await new Promise((r) => setTimeout(r, 10));
}

test('HTTP/1.1 clients downloading over one upstream HTTP/2 connection, half of them hanging up mid-response, leave its window intact', async (t) => {
  const big = Buffer.alloc(MiB, 0x61);
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  const HUGE = 8 * MiB;
  /** Bytes of the latest /huge response the backend's HTTP/2 stream has sent, and when it last sent some. */
  let huge = { sent: 0, at: 0 };
  const backend = await startH2Backend('big', {
    handler(stream: ServerHttp2Stream, headers) {
      stream.on('error', () => {});
      if (headers[':path'] === '/big') {
        stream.respond({ ':status': 200, 'content-length': String(big.length) });
        stream.end(big);
      } else if (headers[':path'] === '/huge') {
        stream.respond({ ':status': 200 });
        const progress = (huge = { sent: 0, at: Date.now() });
        const countSent = (): void => {
          progress.sent += chunk.length;
          progress.at = Date.now();
        };
        let queued = 0;
        const pump = (): void => {
          while (queued < HUGE && !stream.destroyed) {
            queued += chunk.length;
            if (!stream.write(chunk, countSent)) {
              stream.once('drain', pump);
              return;
            }
          }
          stream.end();
        };
        pump();
      } else {
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http1', service: 'web' }],
    services: [{ name: 'web', maxConnectionsPerEndpoint: 1, endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const port = p.port();
  for (let i = 0; i < 20; i++) {
    const r = await getWithin(port, '/big', 10_000);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, MiB);

    // A slow reader: asks for 8 MiB and reads nothing. Once the kernel's buffers and the
    // stream's window are full the backend stops sending, the proxy holds about a window's
    // worth of response for the client, and the client hangs up.
    huge = { sent: 0, at: Date.now() };
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.pause();
    sock.write('GET /huge HTTP/1.1\r\nhost: test\r\n\r\n');
    await stalled(() => huge.sent, () => huge.at);
    assert.ok(huge.sent > 0 && huge.sent < HUGE, `the slow reader held the response back (${huge.sent} bytes sent)`);
    sock.destroy();
  }
  // 20 MiB downloaded and 20 windows' worth abandoned: a leak of the abandoned bytes' credit would have wedged the 16 MiB connection window.
  const r = await getWithin(port, '/small', 5000);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'ok');
  assert.equal(backend.sessions, 1, 'everything went over one upstream connection');
  await eventually(() => inflight(p) === 0, 'no request left in flight');
});

test('an HTTP/1.1 upload answered early, after the proxy paused the client, does not leave the keep-alive connection stuck', async (t) => {
  const backend = await startHoldingBackend();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http1', service: 'raw' }],
    services: [{ name: 'raw', protocol: 'http1', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(async () => {
    agent.destroy();
    await p.stop();
    await backend.close();
  });
  const port = p.port();
  const UPLOAD = 16 * MiB;
  const piece = Buffer.alloc(64 * 1024, 0x63);
  let sent = 0;
  let sentAt = Date.now();
  const countSent = (): void => {
    sent += piece.length;
    sentAt = Date.now();
  };
  let status = 0;
  const answered = new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent, headers: { 'content-length': UPLOAD } }, (res) => {
      status = res.statusCode!;
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', (e) => {
      if (status === 0) reject(e);
    });
    let queued = 0;
    const pump = (): void => {
      while (queued < UPLOAD && !req.destroyed) {
        queued += piece.length;
        if (!req.write(piece, countSent)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
  // Once the upload stops moving (backend, proxy and kernel buffers full, the proxy's read paused), the backend answers.
  await stalled(() => sent, () => sentAt);
  assert.ok(sent > 0 && sent < UPLOAD, `the upload was held back (${sent} bytes sent)`);
  assert.equal(backend.waiting, 1);
  backend.answer();
  await within(answered, 10_000, 'the early answer');
  assert.equal(status, 413);
  // The same agent (one socket at most) must be able to go on: the first connection finishes its upload or closes.
  const r = await within(h1Request(port, { path: '/next', agent }), 10_000, 'the next request on the agent');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'ok');
  await eventually(() => inflight(p) === 0, 'no request left in flight');
});

test('HTTP/2 uploads answered early by an HTTP/1.1 upstream give the client its connection window back', async (t) => {
  const backend = await startHoldingBackend();
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'raw' }],
    services: [{ name: 'raw', protocol: 'http1', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  const session = await connect(p.port());
  t.after(async () => {
    session.destroy();
    await p.stop();
    await backend.close();
  });
  const UPLOAD = 8 * MiB;
  const piece = Buffer.alloc(64 * 1024, 0x64);
  for (let i = 0; i < 20; i++) {
    let sent = 0;
    let sentAt = Date.now();
    const countSent = (): void => {
      sent += piece.length;
      sentAt = Date.now();
    };
    const req = session.request({ ':method': 'POST', ':path': '/upload', 'content-length': String(UPLOAD) });
    req.on('error', () => {});
    let status = 0;
    const answered = new Promise<void>((resolve) => {
      req.on('response', (h) => (status = Number(h[':status'])));
      req.resume();
      req.on('end', () => resolve());
    });
    let queued = 0;
    const pump = (): void => {
      while (queued < UPLOAD && !req.destroyed) {
        queued += piece.length;
        if (!req.write(piece, countSent)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
    await stalled(() => sent, () => sentAt);
    assert.ok(sent > 0 && sent < UPLOAD, `upload ${i} was held back (${sent} bytes sent)`);
    backend.answer();
    await within(answered, 10_000, `early answer ${i}`);
    assert.equal(status, 413);
    req.close(http2.constants.NGHTTP2_CANCEL);
  }
  // 20 uploads of which about a stream window each sat in the proxy when answered: a leak of that credit would have
  // exhausted the 16 MiB connection window, and this body could not be sent.
  const r = await within(h2Request(session, { ':method': 'POST', ':path': '/sink' }, Buffer.alloc(4 * MiB, 0x65)), 10_000, 'an upload after them');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'ok');
  await eventually(() => inflight(p) === 0, 'no request left in flight');
});

test('draining: in-flight HTTP/1.1 responses end with Connection: close, idle keep-alive connections close, new connections are refused', async (t) => {
  let slowArrived: (() => void) | undefined;
  let streamHeadSent: (() => void) | undefined;
  const backend = await startH2Backend('slow', {
    handler(stream, headers) {
      stream.on('error', () => {});
      const path = headers[':path'];
      if (path === '/slow') {
        // Answers 500 ms after the request arrived.
        slowArrived?.();
        setTimeout(() => {
          stream.respond({ ':status': 200 });
          stream.end('slow');
        }, 500);
      } else if (path === '/stream') {
        // The head at once, the body 500 ms later.
        stream.respond({ ':status': 200 });
        stream.write('first ', () => streamHeadSent?.());
        setTimeout(() => stream.end('last'), 500);
      } else {
        stream.respond({ ':status': 200 });
        stream.end('fast');
      }
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'web' }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  let stopped = false;
  const agent = new http.Agent({ keepAlive: true });
  t.after(async () => {
    agent.destroy();
    if (!stopped) await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const port = p.port();

  // An idle keep-alive connection.
  const idle = await new Promise<{ closed: Promise<void> }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/fast', agent }, (res) => {
        const closed = new Promise<void>((r) => res.socket.once('close', () => r()));
        res.resume();
        res.on('end', () => resolve({ closed }));
      })
      .on('error', reject);
  });

  // A request in flight to the slow backend, and a response whose head went out already.
  const arrived = new Promise<void>((r) => (slowArrived = r));
  const headSent = new Promise<void>((r) => (streamHeadSent = r));
  const slow = h1Request(port, { path: '/slow', agent: new http.Agent({ keepAlive: true }) });
  const streamAgent = new http.Agent({ keepAlive: true });
  const streamed = new Promise<{ status: number; body: string; closed: Promise<void> }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/stream', agent: streamAgent }, (res) => {
        const closed = new Promise<void>((r) => res.socket.once('close', () => r()));
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, closed }));
      })
      .on('error', reject);
  });
  await arrived;
  await headSent;

  const stopping = p.proxy.stop(5000);
  stopped = true;

  await within(idle.closed, 5000, 'the idle keep-alive connection closes');
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.equal(refused, 'ECONNREFUSED', 'no new connections while draining');

  const r = await within(slow, 5000, 'the in-flight request');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'slow');
  assert.equal(r.headers.connection, 'close');

  const s = await within(streamed, 5000, 'the streamed response');
  assert.equal(s.status, 200);
  assert.equal(s.body, 'first last');
  await within(s.closed, 5000, 'its connection closes after the response');
  streamAgent.destroy();

  await within(stopping, 5000, 'the drain ends once the connections are closed');
  assert.equal(p.proxy.listeners[0]!.openConnections, 0);
});
