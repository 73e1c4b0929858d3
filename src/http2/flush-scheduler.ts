/**
 * Writes are batched per event-loop turn: a connection that produced frames
 * asks to be flushed, and all such connections are flushed together from one
 * setImmediate, after every socket read of this turn has been processed. A
 * proxied request thus costs one write syscall per connection per turn, not
 * one per frame (the measured prototype spent a third of its time in writes).
 */
export interface Flushable {
  flushScheduled: boolean;
  flush(): void;
}

let queue: Flushable[] = [];
let scheduled = false;

function runFlushes(): void {
  scheduled = false;
  // Flushing may schedule more (a window update caused by a relay); process until empty.
  for (let i = 0; i < queue.length; i++) {
    const c = queue[i]!;
    c.flushScheduled = false;
    c.flush();
  }
  queue = [];
}

export function scheduleFlush(c: Flushable): void {
  if (c.flushScheduled) return;
  c.flushScheduled = true;
  queue.push(c);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runFlushes);
  }
}
