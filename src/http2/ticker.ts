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

/** Milliseconds from performance.now(), refreshed every tick; cheap to read on hot paths. */
export let coarseNow = performance.now();

function tick(): void {
  coarseNow = performance.now();
  for (const m of members) m.onTick(coarseNow);
}

export function addTickable(t: Tickable): void {
  members.add(t);
  if (timer === undefined) {
    coarseNow = performance.now();
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
