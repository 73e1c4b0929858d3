import type { Endpoint } from '../endpoint.js';
import type { ServiceRuntime } from '../service-runtime.js';
import { deadlines, type Deadlined } from '../deadlines.js';
import type { UpgradeRecord } from './upgrade-counters.js';

/**
 * One side of a tunnel: the client's connection (an upgraded HTTP/1.1
 * socket, or an HTTP/2 extended CONNECT stream) or the endpoint's.
 * Implementations are in tunnel-ends.ts.
 */
export interface TunnelEnd {
  /** Nothing more will come from or go to this side. */
  readonly done: boolean;
  /** Bytes from the other side; the end reports them taken (Tunnel.taken) once they left for its peer. */
  write(d: Buffer): void;
  /** The other side finished sending (TCP FIN, END_STREAM): finish ours. */
  end(): void;
  /** Closes at once (a reset); `done` is true afterwards. */
  destroy(): void;
  /** `n` bytes this end delivered were taken by the other side: read that much more (back-pressure). */
  consume(n: number): void;
}

/** Told once when the tunnel closes (the upgrade's telemetry). */
export interface TunnelOwner {
  tunnelClosed(t: Tunnel): void;
}

/** How long one side may stay open once the other closed normally (its FIN was passed on). */
const LINGER_MS = 5000;

/**
 * The bytes of an upgraded connection (RFC 9110 §7.8; a WebSocket) relayed
 * both ways between the client and one endpoint, with back-pressure end to
 * end: a side reads more only as the other side's peer takes what it
 * delivered. Like a response body, the tunnel holds the endpoint's load
 * record from dispatch until it closes, so the balancer sees open tunnels as
 * requests in flight (tower's completion handle); the service counts it in
 * flight too (circuit breakers). Closed when either side fails, when both
 * finished, `LINGER_MS` after one finished, or after `idleTimeout` ms
 * without a byte either way. The proxy does not speak the tunnelled
 * protocol: closing is closing the connections, never a WebSocket close frame.
 */
export class Tunnel implements Deadlined {
  client!: TunnelEnd;
  upstream!: TunnelEnd;
  deadline = 0;
  /** Bytes relayed from the client to the endpoint. */
  bytesUpstream = 0;
  /** Bytes relayed from the endpoint to the client. */
  bytesDownstream = 0;
  private last = 0;
  private finished = false;
  private linger: NodeJS.Timeout | undefined = undefined;

  constructor(
    private readonly owner: TunnelOwner,
    private readonly service: ServiceRuntime,
    private readonly endpoint: Endpoint,
    private readonly loadStart: number,
    /** Counted as an upgrade (null: an endpoint's refusal relayed to the client on the same path). */
    private readonly record: UpgradeRecord | null,
    private readonly idleTimeout: number,
  ) {
    if (record !== null) {
      record.total++;
      record.open++;
    }
  }

  /** Starts relaying between the two ends. */
  start(client: TunnelEnd, upstream: TunnelEnd): void {
    this.client = client;
    this.upstream = upstream;
    if (this.idleTimeout > 0) {
      this.last = performance.now();
      this.deadline = this.last + this.idleTimeout;
      deadlines.add(this);
    }
  }

  get closed(): boolean {
    return this.finished;
  }

  /** Bytes arrived from `from`: on to the other side. */
  data(from: TunnelEnd, d: Buffer): void {
    if (this.idleTimeout > 0) this.last = performance.now();
    const r = this.record;
    if (from === this.client) {
      this.bytesUpstream += d.length;
      if (r !== null) r.bytesUpstream += d.length;
      this.upstream.write(d);
    } else {
      this.bytesDownstream += d.length;
      if (r !== null) r.bytesDownstream += d.length;
      this.client.write(d);
    }
  }

  /** `by` passed `n` bytes on to its peer: the side they came from may read that much more. */
  taken(by: TunnelEnd, n: number): void {
    (by === this.client ? this.upstream : this.client).consume(n);
  }

  /** `from` finished sending (FIN, END_STREAM): the other side finishes too. */
  ended(from: TunnelEnd): void {
    (from === this.client ? this.upstream : this.client).end();
  }

  /** `from` is done; `abnormal` when it failed or was reset. */
  endClosed(from: TunnelEnd, abnormal: boolean): void {
    if (this.finished) return;
    const other = from === this.client ? this.upstream : this.client;
    if (abnormal) other.destroy();
    if (other.done) {
      this.finish();
      return;
    }
    if (this.linger === undefined) {
      this.linger = setTimeout(lingerExpired, LINGER_MS, this);
      this.linger.unref();
    }
  }

  /** Closes both sides now (idle timeout, linger, or the proxy stopping). */
  close(): void {
    if (this.finished) return;
    this.client.destroy();
    this.upstream.destroy();
    this.finish();
  }

  onDeadline(): void {
    if (this.finished) return;
    const due = this.last + this.idleTimeout;
    if (performance.now() >= due) {
      this.deadline = 0;
      this.close();
      return;
    }
    this.deadline = due;
    deadlines.add(this);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.deadline = 0;
    if (this.linger !== undefined) clearTimeout(this.linger);
    if (this.record !== null) this.record.open--;
    this.service.inflight--;
    this.endpoint.load.end(this.loadStart, false);
    this.owner.tunnelClosed(this);
  }
}

function lingerExpired(t: Tunnel): void {
  t.close();
}
