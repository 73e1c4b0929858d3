import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { parseConfig } from '../../src/config/index.js';
import { encodeStreamRequest, STREAM_CORE_METRICS_PATH } from '../../src/proxy/orca-oob.js';
import { decodeRequestReference, encodeReference } from '../helpers/orca-proto.js';
import { startProxy, waitReady } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

function grpcFrame(m: Buffer): Buffer {
  const f = Buffer.alloc(5 + m.length);
  f.writeUInt32BE(m.length, 1);
  m.copy(f, 5);
  return f;
}

/**
 * A node:http2 server implementing OpenRcaService/StreamCoreMetrics by hand:
 * it records each call's request, sends `reports` (each split over two DATA
 * frames to exercise reassembly), then either keeps the stream open or ends
 * it with grpc-status 0.
 */
async function oobServer(opts: { reports: Record<string, unknown>[]; end: boolean }) {
  const calls: { interval: { seconds: string; nanos: number } | null; closed: boolean }[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    if (headers[':path'] !== STREAM_CORE_METRICS_PATH) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    const call = { interval: null as { seconds: string; nanos: number } | null, closed: false };
    calls.push(call);
    stream.on('close', () => (call.closed = true));
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => {
      call.interval = decodeRequestReference(Buffer.concat(chunks).subarray(5)).report_interval;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: opts.end });
      for (const r of opts.reports) {
        const f = grpcFrame(encodeReference(r));
        stream.write(f.subarray(0, 3));
        stream.write(f.subarray(3));
      }
      if (opts.end) {
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  return {
    calls,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      server.close(() => r());
    }),
  };
}

test('the OrcaLoadReportRequest we send decodes with protobufjs to the configured interval', () => {
  for (const [ms, seconds, nanos] of [[10_000, '10', 0], [1_500, '1', 500_000_000], [250, '0', 250_000_000]] as const) {
    const frame = encodeStreamRequest(ms);
    assert.equal(frame.readUInt32BE(1), frame.length - 5);
    assert.deepEqual(decodeRequestReference(frame.subarray(5)).report_interval, { seconds, nanos });
  }
});

test('out-of-band: one StreamCoreMetrics stream per endpoint on its pooled connection; reports land on the endpoint; a finished stream is opened again', async (t) => {
  const backend = await oobServer({ reports: [{ cpu_utilization: 0.5, rps_fractional: 10 }, { application_utilization: 0.25, rps_fractional: 20, eps: 2 }], end: true });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'api' }],
    services: [{
      name: 'api',
      balancer: 'wrr',
      reconnectBackoff: { base: '10ms', max: '20ms' },
      orca: { inband: false, outOfBand: true, reportingPeriod: '1500ms' },
      endpoints: [`127.0.0.1:${backend.port}`],
    }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
  });
  await waitReady(p);
  const svc = p.proxy.services.get('api')!;
  const ep = svc.endpoints[0]!;
  // Each stream delivers two reports, then ends: the next one opens after the backoff.
  await waitFor(() => ep.load.orca!.reports >= 4, 'reports from two streams');
  assert.deepEqual(backend.calls[0]!.interval, { seconds: '1', nanos: 500_000_000 });
  assert.equal(ep.load.orca!.utilization, 0.25);
  assert.equal(ep.load.orca!.qps, 20);
  assert.equal(ep.load.orca!.eps, 2);
  assert.equal(ep.load.orca!.malformed, 0);
  // Carried by the endpoint's own pool: one connection to the backend, no request counted.
  assert.equal(ep.pool.connectionCount, 1);
  assert.equal(ep.requestsTotal, 0);
  assert.equal(ep.load.pending, 0);
  assert.ok(svc.orca!.stream(ep)!.opened >= 2);
});

test('out-of-band against a real grpc-js ServerMetricRecorder; the stream is cancelled when the endpoint leaves the service', async (t) => {
  const server = new grpc.Server();
  const recorder = new grpc.ServerMetricRecorder();
  recorder.setCpuUtilizationMetric(0.9);
  recorder.setQpsMetric(30);
  recorder.setEpsMetric(3);
  recorder.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, n) => (e ? reject(e) : resolve(n))),
  );
  const other = await oobServer({ reports: [], end: false });
  const config = (endpoints: string[]) => ({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'api' }],
    services: [{ name: 'api', balancer: 'wrr', orca: { outOfBand: true, reportingPeriod: '100ms' }, endpoints }],
  });
  const p = await startProxy(config([`127.0.0.1:${port}`, `127.0.0.1:${other.port}`]));
  t.after(async () => {
    await p.stop();
    server.forceShutdown();
    await other.close();
  });
  await waitReady(p);
  const svc = p.proxy.services.get('api')!;
  const [ep, ep2] = svc.endpoints as [typeof svc.endpoints[0], typeof svc.endpoints[0]];
  await waitFor(() => ep.load.orca!.reports >= 2, 'two reports from grpc-js');
  assert.equal(ep.load.orca!.utilization, 0.9);
  assert.equal(ep.load.orca!.qps, 30);
  assert.equal(ep.load.orca!.eps, 3);
  // 30 / (0.9 + 3/30 × 1) = 30 once the blackout has passed: the weight is computed, the blackout holds it back.
  assert.equal(ep.load.orca!.weightNow(ep.readySince), 0);
  await waitFor(() => other.calls.length === 1 && other.calls[0]!.interval !== null, 'the stream to the second endpoint');
  assert.equal(other.calls[0]!.closed, false);
  // The second endpoint leaves: its stream is cancelled (RST_STREAM reaches the backend).
  await p.proxy.reconfigure(parseConfig({ admin: { enabled: false }, ...config([`127.0.0.1:${port}`]) }, 'test'));
  assert.equal(p.proxy.services.get('api'), svc, 'the service was kept in place');
  await waitFor(() => other.calls[0]!.closed, 'the removed endpoint stream closed');
  assert.equal(svc.orca!.stream(ep2), undefined);
  assert.equal(other.calls.length, 1, 'not opened again');
});
