/**
 * Long runs on ONE proxy, the shape of traffic that once wedged upstream
 * HTTP/2 connections: when a backend ended a response while bytes were still
 * queued towards a slower client, the proxy never returned the credit for
 * those bytes; after enough responses the upstream connection window was
 * gone and every stream on it stalled for ever. Each run here moves many
 * times the 16 MiB connection window through one upstream connection, with
 * clients slower than the backend (64 KiB windows), and every wait is
 * bounded so a wedge fails the test instead of hanging it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { mulberry32 } from '../helpers/engine-frames.js';
import { echoClient, startEchoServer, type EchoClient, type EchoMessage } from '../helpers/grpc-echo.js';
import { connect, startH2Backend, startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { nginxBinary, startSoakNginx } from '../soak/nginx.js';
import { bodyBytes, bodyDigest, Digest } from '../soak/payload.js';

const MiB = 1 << 20;
/** Far longer than a 1 MiB download takes on a loaded machine, far shorter than for ever. */
const REQUEST_TIMEOUT_MS = 20_000;

interface Got {
  status: number;
  bytes: number;
  sha256: string;
}

/** GET with a bounded wait: rejects with `what` when no complete response came in time. */
function get(session: http2.ClientHttp2Session, path: string, what: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    const d = new Digest();
    let status = 0;
    const timer = setTimeout(() => {
      req.close();
      reject(new Error(`${what}: no complete response within ${REQUEST_TIMEOUT_MS} ms (${d.bytes} bytes arrived) — the connection is wedged`));
    }, REQUEST_TIMEOUT_MS);
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => d.update(c));
    req.on('end', () => {
      clearTimeout(timer);
      resolve({ status, bytes: d.bytes, sha256: d.hex() });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what}: ${e.message}`));
    });
  });
}

function h2Proxy(endpoint: number): Promise<RunningProxy> {
  return startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'web' }],
    services: [{ name: 'web', protocol: 'http2', endpoints: [`127.0.0.1:${endpoint}`] }],
  });
}

/**
 * 8 batches; each a new client connection with node:http2's default 64 KiB
 * windows and 10 concurrent 1 MiB downloads. Then a small GET must complete.
 */
async function batchesOfDownloads(p: RunningProxy, big: { path: string; size: number; sha256: string }, small: string): Promise<void> {
  let completed = 0;
  for (let b = 0; b < 8; b++) {
    const s = await connect(p.port());
    try {
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => get(s, big.path, `batch ${b} download ${i} (after ${completed} complete)`)));
      for (const g of got) {
        assert.equal(g.status, 200);
        assert.equal(g.bytes, big.size);
        assert.equal(g.sha256, big.sha256);
        completed++;
      }
    } finally {
      closeNow(s);
    }
  }
  assert.equal(completed, 80);
  const s = await connect(p.port());
  try {
    assert.equal((await get(s, small, 'small GET after 80 downloads')).status, 200);
  } finally {
    closeNow(s);
  }
}

/** Closing gracefully would wait for the streams of a wedged connection for ever. */
function closeNow(s: http2.ClientHttp2Session): void {
  s.destroy();
}

test('nginx h2c backend: 8 batches of 10 concurrent 1 MiB downloads (64 KiB client windows), then a small GET', { skip: nginxBinary() === undefined && 'nginx not installed' }, async (t) => {
  const nginx = await startSoakNginx({ maxFileBytes: MiB });
  t.after(() => nginx.stop());
  const big = nginx.files.find((f) => f.size === MiB)!;
  const small = nginx.files.find((f) => f.size === 1)!;
  const p = await h2Proxy(nginx.port);
  t.after(() => p.stop());
  await waitReady(p);
  await batchesOfDownloads(p, big, small.path);
});

test('node:http2 backend: 8 batches of 10 concurrent 1 MiB downloads (64 KiB client windows), then a small GET', async (t) => {
  const body = bodyBytes(42, MiB);
  const backend = await startH2Backend('big', {
    handler(stream, headers) {
      stream.resume();
      stream.respond({ ':status': 200 });
      stream.end(headers[':path'] === '/big' ? body : 'ok');
    },
  });
  t.after(() => backend.close());
  const p = await h2Proxy(backend.port);
  t.after(() => p.stop());
  await waitReady(p);
  await batchesOfDownloads(p, { path: '/big', size: MiB, sha256: bodyDigest(42, MiB) }, '/small');
});

test('one node:http2 client fetches a 1 MiB body 40 times in a row (a leak once wedged it at the 17th)', async (t) => {
  const body = bodyBytes(43, MiB);
  const backend = await startH2Backend('big', {
    handler(stream) {
      stream.resume();
      stream.respond({ ':status': 200 });
      stream.end(body);
    },
  });
  t.after(() => backend.close());
  const p = await h2Proxy(backend.port);
  t.after(() => p.stop());
  await waitReady(p);
  const s = await connect(p.port());
  t.after(() => closeNow(s));
  const want = bodyDigest(43, MiB);
  for (let i = 1; i <= 40; i++) {
    const g = await get(s, '/', `request ${i} of 40`);
    assert.equal(g.status, 200, `request ${i}`);
    assert.equal(g.bytes, MiB, `request ${i}`);
    assert.equal(g.sha256, want, `request ${i}`);
  }
});

/** One bidi call: `sizes.length` messages written as fast as allowed, each echo checked in order. */
function bidiEcho(client: EchoClient, sizes: readonly number[], seed: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const call = (client.Bidi as (md: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientDuplexStream<EchoMessage, EchoMessage>)(
      new grpc.Metadata(),
      { deadline: Date.now() + REQUEST_TIMEOUT_MS },
    );
    let got = 0;
    let bad: string | undefined;
    call.on('data', (m: EchoMessage) => {
      if (m.count !== got || !bodyBytes(seed + got, sizes[got]!).equals(m.payload ?? Buffer.alloc(0))) bad ??= `${what}: echo ${got} differs`;
      got++;
    });
    call.on('error', () => {});
    call.on('status', (st: grpc.StatusObject) => {
      if (bad !== undefined) reject(new Error(bad));
      else if (st.code !== grpc.status.OK) reject(new Error(`${what}: ${grpc.status[st.code]} after ${got} of ${sizes.length} echoes: ${st.details}`));
      else if (got !== sizes.length) reject(new Error(`${what}: ${got} of ${sizes.length} echoes`));
      else resolve();
    });
    void (async () => {
      for (let i = 0; i < sizes.length; i++) {
        if (!call.write({ payload: bodyBytes(seed + i, sizes[i]!), count: i })) {
          await new Promise<void>((r) => {
            call.once('drain', r);
            call.once('status', r);
          });
        }
      }
      call.end();
    })();
  });
}

test('gRPC: 12 client connections in a row, each with 8 concurrent bidi streams × 20 messages of 0–256 KiB', async (t) => {
  const server = await startEchoServer('echo');
  t.after(() => server.close());
  const p = await h2Proxy(server.port);
  t.after(() => p.stop());
  await waitReady(p);
  const rng = mulberry32(0xb1d1);
  for (let run = 1; run <= 12; run++) {
    const client = echoClient(p.port());
    try {
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => {
          const sizes = Array.from({ length: 20 }, () => Math.floor(rng() * (256 * 1024 + 1)));
          return bidiEcho(client, sizes, run * 1000 + i * 20, `run ${run} stream ${i}`);
        }),
      );
    } finally {
      client.close();
    }
  }
});
