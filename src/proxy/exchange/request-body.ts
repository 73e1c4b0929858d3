/**
 * The request body on its way through an exchange: octets that arrived
 * before there was an upstream to send them to (pending), octets kept to send
 * the request again (replay), and the flow-control credit owed to the client.
 *
 * Every body octet is credited to the client exactly once, when the upstream
 * that first carried it takes it (or drops it). A resend or a winning hedge
 * carries octets the client was already credited for: `skip` counts them, and
 * credit() leaves them out.
 *
 * Arrays are made on first use: a request without a body allocates none.
 */

/** Request body octets kept to resend a request the upstream did not process (Linkerd keeps 64 KiB). */
export const REPLAY_LIMIT = 64 * 1024;

const NO_BUFFERS: readonly Buffer[] = [];

export class RequestBody {
  /** The client's side ended (END_STREAM, trailers, or the end of an HTTP/1.1 message). */
  ended = false;
  /** Trailers that arrived before there was an upstream. */
  trailers: string[] | null = null;
  private pending: Buffer[] | null = null;
  /** The body can still be sent again: nothing was dropped from `replay`. */
  replayable = true;
  private replay: Buffer[] | null = null;
  private replayBytes = 0;
  private replaySentBytes = 0;
  private skip = 0;

  /** `limit`: the most octets that may have left for the endpoint while a resend stays possible. */
  constructor(private limit: number = REPLAY_LIMIT) {}

  setLimit(limit: number): void {
    this.limit = limit;
  }

  /** Octets that have no upstream yet. */
  hold(d: Buffer): void {
    (this.pending ??= []).push(d);
  }

  get hasPending(): boolean {
    return this.pending !== null && this.pending.length > 0;
  }

  /** Takes the held octets (to send them now); null when there are none. */
  takePending(): Buffer[] | null {
    const p = this.pending;
    if (p === null || p.length === 0) return null;
    this.pending = null;
    return p;
  }

  /** Total length of the held octets, dropped (the exchange ended before they went anywhere). */
  dropPending(): number {
    const p = this.takePending();
    if (p === null) return 0;
    let n = 0;
    for (let i = 0; i < p.length; i++) n += p[i]!.length;
    return n;
  }

  /**
   * Keeps an octet run handed to an upstream, for a resend. The limit counts
   * octets that actually left (sent()), not those still queued behind the
   * endpoint's window: a request refused after one window (REFUSED_STREAM, or
   * above a GOAWAY's last stream id) can then be resent whole though the
   * client was faster than the endpoint. Queued octets are held anyway, and
   * are bounded by the client's own flow control.
   */
  keep(d: Buffer): void {
    if (!this.replayable) return;
    this.replayBytes += d.length;
    (this.replay ??= []).push(d);
  }

  /** `n` octets left for the endpoint: past the limit, the body can no longer be resent. */
  sent(n: number): void {
    if (!this.replayable) return;
    this.replaySentBytes += n;
    if (this.replaySentBytes > this.limit) this.forgetReplay();
  }

  /** No resend will ever be possible (a refused request). */
  forgetReplay(): void {
    this.replayable = false;
    this.replay = null;
  }

  /** The whole body as sent so far (a hedge's copy of a complete request). */
  get replayBody(): readonly Buffer[] {
    return this.replay ?? NO_BUFFERS;
  }

  /**
   * Makes the kept octets pending again, ahead of any still held, for a new
   * attempt. The client was credited for them when they first went up, so
   * the new upstream's credit for them is skipped. False when the body is
   * no longer at hand.
   */
  rewind(): boolean {
    if (!this.replayable) return false;
    this.skip += this.replayBytes;
    const r = this.replay;
    if (r !== null) {
      const p = this.pending;
      this.pending = p === null ? r : r.concat(p);
      this.replay = null;
    }
    this.replayBytes = 0;
    this.replaySentBytes = 0;
    return true;
  }

  /** `n` octets queued on an adopted upstream (a winning hedge) were already credited: skip them too. */
  skipCredit(n: number): void {
    this.skip += n;
  }

  /** `n` octets were taken upstream: how many of them the client is still owed credit for. */
  credit(n: number): number {
    let skip = this.skip;
    if (skip > 0) {
      if (skip > n) skip = n;
      this.skip -= skip;
      n -= skip;
    }
    return n;
  }
}
