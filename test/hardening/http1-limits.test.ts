import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { parseConfig } from '../../src/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { defaultPolicies } from '../../src/policy/index.js';
import type { MemorySample } from '../../src/proxy/memory-budget.js';
import { REJECT_REASONS } from '../../src/proxy/connection-limits.js';
import { HEAD_REJECT_REASONS } from '../../src/proxy/head-limits.js';
import { startH2Backend, startProxy, waitReady, type H2Backend, type RunningProxy } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

// ------------------------------------------------------------ helpers

interface Raw {
  socket: net.Socket;
  data: string;
  closed: boolean;
}

function connectRaw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const r: Raw = { socket, data: '', closed: false };
    socket.on('data', (d: Buffer) => {
      r.data += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      r.closed = true;
    });
    socket.once('connect', () => resolve(r));
    socket.once('error', reject);
  });
}

/** Sends `text` on a new connection and resolves with everything read until the proxy closes it. */
async function rawExchange(port: number, text: string): Promise<string> {
  const r = await connectRaw(port);
  r.socket.write(text);
  await waitFor(() => r.closed, 'the proxy to close the connection');
  return r.data;
}

function p99(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(s.length * 0.99) - 1)]!;
}

/**
 * The well-behaved client: `n` sequential GETs on one keep-alive connection;
 * every one must succeed. Returns the latencies (ms).
 */
async function goodClient(port: number, n: number, agent = new http.Agent({ keepAlive: true, maxSockets: 1 })): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/good', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      }).on('error', reject);
    });
    assert.equal(status, 200);
    out.push(performance.now() - t0);
  }
  return out;
}

function rejected(p: RunningProxy | Proxy, reason: (typeof HEAD_REJECT_REASONS)[number]): number {
  const proxy = p instanceof Proxy ? p : p.proxy;
  return proxy.listeners[0]!.counters.requestsRejected[HEAD_REJECT_REASONS.indexOf(reason)]!;
}

function refusedConnections(p: Proxy, reason: (typeof REJECT_REASONS)[number]): number {
  return p.listeners[0]!.counters.connectionsRejected[REJECT_REASONS.indexOf(reason)]!;
}

