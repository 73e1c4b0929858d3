import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseReader } from '../../src/telemetry/sse-reader.js';

test('SseReader: messages cut anywhere between chunks come out whole and in order', () => {
  const wire = ': open\n\ndata: {"a":1}\n\nevent: dropped\ndata: {"dropped":2}\n\ndata: x\ndata: y\n\n';
  for (let cut = 0; cut <= wire.length; cut++) {
    const r = new SseReader();
    const got = [...r.push(wire.slice(0, cut)), ...r.push(wire.slice(cut))];
    assert.deepEqual(got, [
      { event: 'message', data: '' },
      { event: 'message', data: '{"a":1}' },
      { event: 'dropped', data: '{"dropped":2}' },
      { event: 'message', data: 'x\ny' },
    ], `cut at ${cut}`);
  }
});

test('SseReader: an unfinished message waits for its blank line', () => {
  const r = new SseReader();
  assert.deepEqual(r.push('data: partial\n'), []);
  assert.deepEqual(r.push('\n'), [{ event: 'message', data: 'partial' }]);
});
