import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamTable } from '../../src/http2/proto/streams/store.js';
import type { Http2Stream } from '../../src/http2/index.js';
import { seededRandom } from '../../src/balancing/index.js';

test('the stream table agrees with a Map over 200,000 seeded random operations', () => {
  const source = seededRandom(42);
  const rand = (): number => source.next();
  const table = new StreamTable(4);
  const ref = new Map<number, Http2Stream>();
  let next = 1;
  for (let op = 0; op < 200_000; op++) {
    const r = rand();
    if (r < 0.45 || ref.size === 0) {
      // Mostly increasing odd ids, as a connection opens them; sometimes an old id again.
      const id = rand() < 0.9 ? (next += 2) : 1 + 2 * Math.floor(rand() * (next / 2));
      const s = { id } as unknown as Http2Stream;
      table.set(id, s);
      ref.set(id, s);
    } else if (r < 0.9) {
      const keys = [...ref.keys()];
      const id = rand() < 0.9 ? keys[Math.floor(rand() * keys.length)]! : next + 100;
      assert.equal(table.delete(id), ref.delete(id));
    } else {
      const id = 1 + 2 * Math.floor(rand() * (next / 2 + 2));
      assert.equal(table.get(id), ref.get(id));
    }
    assert.equal(table.size, ref.size);
  }
  for (const [id, s] of ref) assert.equal(table.get(id), s);
  assert.equal(new Set(table.list()).size, ref.size);
});