async function withProxy(listener: Record<string, unknown>, fn: (p: RunningProxy, b: H2Backend) => Promise<void>): Promise<void> {
  const backend = await startH2Backend('a');
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'app', ...listener }],
    services: [{ name: 'app', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  try {
    await waitReady(p);
    await fn(p, backend);
  } finally {
    await p.stop();
    await backend.close();
  }
}

// ------------------------------------------------------------ tests

test('slowloris: clients trickling their request head are cut after headersTimeout with 408 while a well-behaved client keeps being served', async () => {
  await withProxy({ protocol: 'http1', limits: { headersTimeout: '400ms' } }, async (p) => {
    const port = p.port();
    const baseline = await goodClient(port, 150);
    const attackers = await Promise.all(Array.from({ length: 20 }, () => connectRaw(port)));
    for (const a of attackers) a.socket.write('GET / HTTP/1.1\r\nhost: x\r\n');
    // One header byte every 50 ms, for at most 5 s: without the timeout they would outlive the test's wait.
    let trickles = 0;
    const trickle = setInterval(() => {
      trickles++;
      for (const a of attackers) if (!a.closed) a.socket.write('x');
      if (trickles > 100) clearInterval(trickle);
    }, 50);
    const latencies = await goodClient(port, 150);
    await waitFor(() => attackers.every((a) => a.closed), 'every slow client to be cut', 4000);
    clearInterval(trickle);
    console.log(`slowloris (20 trickling connections): well-behaved client p99 ${p99(latencies).toFixed(2)} ms over ${latencies.length} requests (${p99(baseline).toFixed(2)} ms before the attack)`);
    for (const a of attackers) assert.match(a.data, /^HTTP\/1\.1 408 .*switchyard-error: SWY_ERR_REQUEST_TIMEOUT/s);
    assert.equal(rejected(p, 'header-timeout'), 20);
    assert.ok(trickles < 100, 'the slow clients were cut before they stopped by themselves');
  });
});

test('a request head larger than maxHeaderSize is answered 431, a request line alone over it 414', async () => {
  await withProxy({ protocol: 'http1', limits: { maxHeaderSize: '8KiB' } }, async (p) => {
    const port = p.port();
    const attack = (async () => {
      const big = await rawExchange(port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(10_000)}\r\n\r\n`);
      const longLine = await rawExchange(port, `GET /${'a'.repeat(10_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
      return { big, longLine };
    })();
    const latencies = await goodClient(port, 100);
    const { big, longLine } = await attack;
    console.log(`oversized heads: well-behaved client p99 ${p99(latencies).toFixed(2)} ms over ${latencies.length} requests`);
    assert.match(big, /^HTTP\/1\.1 431 .*switchyard-error: SWY_ERR_HEADERS_TOO_LARGE/s);
    assert.match(longLine, /^HTTP\/1\.1 414 .*switchyard-error: SWY_ERR_URI_TOO_LONG/s);
    assert.equal(rejected(p, 'header-size'), 1);
    assert.equal(rejected(p, 'uri-too-long'), 1);
    // Just under the limit still passes.
    const ok = await rawExchange(port, `GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-big: ${'a'.repeat(7000)}\r\n\r\n`);
    assert.match(ok, /^HTTP\/1\.1 200 /);
  });
});

test('more header fields than maxHeaderCount are answered 431 over HTTP/1.1 and HTTP/2, and never reach the endpoint', async () => {
  await withProxy({ limits: { maxHeaderCount: 30 } }, async (p, backend) => {
    const port = p.port();
    const many: Record<string, string> = {};
    for (let i = 0; i < 40; i++) many[`x-h${i}`] = 'v';
    const h1 = await new Promise<{ status: number; error: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', headers: many, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, error: String(res.headers['switchyard-error']) });
      }).on('error', reject);
    });
    assert.deepEqual(h1, { status: 431, error: 'SWY_ERR_HEADERS_TOO_LARGE' });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const h2 = await new Promise<{ status: number; error: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/', ...many });
      req.on('response', (h) => resolve({ status: Number(h[':status']), error: String(h['switchyard-error']) }));
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(h2, { status: 431, error: 'SWY_ERR_HEADERS_TOO_LARGE' });
    // The connection still serves requests within the limit.
    const fine = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/', 'x-one': 'v' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
    session.close();
    assert.equal(fine, 200);
    assert.equal(rejected(p, 'header-count'), 2);
    assert.equal(backend.requests, 1);
  });
});

test('connection limit: the N+1th connection is closed on arrival and counted while the N admitted ones are served', async () => {
  await withProxy({ protocol: 'http1', limits: { maxConnections: 3 } }, async (p) => {
    const port = p.port();
    const agents = [0, 1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    // Three keep-alive connections take the three places.
    for (const a of agents) await goodClient(port, 1, a);
    const extra = await connectRaw(port);
    extra.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await waitFor(() => extra.closed, 'the fourth connection to be closed');
    assert.equal(extra.data, '', 'nothing is answered on a refused connection');
    assert.equal(refusedConnections(p.proxy, 'listener-max-connections'), 1);
    const latencies = (await Promise.all(agents.map((a) => goodClient(port, 50, a)))).flat();
    console.log(`connection limit (1 refused): admitted clients p99 ${p99(latencies).toFixed(2)} ms over ${latencies.length} requests`);
    // A place freed is taken again.
    agents[0]!.destroy();
    await waitFor(() => p.proxy.limits.open === 2, 'the closed connection to be released');
    const again = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await goodClient(port, 1, again);
    again.destroy();
    for (const a of agents) a.destroy();
    await waitFor(() => p.proxy.limits.open === 0, 'every connection to be released');
  });
});

test('maxRequestBody: 413 for an announced length at once, and for a streamed body once it passes the limit, over HTTP/1.1 and HTTP/2', async () => {
  await withProxy({ routes: [{ match: { pathPrefix: '/' }, service: 'app', maxRequestBody: '1KiB' }] }, async (p, backend) => {
    const port = p.port();
    const post = (headers: http.OutgoingHttpHeaders, chunks: Buffer[]): Promise<{ status: number; error: string }> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', headers, agent: false }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, error: String(res.headers['switchyard-error']) });
        });
        req.on('error', (e) => reject(e));
        let i = 0;
        const next = (): void => {
          if (i === chunks.length) req.end();
          else req.write(chunks[i++]!, next);
        };
        next();
      });
    assert.deepEqual(await post({ 'content-length': 2048 }, [Buffer.alloc(2048)]), { status: 413, error: 'SWY_ERR_BODY_TOO_LARGE' });
    assert.equal(backend.requests, 0, 'an announced length over the limit never goes upstream');
    assert.deepEqual(await post({ 'transfer-encoding': 'chunked' }, [Buffer.alloc(600), Buffer.alloc(600), Buffer.alloc(600)]), { status: 413, error: 'SWY_ERR_BODY_TOO_LARGE' });
    assert.deepEqual(await post({ 'transfer-encoding': 'chunked' }, [Buffer.alloc(500), Buffer.alloc(500)]), { status: 200, error: 'undefined' });

    const session = http2.connect(`http://127.0.0.1:${port}`);
    const h2 = await new Promise<{ status: number; error: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/up', ':method': 'POST' });
      req.on('response', (h) => resolve({ status: Number(h[':status']), error: String(h['switchyard-error']) }));
      req.on('error', reject);
      req.write(Buffer.alloc(800));
      req.write(Buffer.alloc(800));
    });
    session.destroy();
    assert.deepEqual(h2, { status: 413, error: 'SWY_ERR_BODY_TOO_LARGE' });
    await waitFor(() => p.proxy.services.get('app')!.inflight === 0, 'nothing in flight');
  });
});

