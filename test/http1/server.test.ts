/**
 * The HTTP/1.1 server role over real sockets, with node:http clients and raw
 * bytes as peers: keep-alive, pipelining in order, bodies by length and
 * chunked, HTTP/1.0, HEAD and 204, refused heads, and the head and idle
 * deadlines. Each server echoes method, target and body length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  H1Server, HeadError, type H1Limits, type H1RequestHandler, type H1ServerRequest,
} from '../../src/http1/index.js';
import { waitFor } from '../helpers/wait.js';

interface Stage {
  port: number;
  server: H1Server;
  refused: HeadError[];
  bodies: string[];
  aborted: number;
  /** Requests handed to the handler when `/later` was answered. */
  handedBeforeLater: number;
  close(): Promise<void>;
}

const LATER_HEAD = 'GET /later HTTP/1.1\r\nHost: x\r\n\r\n';

function answerLater(e: Echo, req: H1ServerRequest, body: string): void {
  e.answerLater(req, body);
}

class Echo implements H1RequestHandler {
  private body: Buffer[] = [];
  constructor(private readonly stage: Stage) {}
  onBodyData(_r: H1ServerRequest, d: Buffer): void {
    this.body.push(d);
  }
  onBodyEnd(req: H1ServerRequest): void {
    const body = Buffer.concat(this.body).toString('latin1');
    this.stage.bodies.push(body);
    if (req.target === '/later') {
      // Slow: answered in a later turn, once bytes of the next request have been read and are waiting behind this one.
      const socket = req.conn.socket;
      if (socket.bytesRead > LATER_HEAD.length) setImmediate(answerLater, this, req, body);
      else socket.once('data', () => setImmediate(answerLater, this, req, body));
      return;
    }
    this.answer(req, body);
  }
  answerLater(req: H1ServerRequest, body: string): void {
    this.stage.handedBeforeLater = this.stage.bodies.length;
    this.answer(req, body);
  }
  answer(req: H1ServerRequest, body: string): void {
    if (req.target === '/empty') return req.respond(204, [], true);
    const text = `${req.method} ${req.target} ${body.length}`;
    if (req.target === '/chunked') {
      req.respond(200, ['content-type', 'text/plain'], false);
      req.write(Buffer.from(text));
      req.end(['x-trailer', 'yes']);
      return;
    }
    req.respond(200, ['content-type', 'text/plain', 'content-length', String(text.length)], false);
    req.write(Buffer.from(text));
    req.end();
  }
  onAborted(): void {
    this.stage.aborted++;
  }
  onDrain(): void {}
}

const ANSWER = Buffer.from('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');

async function stage(limits: Partial<H1Limits> = {}): Promise<Stage> {
  const st = { refused: [], bodies: [], aborted: 0, handedBeforeLater: -1 } as unknown as Stage;
  const server = new H1Server({
    onRequest(_c, req) {
      req.handler = new Echo(st);
    },
    onUpgrade(_c, _r, socket) {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: test\r\nconnection: upgrade\r\n\r\n');
    },
    refused(_c, e) {
      st.refused.push(e);
      return e === HeadError.Timeout ? Buffer.from('HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n') : ANSWER;
    },
  }, { maxHeaderSize: 4096, maxHeaderFields: 40, headersTimeout: 2000, idleTimeout: 2000, ...limits });
  const listener = net.createServer((s) => {
    s.on('error', () => {});
    server.serve(s);
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  st.port = (listener.address() as net.AddressInfo).port;
  st.server = server;
  st.close = async () => {
    server.close();
    await new Promise<void>((r) => listener.close(() => r()));
  };
  return st;
}

/** Writes `bytes`, collects what comes back until the server closes or `until` matches. */
function raw(port: number, bytes: string, until?: RegExp): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from(bytes, 'latin1')));
    let data = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ data, closed });
    };
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (until !== undefined && until.test(data)) finish(false);
    });
    s.on('error', () => {});
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
  });
}

