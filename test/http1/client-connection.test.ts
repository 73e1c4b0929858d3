import assert from 'node:assert/strict';
import net from 'node:net';
import test from 'node:test';
import { ClientConnection, type ClientConnectionOwner, type ClientExchange } from '../../src/http1/client-connection.js';
import { BodyFraming, encodeRequestHead } from '../../src/http1/client-request-head.js';
import { startH1Backend } from '../helpers/h1-peers.js';

/** Records one exchange's events; `done` settles when the response ends or the connection fails. */
class Exchange implements ClientExchange {
  heads: number[] = [];
  fields: string[] = [];
  body: Buffer[] = [];
  trailers: string[] | null = null;
  error: Error | null = null;
  drains = 0;
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.done = new Promise((r) => (this.resolve = r));
  }
  onResponseHead(status: number, fields: string[]): void {
    this.heads.push(status);
    this.fields = fields;
  }
  onResponseData(d: Buffer): void {
    this.body.push(Buffer.from(d));
  }
  onResponseEnd(trailers: string[]): void {
    this.trailers = trailers;
    this.resolve();
  }
  onRequestDrain(): void {
    this.drains++;
  }
  onConnectionError(err: Error): void {
    this.error = err;
    this.resolve();
  }
  text(): string {
    return Buffer.concat(this.body).toString();
  }
}

class Owner implements ClientConnectionOwner {
  idles = 0;
  closes: Array<Error | undefined> = [];
  readonly closed: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.closed = new Promise((r) => (this.resolve = r));
  }
  onConnectionIdle(): void {
    this.idles++;
  }
  onConnectionClose(_c: ClientConnection, err: Error | undefined): void {
    this.closes.push(err);
    this.resolve();
  }
}

async function connect(port: number, owner: Owner): Promise<ClientConnection> {
  const s = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
  return new ClientConnection(s, owner);
}

test('sequential requests share one keep-alive connection; Connection: close from the endpoint closes it after the response', async (t) => {
  let connections = 0;
  const backend = await startH1Backend((req, res) => {
    if (req.url === '/last') res.setHeader('connection', 'close');
    res.end(`${req.method} ${req.url} ${req.headers.host}`);
  });
  backend.server.on('connection', () => connections++);
  t.after(() => backend.close());
  const owner = new Owner();
  const c = await connect(backend.port, owner);
  for (const path of ['/a', '/b', '/last']) {
    const ex = new Exchange();
    c.send(ex, encodeRequestHead('GET', path, ['host', 'example.test'], BodyFraming.NONE), BodyFraming.NONE, false);
    await ex.done;
    assert.equal(ex.error, null);
    assert.deepEqual(ex.heads, [200]);
    assert.equal(ex.text(), `GET ${path} example.test`);
  }
  await owner.closed;
  assert.equal(connections, 1);
  assert.equal(owner.idles, 2, 'idle after /a and /b, not after /last');
  assert.deepEqual(owner.closes, [undefined]);
  assert.equal(c.requests, 3);
});

test('a chunked request body reaches node:http whole; its chunked answer comes back with trailers', async (t) => {
  const backend = await startH1Backend((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      res.writeHead(200, { trailer: 'x-length' });
      res.write(Buffer.concat(parts));
      res.addTrailers({ 'x-length': String(Buffer.concat(parts).length) });
      res.end();
    });
  });
  t.after(() => backend.close());
  const owner = new Owner();
  const c = await connect(backend.port, owner);
  const ex = new Exchange();
  c.send(ex, encodeRequestHead('POST', '/', ['host', 'x'], BodyFraming.CHUNKED), BodyFraming.CHUNKED, false);
  const piece = Buffer.alloc(10_000, 0x61);
  for (let i = 0; i < 9; i++) c.writeBody(piece, false);
  c.writeBody(piece, true);
  await ex.done;
  assert.equal(ex.error, null);
  assert.equal(ex.text().length, 100_000);
  assert.deepEqual(ex.trailers, ['x-length', '100000']);
  assert.equal(c.requestComplete, true);
  assert.equal(owner.idles, 1);
  c.destroy();
  await owner.closed;
});

test('an answer before the request body is sent ends the exchange and the connection is closed, not reused', async (t) => {
  const backend = await startH1Backend((_req, res) => {
    res.writeHead(413, { 'content-length': '0' });
    res.end();
  });
  t.after(() => backend.close());
  const owner = new Owner();
  const c = await connect(backend.port, owner);
  const ex = new Exchange();
  c.send(ex, encodeRequestHead('POST', '/', ['host', 'x', 'content-length', '1000000'], BodyFraming.LENGTH), BodyFraming.LENGTH, false);
  c.writeBody(Buffer.alloc(1000), false);
  await ex.done;
  assert.deepEqual(ex.heads, [413]);
  await owner.closed;
  assert.equal(owner.idles, 0);
  assert.equal(c.socket.destroyed, true);
});

test('a response with a bare LF is a protocol error: the exchange fails and the connection closes', async (t) => {
  const server = net.createServer((s) => {
    s.once('data', () => s.write('HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const owner = new Owner();
  const c = await connect((server.address() as net.AddressInfo).port, owner);
  const ex = new Exchange();
  c.send(ex, encodeRequestHead('GET', '/', ['host', 'x'], BodyFraming.NONE), BodyFraming.NONE, false);
  await ex.done;
  await owner.closed;
  assert.match(String(ex.error?.message), /bare LF/);
  assert.equal((ex.error as { code?: string }).code, 'SWY_HTTP1_PROTOCOL');
  assert.deepEqual(ex.heads, []);
  assert.equal(owner.closes.length, 1);
});

test('a response cut short by the endpoint fails the exchange; a body delimited by the close ends it', async (t) => {
  const server = net.createServer((s) => {
    s.once('data', (d: Buffer) => {
      if (d.includes('/short')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      else s.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  for (const [path, failed] of [['/short', true], ['/close', false]] as const) {
    const owner = new Owner();
    const c = await connect(port, owner);
    const ex = new Exchange();
    c.send(ex, encodeRequestHead('GET', path, ['host', 'x'], BodyFraming.NONE), BodyFraming.NONE, false);
    await ex.done;
    await owner.closed;
    assert.equal(ex.error !== null, failed, path);
    if (!failed) assert.equal(ex.text(), 'until close');
    assert.equal(owner.idles, 0);
  }
});
