import type { Http2Connection } from '../http2/index.js';

/**
 * HTTP/2 client connections with no stream open and none opened for the
 * listener's `limits.idleTimeout` get a graceful GOAWAY (Envoy's connection
 * idle_timeout, nginx's keepalive_timeout). One coarse timer per listener
 * looks at every connection a few times per timeout; nothing is done per
 * stream.
 */
export class H2IdleSweep {
  /** Connections seen idle: since when, and the last stream id then (a stream opened and closed in between is activity). */
  private readonly idle = new Map<Http2Connection, { since: number; lastStreamId: number }>();
  private timer: NodeJS.Timeout | undefined = undefined;
  private idleMs = 0;

  constructor(private readonly connections: ReadonlyMap<Http2Connection, unknown>) {}

  /** Sweeps every quarter of `idleMs` (at most every second, at least every 50 ms); 0 stops. */
  start(idleMs: number): void {
    if (idleMs === this.idleMs && (this.timer !== undefined || idleMs <= 0)) return;
    this.stop();
    this.idleMs = idleMs;
    if (idleMs <= 0) return;
    this.timer = setInterval(sweepNow, Math.max(50, Math.min(1000, idleMs / 4)), this);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.idleMs = 0;
  }

  /** The connection closed. */
  forget(c: Http2Connection): void {
    this.idle.delete(c);
  }

  /** One pass (a timer callback, or a test with its own clock). */
  sweep(now: number): void {
    const idleMs = this.idleMs;
    for (const c of this.connections.keys()) {
      const open = c.peerActive > 0;
      const seen = this.idle.get(c);
      if (open || (seen !== undefined && seen.lastStreamId !== c.lastPeerStreamId)) {
        if (seen !== undefined) this.idle.delete(c);
        if (open) continue;
      }
      const s = this.idle.get(c);
      if (s === undefined) this.idle.set(c, { since: now, lastStreamId: c.lastPeerStreamId });
      else if (now - s.since >= idleMs) {
        this.idle.delete(c);
        c.shutdown();
      }
    }
  }
}

function sweepNow(s: H2IdleSweep): void {
  s.sweep(performance.now());
}