test('node:http clients are served over keep-alive connections, bodies by length and chunked', async (t) => {
  const st = await stage();
  t.after(() => st.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const ask = (method: string, path: string, body?: string, chunked = false): Promise<{ status: number; text: string; trailers: NodeJS.Dict<string> }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = chunked ? { 'transfer-encoding': 'chunked' } : {};
      const req = http.request({ host: '127.0.0.1', port: st.port, method, path, agent, headers }, (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text, trailers: res.trailers }));
      });
      req.on('error', reject);
      if (body !== undefined) {
        if (chunked) for (const part of body.match(/.{1,7}/g) ?? []) req.write(part);
        else req.write(body);
      }
      req.end();
    });
  for (let i = 0; i < 20; i++) {
    assert.deepEqual((await ask('GET', `/a${i}`)).text, `GET /a${i} 0`);
  }
  assert.equal((await ask('POST', '/p', 'x'.repeat(100_000))).text, 'POST /p 100000');
  assert.equal((await ask('POST', '/c', 'y'.repeat(1000), true)).text, 'POST /c 1000');
  const ch = await ask('GET', '/chunked');
  assert.equal(ch.text, 'GET /chunked 0');
  assert.equal(ch.trailers['x-trailer'], 'yes');
  assert.equal((await ask('GET', '/empty')).status, 204);
  const head = await ask('HEAD', '/h');
  assert.equal(head.text, '');
  assert.equal((await ask('GET', '/after-head')).text, 'GET /after-head 0');
  const sockets = Object.values(agent.sockets).flat().length + Object.values(agent.freeSockets).flat().length;
  assert.ok(sockets <= 2, `${sockets} connections`);
  agent.destroy();
  await waitFor(() => st.server.connections.size === 0, 'connections to close');
  assert.equal(st.aborted, 0);
});

