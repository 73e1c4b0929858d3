import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/balancing/clock.js';
import { FailfastQueue } from '../../src/balancing/failfast-queue.js';

class W {
  state: 'waiting' | 'ready' | 'timeout' = 'waiting';
  constructor(readonly name: string, readonly log: string[] = []) {}
  onReady(): void {
    this.state = 'ready';
    this.log.push(`ready ${this.name}`);
  }
  onTimeout(): void {
    this.state = 'timeout';
    this.log.push(`timeout ${this.name}`);
  }
}

test('failfast: waiters time out after the timeout, driven by tick()', () => {
  const clock = new ManualClock(0);
  const q = new FailfastQueue<W>({ clock, timers: false });
  assert.equal(q.timeoutMs, 3000);
  const a = new W('a');
  const b = new W('b');
  assert.ok(q.enqueue(a));
  clock.advance(1000);
  assert.ok(q.enqueue(b));
  clock.advance(1999);
  assert.equal(q.tick(), 0);
  assert.equal(a.state, 'waiting');
  clock.advance(1);
  assert.equal(q.tick(), 1);
  assert.equal(a.state, 'timeout');
  assert.equal(b.state, 'waiting');
  assert.equal(q.nextExpiry(), 4000);
  clock.set(4000);
  q.tick();
  assert.equal(b.state, 'timeout');
  assert.equal(q.size, 0);
});

test('failfast: rejects when full', () => {
  const clock = new ManualClock(0);
  const q = new FailfastQueue<W>({ clock, capacity: 3, timers: false });
  assert.ok(q.enqueue(new W('1')));
  assert.ok(q.enqueue(new W('2')));
  assert.ok(q.enqueue(new W('3')));
  assert.equal(q.enqueue(new W('4')), false);
  assert.equal(q.size, 3);
});

test('failfast: wake(n) and wakeAll() release waiters in FIFO order', () => {
  const clock = new ManualClock(0);
  const log: string[] = [];
  const q = new FailfastQueue<W>({ clock, timers: false });
  const ws = ['a', 'b', 'c', 'd'].map((n) => new W(n, log));
  for (const w of ws) q.enqueue(w);
  assert.equal(q.wake(2), 2);
  assert.deepEqual(log, ['ready a', 'ready b']);
  assert.equal(q.wakeAll(), 2);
  assert.deepEqual(log, ['ready a', 'ready b', 'ready c', 'ready d']);
  assert.equal(q.size, 0);
  assert.equal(q.wakeAll(), 0);
});

test('failfast: waiters re-queued during wakeAll are not woken again by the same call', () => {
  const clock = new ManualClock(0);
  const q = new FailfastQueue<{ onReady(): void; onTimeout(): void; n: number }>({ clock, timers: false });
  const w = {
    n: 0,
    onReady() {
      this.n++;
      q.enqueue(this); // still no endpoint: wait again
    },
    onTimeout() {},
  };
  q.enqueue(w);
  assert.equal(q.wakeAll(), 1);
  assert.equal(w.n, 1);
  assert.equal(q.size, 1);
});

test('failfast: remove() cancels a waiter; holes are skipped and compacted', () => {
  const clock = new ManualClock(0);
  const log: string[] = [];
  const q = new FailfastQueue<W>({ clock, capacity: 3, timers: false });
  const a = new W('a', log);
  const b = new W('b', log);
  const c = new W('c', log);
  q.enqueue(a);
  q.enqueue(b);
  q.enqueue(c);
  assert.ok(q.remove(b));
  assert.equal(q.remove(b), false);
  assert.equal(q.size, 2);
  const d = new W('d', log);
  assert.ok(q.enqueue(d)); // reuses the hole (compaction)
  assert.equal(q.enqueue(new W('e', log)), false);
  clock.advance(3000);
  q.tick();
  assert.deepEqual(log, ['timeout a', 'timeout c', 'timeout d']);
});

test('failfast: close() times out everyone', () => {
  const clock = new ManualClock(0);
  const q = new FailfastQueue<W>({ clock, timers: false });
  const a = new W('a');
  q.enqueue(a);
  q.close();
  assert.equal(a.state, 'timeout');
  assert.equal(q.size, 0);
});

test('failfast: the real coarse timer runs only while non-empty and fires timeouts', async () => {
  let now = 0;
  const clock = { now: () => now };
  const q = new FailfastQueue<W>({ clock, timeoutMs: 50, tickMs: 5 });
  const a = new W('a');
  q.enqueue(a);
  now = 60; // the injected clock says the timeout has passed; the next tick must expire it
  for (let i = 0; i < 400 && a.state === 'waiting'; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(a.state, 'timeout');
  assert.equal(q.size, 0);
});
