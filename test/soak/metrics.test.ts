import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMetrics, readQuiescence } from './metrics.js';

function exposition(o: { inFlight?: number; window?: number; unacked?: number; outstanding?: number; leaked?: number; streams?: number }): string {
  const lines = [
    '# TYPE switchyard_requests_in_flight gauge',
    `switchyard_requests_in_flight{service="a"} ${o.inFlight ?? 0}`,
    'switchyard_requests_in_flight{service="b"} 0',
  ];
  for (const side of ['downstream', 'upstream']) {
    const window = o.window ?? 100;
    const unacked = o.unacked ?? 28;
    const outstanding = o.outstanding ?? 0;
    const leaked = o.leaked ?? 0;
    lines.push(
      `switchyard_http2_flow_credit_bytes{side="${side}",kind="configured"} 128`,
      `switchyard_http2_flow_credit_bytes{side="${side}",kind="window"} ${window}`,
      `switchyard_http2_flow_credit_bytes{side="${side}",kind="unacked"} ${unacked}`,
      `switchyard_http2_flow_credit_bytes{side="${side}",kind="outstanding"} ${outstanding}`,
      `switchyard_http2_flow_credit_bytes{side="${side}",kind="leaked"} ${leaked}`,
      `switchyard_http2_open_streams{side="${side}"} ${o.streams ?? 0}`,
    );
  }
  return lines.join('\n');
}

test('rest check: at rest when nothing is in flight and window + unacked = configured on both sides', () => {
  const q = readQuiescence(parseMetrics(exposition({})));
  assert.deepEqual(q.problems, []);
  assert.deepEqual(q.missing, []);
  assert.deepEqual(q.credit?.upstream, { configured: 128, window: 100, unacked: 28, outstanding: 0, leaked: 0 });
});

test('rest check: names every gauge that is not at rest', () => {
  const q = readQuiescence(parseMetrics(exposition({ inFlight: 1, window: 90, outstanding: 10, leaked: 0, streams: 2 })));
  assert.deepEqual(q.problems, [
    'switchyard_requests_in_flight = 1 (want 0)',
    'switchyard_http2_open_streams{side="downstream"} = 2 (want 0)',
    'switchyard_http2_open_streams{side="upstream"} = 2 (want 0)',
    'switchyard_http2_flow_credit_bytes{side="downstream"} outstanding = 10 (want 0)',
    'switchyard_http2_flow_credit_bytes{side="downstream"} window 90 + unacked 28 = 118 != configured 128',
    'switchyard_http2_flow_credit_bytes{side="upstream"} outstanding = 10 (want 0)',
    'switchyard_http2_flow_credit_bytes{side="upstream"} window 90 + unacked 28 = 118 != configured 128',
  ]);
  const leaked = readQuiescence(parseMetrics(exposition({ window: 90, leaked: 10 })));
  assert.ok(leaked.problems.includes('switchyard_http2_flow_credit_bytes{side="upstream"} leaked = 10 (want 0)'));
});

test('rest check: a proxy without the HTTP/2 gauges is reported as missing them', () => {
  const q = readQuiescence(parseMetrics('switchyard_requests_in_flight{service="a"} 0\n'));
  assert.deepEqual(q.missing, ['switchyard_http2_open_streams', 'switchyard_http2_flow_credit_bytes']);
});
