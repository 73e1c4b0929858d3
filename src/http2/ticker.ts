/**
 * One coarse timer for every connection of the process: settings and PING
 * deadlines, keepalive and abuse-counter windows are checked once per tick
 * instead of arming a timer per connection or per request (undici does the
 * same). Deadlines are therefore accurate to one tick.
 */
export interface Tickable {
  onTick(now: number): void;
}

const TICK_MS = 250;
const members = new Set<Tickable>();
let timer: NodeJS.Timeout | undefined;

/**
 * Whole milliseconds from performance.now(), refreshed every tick; cheap to
 * read on hot paths. Whole: a small integer is stored unboxed in the
 * per-stream fields that copy it (Http2Stream.lastActive), where a fraction
 * costs a heap number per stream.
 */
export let coarseNow = wholeMs();

function wholeMs(): number {
  return Math.floor(performance.now());
}

function tick(): void {
  coarseNow = wholeMs();
  for (const m of members) m.onTick(coarseNow);
}

export function addTickable(t: Tickable): void {
  members.add(t);
  if (timer === undefined) {
    coarseNow = wholeMs();
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
}

export function removeTickable(t: Tickable): void {
  members.delete(t);
  if (members.size === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

export const TICK_INTERVAL_MS = TICK_MS;