test('memory budget: while memory is over it new connections are refused (counted, told once per change) and open ones are still served', async () => {
  const backend = await startH2Backend('a');
  let sample: MemorySample = { rss: 100, heapUsed: 10, heapLimit: 1000 };
  const events: boolean[] = [];
  const config = parseConfig({
    admin: { enabled: false },
    limits: { memoryBudget: 1000, memoryCheckInterval: '1h' },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http1', service: 'app' }],
    services: [{ name: 'app', endpoints: [`127.0.0.1:${backend.port}`] }],
  }, 'test');
  const proxy = new Proxy(config, { policies: defaultPolicies, memoryReader: () => sample, memoryEvents: { onMemoryPressure: (over) => events.push(over) } });
  await proxy.start();
  try {
    const port = proxy.listeners[0]!.address.port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await goodClient(port, 1, agent);
    sample = { rss: 5000, heapUsed: 10, heapLimit: 1000 };
    proxy.memoryBudget.check();
    proxy.memoryBudget.check();
    const shed = await Promise.all([0, 1, 2].map(() => rawExchange(port, 'GET / HTTP/1.1\r\nhost: x\r\n\r\n')));
    assert.deepEqual(shed, ['', '', '']);
    const latencies = await goodClient(port, 100, agent);
    console.log(`memory budget shedding (3 refused): open connection p99 ${p99(latencies).toFixed(2)} ms over ${latencies.length} requests`);
    assert.equal(refusedConnections(proxy, 'memory-budget'), 3);
    // The V8 heap counts too: under the RSS budget, over 90% of the heap limit.
    sample = { rss: 100, heapUsed: 950, heapLimit: 1000 };
    proxy.memoryBudget.check();
    assert.equal(proxy.memoryBudget.over, true);
    sample = { rss: 100, heapUsed: 10, heapLimit: 1000 };
    proxy.memoryBudget.check();
    await goodClient(port, 1);
    assert.deepEqual(events, [true, false]);
    agent.destroy();
  } finally {
    await proxy.stop(200);
    await backend.close();
  }
});

test('the default memory budget is on, and a tiny one sheds connections of the real process', async () => {
  const backend = await startH2Backend('a');
  const p = await startProxy({
    limits: { memoryBudget: '1MiB', memoryCheckInterval: '50ms' },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'app' }],
    services: [{ name: 'app', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  try {
    assert.equal(p.proxy.memoryBudget.over, true);
    assert.equal(await rawExchange(p.port(), 'GET / HTTP/1.1\r\nhost: x\r\n\r\n'), '');
    assert.equal(refusedConnections(p.proxy, 'memory-budget'), 1);
    assert.ok(parseConfig({ listeners: [{ name: 'l', listen: ':0', service: 's' }], services: [{ name: 's' }] }, 't').limits.memoryBudget === 'auto');
  } finally {
    await p.stop();
    await backend.close();
  }
});
