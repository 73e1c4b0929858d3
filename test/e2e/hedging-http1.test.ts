import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type http2 from 'node:http2';
import { parseConfig } from '../../src/config/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import type { Exchange, ExchangeObserver } from '../../src/proxy/exchange/exchange.js';
import { startH1Backend, within } from '../helpers/h1-peers.js';
import { closeSession, connect, h2Request, startH2Backend } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

const REQUESTS = 6;
const BODY = Buffer.alloc(1024, 0x61);

interface Backend {
  port: number;
  requests(): number;
  close(): Promise<void>;
}

/**
 * `slow` never answers (until the test ends), so a request sent to it first
 * can only complete through its hedge: no wall-clock bound is needed.
 * `fast` answers with its name and the length of the body it got.
 */
async function backend(protocol: 'http1' | 'http2', slow: boolean, held: { open: number }): Promise<Backend> {
  if (protocol === 'http1') {
    const b = await startH1Backend((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      if (slow) {
        held.open++;
        res.on('close', () => held.open--);
        return;
      }
      req.on('end', () => res.writeHead(200, { 'x-backend': 'fast', 'x-request-bytes': String(n) }).end('ok'));
    });
    return { port: b.port, requests: () => b.requests, close: () => b.close() };
  }
  const b = await startH2Backend(slow ? 'slow' : 'fast', {
    handler(stream: http2.ServerHttp2Stream) {
      stream.on('error', () => {});
      let n = 0;
      stream.on('data', (d: Buffer) => (n += d.length));
      if (slow) {
        held.open++;
        stream.on('close', () => held.open--);
        return;
      }
      stream.on('end', () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'x-backend': 'fast', 'x-request-bytes': String(n) });
        stream.end('ok');
      });
    },
  });
  return { port: b.port, requests: () => b.requests, close: () => b.close() };
}

function h1Put(port: number): Promise<{ status: number; backend: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/hedged', agent: false, headers: { 'content-length': BODY.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, backend: String(res.headers['x-backend']), bytes: Number(res.headers['x-request-bytes']) }));
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

for (const [client, upstream] of [['http1', 'http1'], ['http1', 'http2'], ['http2', 'http1']] as const) {
  test(`hedging: an HTTP/${client === 'http1' ? '1.1' : '2'} client, HTTP/${upstream === 'http1' ? '1.1' : '2'} endpoints: a request held by the slow endpoint is answered by its hedge, with the whole body`, async (t) => {
    const held = { open: 0 };
    const slow = await backend(upstream, true, held);
    const fast = await backend(upstream, false, held);
    let hedges = 0;
    let finished = 0;
    const servedBy = new Map<string, number>();
    const observer: ExchangeObserver = {
      onExchangeStart() {},
      onExchangeEnd(ex: Exchange) {
        finished++;
        hedges += ex.hedges;
        const id = ex.lastEndpoint?.id ?? '';
        servedBy.set(id, (servedBy.get(id) ?? 0) + 1);
      },
    };
    const config = parseConfig({
      admin: { enabled: false },
      listeners: [{
        name: 'edge', listen: '127.0.0.1:0', protocol: client,
        routes: [{ match: { pathPrefix: '/hedged' }, service: 's', idempotent: true, hedge: { delay: '20ms' } }],
      }],
      services: [{ name: 's', protocol: upstream, balancer: 'round-robin', endpoints: [`127.0.0.1:${slow.port}`, `127.0.0.1:${fast.port}`] }],
    }, 'test');
    const proxy = new Proxy(config, { policies: defaultPolicies, observer });
    await proxy.start();
    t.after(async () => {
      await proxy.stop(200);
      await slow.close();
      await fast.close();
    });
    const service = proxy.services.get('s')!;
    await waitFor(() => service.endpoints.every((e) => e.state === 1), 'both endpoints ready');
    const port = proxy.listeners[0]!.address.port;
    const session = client === 'http2' ? await connect(port) : undefined;
    for (let i = 0; i < REQUESTS; i++) {
      const answer = session !== undefined
        ? h2Request(session, { ':method': 'PUT', ':path': '/hedged' }, BODY).then((x) => ({ status: x.status, backend: String(x.headers['x-backend']), bytes: Number(x.headers['x-request-bytes']) }))
        : h1Put(port);
      // Without a hedge, a request the slow endpoint got first would never be answered.
      const r = await within(answer, 10_000, `request ${i} (held by the slow endpoint, unless hedged)`);
      assert.deepEqual(r, { status: 200, backend: 'fast', bytes: BODY.length });
    }
    if (session !== undefined) await closeSession(session);
    // Round robin sends some requests to the slow endpoint first: each of those was hedged once, to the fast one.
    // On a loaded machine the fast endpoint may also miss the 20 ms hedge delay: then a hedge goes
    // to the slow one and may be cancelled before it arrives there, so the slow endpoint sees at
    // most one request per hedge (the proxy counts every hedge it dispatched, below).
    assert.ok(hedges >= 1, `hedges: ${hedges}`);
    assert.ok(slow.requests() >= 1 && slow.requests() <= hedges, `slow endpoint got ${slow.requests()} requests for ${hedges} hedges`);
    assert.equal(fast.requests(), REQUESTS);
    assert.equal(finished, REQUESTS);
    const fastId = `127.0.0.1:${fast.port}`;
    assert.equal(servedBy.get(fastId), REQUESTS, 'every request finished on the fast endpoint');
    const [slowEp, fastEp] = service.endpoints;
    assert.equal(slowEp!.requestsTotal, hedges);
    assert.equal(fastEp!.requestsTotal, REQUESTS);
    // The losing attempts were cancelled upstream; nothing is left in flight or in the load records.
    await waitFor(() => held.open === 0, 'the held attempts to be cancelled');
    assert.equal(service.inflight, 0);
    assert.equal(service.retriesInFlight, 0);
    assert.equal(slowEp!.load.pending + fastEp!.load.pending, 0);
  });
}
