import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRecording, RecordingError, requestLine } from '../../src/balancing/simulation/replay-recording.js';

const HEADER = {
  format: 'switchyard-recording',
  version: 1,
  startedAt: '2025-01-01T00:00:00.000Z',
  startMs: 1_700_000_000_000,
  source: '127.0.0.1:9901',
  filter: { service: 'web' },
  zone: null,
  services: [{ name: 'web', policy: 'peak-ewma', balancer: { policy: 'peak-ewma', decay: 10_000 }, endpoints: [{ id: '10.0.0.1:80', weight: 2, zone: 'a' }, { id: '10.0.0.2:80' }] }],
};

function file(...lines: unknown[]): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

test('a recording reads back its header, requests (written by requestLine) and end line', () => {
  const req = { t: -1.5, d: 3.25, svc: 'web', ep: '10.0.0.1:80', st: 200, gs: 0, o: 'success' as const, a: 2 };
  const rec = parseRecording(file(HEADER, requestLine(req), { t: 4, d: 1, svc: 'web', ep: '', st: 503, o: 'refused', future: 'ignored' }, { end: true, durationMs: 60_000, requests: 2, dropped: 0 }));
  assert.equal(rec.header.services[0]!.policy, 'peak-ewma');
  assert.deepEqual(rec.header.services[0]!.endpoints, [{ id: '10.0.0.1:80', weight: 2, zone: 'a' }, { id: '10.0.0.2:80', weight: 1, zone: null }]);
  assert.deepEqual(rec.requests, [req, { t: 4, d: 1, svc: 'web', ep: '', st: 503, o: 'refused' }]);
  assert.deepEqual(rec.end, { end: true, durationMs: 60_000, requests: 2, dropped: 0 });
});

test('a recording cut short (partial last line, no end line) keeps the complete lines', () => {
  const text = file(HEADER, { t: 0, d: 1, svc: 'web', ep: '10.0.0.1:80', st: 200, o: 'success' }) + '{"t":1,"d":';
  const rec = parseRecording(text);
  assert.equal(rec.requests.length, 1);
  assert.equal(rec.end, undefined);
});

test('a bad recording is refused with the line and the field at fault', () => {
  const bad = (text: string, message: RegExp): void => {
    assert.throws(() => parseRecording(text), (e: unknown) => e instanceof RecordingError && message.test(e.message));
  };
  bad('', /empty file: no header line/);
  bad(file({ hello: 1 }), /^line 1: not a recording/);
  bad(file({ ...HEADER, version: 2 }), /^line 1: version 2 is not supported \(this build reads version 1\)/);
  bad(file(HEADER, { t: 'x', d: 1, svc: 'web', ep: '', st: 0, o: 'success' }), /^line 2: t \(start, ms\) must be a number/);
  bad(file(HEADER, { t: 0, d: -1, svc: 'web', ep: '', st: 0, o: 'success' }), /^line 2: d \(duration, ms\)/);
  bad(file(HEADER, { t: 0, d: 1, svc: 'web', ep: '', st: 0, o: 'ok' }), /^line 2: o \(outcome\) must be one of success, failure, cancelled, refused/);
  bad(file(HEADER, 'not json', { end: true }), /^line 2: invalid JSON/);
  bad(file(HEADER, { end: true }, { t: 0, d: 1, svc: 'web', ep: '', st: 0, o: 'success' }), /^line 3: data after the end line/);
});