test('pipelined requests are answered in order, a slow first one included', async (t) => {
  const st = await stage();
  t.after(() => st.close());
  const r = await raw(st.port,
    LATER_HEAD + 'POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  // The requests behind /later had arrived but were not handed on before its answer.
  assert.equal(st.handedBeforeLater, 1);
  const bodies = [...r.data.matchAll(/\r\n\r\n([A-Z]+ \/\S+ \d+)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, ['GET /later 0', 'POST /two 3', 'GET /three 0']);
  assert.equal(r.closed, true);
  assert.match(r.data, /connection: close\r\n\r\nGET \/three 0$/);
});

test('a request split at every byte is read the same', async (t) => {
  const st = await stage();
  t.after(() => st.close());
  const req = 'POST /split HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const s = net.connect(st.port, '127.0.0.1');
  let data = '';
  s.on('data', (d: Buffer) => (data += d.toString('latin1')));
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const c of req) {
    s.write(c);
    await new Promise((r) => setImmediate(r));
  }
  await new Promise<void>((r) => s.once('close', () => r()));
  assert.match(data, /^HTTP\/1\.1 200 OK\r\n[^]*POST \/split 3$/);
});

test('HTTP/1.0: the connection closes unless it asks for keep-alive; a body without a length is read to the close', async (t) => {
  const st = await stage();
  t.after(() => st.close());
  const plain = await raw(st.port, 'GET /old HTTP/1.0\r\n\r\n');
  assert.equal(plain.closed, true);
  assert.match(plain.data, /connection: close[^]*GET \/old 0$/);
  const kept = await raw(st.port, 'GET /kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', /GET \/kept 0$/);
  assert.equal(kept.closed, false);
  assert.match(kept.data, /connection: keep-alive/);
  const chunked = await raw(st.port, 'GET /chunked HTTP/1.0\r\n\r\n');
  assert.doesNotMatch(chunked.data, /transfer-encoding/);
  assert.match(chunked.data, /GET \/chunked 0$/);
});

const refusals: Array<[string, string]> = [
  ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['two Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab'],
  ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nab'],
  ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na'],
  ['Transfer-Encoding other than chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
  ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n'],
  ['a bare LF', 'GET / HTTP/1.1\nHost: x\n\n'],
  ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2\r\n\r\n'],
  ['no Host in HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n'],
  ['two Hosts', 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'],
  ['an unknown version', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'],
  ['a bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
];

for (const [name, bytes] of refusals) {
  test(`refuses ${name} (400, closed, never a request)`, async (t) => {
    const st = await stage();
    t.after(() => st.close());
    const r = await raw(st.port, bytes);
    assert.equal(r.closed, true);
    assert.match(r.data, /^HTTP\/1\.1 400 /);
    assert.deepEqual(st.refused, [HeadError.BadRequest]);
    if (!name.includes('chunk size')) assert.deepEqual(st.bodies, []);
    // A request refused in the middle of its body is over for its handler too.
    else assert.equal(st.aborted, 1);
  });
}

test('heads over maxHeaderSize are refused as too large, a request line alone over it as a long URI; too many fields too', async (t) => {
  const st = await stage({ maxHeaderSize: 1024, maxHeaderFields: 8 });
  t.after(() => st.close());
  await raw(st.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`);
  await raw(st.port, `GET /${'a'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await raw(st.port, 'GET / HTTP/1.1\r\nHost: x\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\n\r\n');
  assert.deepEqual(st.refused, [HeadError.TooLarge, HeadError.UriTooLong, HeadError.TooManyFields]);
});

test('a head trickled past headersTimeout is refused with a timeout; an idle kept-alive connection is closed after idleTimeout', async (t) => {
  const st = await stage({ headersTimeout: 200, idleTimeout: 300 });
  t.after(() => st.close());
  const slow = net.connect(st.port, '127.0.0.1');
  let data = '';
  slow.on('data', (d: Buffer) => (data += d.toString('latin1')));
  slow.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => slow.write('x'), 20);
  await new Promise<void>((r) => slow.once('close', () => r()));
  clearInterval(trickle);
  assert.match(data, /^HTTP\/1\.1 408 /);
  assert.deepEqual(st.refused, [HeadError.Timeout]);
  const idle = await raw(st.port, 'GET /i HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(idle.closed, true);
  assert.match(idle.data, /GET \/i 0$/);
});

test('an upgrade hands over the socket with the bytes after the head', async (t) => {
  const st = await stage();
  t.after(() => st.close());
  const r = await raw(st.port, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nearly');
  assert.match(r.data, /^HTTP\/1\.1 101 /);
  assert.equal(st.server.connections.size, 0);
});

test('a client closing before its response is reported as aborted', async (t) => {
  const st = await stage();
  t.after(() => st.close());
  const s = net.connect(st.port, '127.0.0.1', () => s.write('POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'));
  await waitFor(() => st.server.connections.size === 1, 'the connection');
  s.destroy();
  await waitFor(() => st.aborted === 1, 'the abort');
  assert.equal(st.server.connections.size, 0);
});

/**
 * A server whose every response is `body` written at once, counting the
 * drains its requests get; `accepted` is what the last write() returned.
 */
async function drainCountingServer(t: { after(fn: () => void): void }, body: Buffer, listenerOptions: net.ServerOpts = {}) {
  const state = { drains: 0, accepted: undefined as boolean | undefined, port: 0 };
  const server = new H1Server({
    onRequest(_c, req) {
      req.handler = {
        onBodyData() {},
        onBodyEnd(r) {
          r.respond(200, ['content-length', String(body.length)], false);
          state.accepted = r.write(body);
          r.end();
        },
        onAborted() {},
        onDrain() {
          state.drains++;
        },
      };
    },
    onUpgrade(_c, _r, s) {
      s.destroy();
    },
    refused: () => null,
  }, { maxHeaderSize: 4096, maxHeaderFields: 40, headersTimeout: 2000, idleTimeout: 2000 });
  const listener = net.createServer(listenerOptions, (s) => server.serve(s));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.close();
    listener.close();
  });
  state.port = (listener.address() as net.AddressInfo).port;
  return { server, state };
}

test('a response larger than the high-water mark asks its writer to wait, and the wait ends once, after the response is over', async (t) => {
  const big = Buffer.alloc(1 << 20, 0x61);
  const { server, state } = await drainCountingServer(t, big);
  const r = await raw(state.port, 'GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(state.accepted, false);
  assert.equal(r.data.length, 2 * (big.length + 'HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n'.length) + 'connection: close\r\n'.length);
  await waitFor(() => state.drains === 2, 'a drain per response');
  // Once the connection is gone no further drain can come.
  await waitFor(() => server.connections.size === 0, 'the connection closed');
  assert.equal(state.drains, 2);
});

test('a refused write is followed by a drain even when the socket took every byte without refusing (its own high-water mark above the codec\'s)', async (t) => {
  const body = Buffer.alloc(100 * 1024, 0x61);
  // Node 22 and later default to 64 KiB, Node 20 to 16 KiB; 1 MiB makes the socket accept the whole response at once on any version.
  const { server, state } = await drainCountingServer(t, body, { highWaterMark: 1 << 20 });
  const client = net.connect(state.port, '127.0.0.1', () => client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  let received = 0;
  client.on('data', (d: Buffer) => (received += d.length));
  t.after(() => client.destroy());
  await waitFor(() => received >= body.length, 'the response');
  await waitFor(() => state.drains === 1, 'the drain of the refused write, on a connection still open');
  assert.equal(state.accepted, false);
  assert.equal(server.connections.size, 1);
});
