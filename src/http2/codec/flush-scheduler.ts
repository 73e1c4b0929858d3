/**
 * Writes are batched per event-loop turn: a connection that produced frames
 * asks to be flushed, and all such connections are flushed together from one
 * setImmediate, after every socket read of this turn has been processed. A
 * proxied request thus costs one write syscall per connection per turn, not
 * one per frame (the measured prototype spent a third of its time in writes).
 */
export interface Flushable {
  flushScheduled: boolean;
  /** The pass in which it was last flushed (owned by the scheduler). */
  flushPass: number;
  flush(): void;
}

let queue: Flushable[] = [];
let next: Flushable[] = [];
let scheduled = false;
let running = false;
let pass = 0;

function runFlushes(): void {
  scheduled = false;
  running = true;
  pass++;
  // Flushing may schedule more (a window update caused by a relay on another
  // connection): those run in this pass. A connection asking again after its
  // own flush in this pass waits for the next turn, so a producer that never
  // stops cannot starve the event loop.
  try {
    for (let i = 0; i < queue.length; i++) {
      const c = queue[i]!;
      c.flushScheduled = false;
      c.flushPass = pass;
      c.flush();
    }
  } finally {
    running = false;
  }
  queue = next;
  next = [];
  if (queue.length > 0) {
    scheduled = true;
    setImmediate(runFlushes);
  }
}

export function scheduleFlush(c: Flushable): void {
  if (c.flushScheduled) return;
  c.flushScheduled = true;
  if (running && c.flushPass === pass) next.push(c);
  else queue.push(c);
  if (!scheduled && !running) {
    scheduled = true;
    setImmediate(runFlushes);
  }
}
