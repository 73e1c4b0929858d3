import type { Duplex } from 'node:stream';
import { ErrorCode, type Http2Stream, type StreamHandler } from '../../http2/index.js';
import type { Tunnel, TunnelEnd } from './tunnel.js';

/** Bytes read from a socket and not yet taken by the other side before the socket is paused. */
const PAUSE_AT = 256 * 1024;

/**
 * A TCP or TLS connection as a tunnel end: the client's upgraded HTTP/1.1
 * connection or a dedicated connection to an HTTP/1.1 endpoint. Reading
 * pauses while more than PAUSE_AT bytes wait on the other side; bytes
 * written are reported taken when the socket accepted them, or on 'drain'.
 */
export class SocketEnd implements TunnelEnd {
  done = false;
  private unconsumed = 0;
  private paused = false;
  private awaitingDrain = 0;
  private readEnded = false;

  constructor(private readonly socket: Duplex, private readonly tunnel: Tunnel) {}

  /** Wires the socket's events (once per tunnel) and passes on `first`, bytes already read past the handshake. */
  attach(first: Buffer | null): void {
    const s = this.socket;
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('end', () => {
      this.readEnded = true;
      this.tunnel.ended(this);
    });
    s.on('drain', () => this.onDrain());
    s.on('error', () => {});
    s.on('close', () => this.onClose());
    if (first !== null && first.length > 0) this.onData(first);
    if (!s.destroyed) s.resume();
    else this.onClose();
  }

  private onData(d: Buffer): void {
    if (this.done) return;
    this.unconsumed += d.length;
    if (!this.paused && this.unconsumed >= PAUSE_AT) {
      this.paused = true;
      this.socket.pause();
    }
    this.tunnel.data(this, d);
  }

  consume(n: number): void {
    this.unconsumed -= n;
    if (this.paused && this.unconsumed < PAUSE_AT / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  write(d: Buffer): void {
    const s = this.socket;
    if (this.done || s.writableEnded || s.destroyed) {
      this.tunnel.taken(this, d.length);
      return;
    }
    if (s.write(d)) this.tunnel.taken(this, d.length);
    else this.awaitingDrain += d.length;
  }

  private onDrain(): void {
    const n = this.awaitingDrain;
    if (n === 0) return;
    this.awaitingDrain = 0;
    this.tunnel.taken(this, n);
  }

  end(): void {
    if (!this.done && !this.socket.writableEnded) this.socket.end();
  }

  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.onDrain();
  }

  private onClose(): void {
    if (this.done) return;
    this.done = true;
    // Bytes the socket will never deliver: credited, so the other side is not held back.
    this.onDrain();
    // A close without the peer's FIN is a reset (or our own destroy).
    this.tunnel.endClosed(this, !this.readEnded);
  }
}

/**
 * An HTTP/2 stream as a tunnel end (RFC 8441 §4: after a 2xx answer to an
 * extended CONNECT, DATA frames carry the tunnel's bytes and END_STREAM is
 * its FIN): the client's stream or one to an HTTP/2 endpoint. HTTP/2 flow
 * control is the back-pressure: received bytes are consumed (credit returned)
 * only when the other side took them.
 */
export class StreamEnd implements TunnelEnd, StreamHandler {
  done = false;
  private localEnded = false;
  private remoteEnded = false;

  constructor(readonly stream: Http2Stream, private readonly tunnel: Tunnel) {}

  /** Takes over the stream's events; `pending`: DATA it delivered before the tunnel started. */
  attach(pending: Buffer[] | null, pendingEnd: boolean): void {
    this.stream.handler = this;
    if (pending !== null) for (const d of pending) this.tunnel.data(this, d);
    if (pendingEnd) this.remoteEnd();
    else if (this.stream.closed) this.onReset(this.stream, ErrorCode.CANCEL);
  }

  onHeaders(): void {}

  onData(_s: Http2Stream, d: Buffer, endStream: boolean): void {
    if (d.length > 0) {
      if (this.done) this.stream.consume(d.length);
      else this.tunnel.data(this, d);
    }
    if (endStream) this.remoteEnd();
  }

  onTrailers(): void {
    this.remoteEnd();
  }

  onReset(_s: Http2Stream, code: number): void {
    if (this.done) return;
    this.done = true;
    // RFC 9113 §8.1: NO_ERROR after the peer's END_STREAM only asks us to stop
    // sending; what it sent is complete and still goes on to the other side.
    this.tunnel.endClosed(this, !(this.remoteEnded && code === ErrorCode.NO_ERROR));
  }

  onDataSent(_s: Http2Stream, n: number): void {
    this.tunnel.taken(this, n);
  }

  onDataDropped(_s: Http2Stream, n: number): void {
    this.tunnel.taken(this, n);
  }

  /**
   * The connection's streamIdleTimeout: a tunnel follows its route's
   * upgradeIdleTimeout instead (a quiet WebSocket is normal), so the stream
   * is marked active again rather than ended.
   */
  onIdle(s: Http2Stream): void {
    s.idleNotified = false;
    s.lastActive = performance.now();
  }

  private remoteEnd(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.tunnel.ended(this);
    this.checkDone();
  }

  write(d: Buffer): void {
    if (this.done || this.localEnded || this.stream.closed) {
      this.tunnel.taken(this, d.length);
      return;
    }
    this.stream.sendData(d, false);
  }

  end(): void {
    if (this.done || this.localEnded) return;
    this.localEnded = true;
    if (!this.stream.closed) this.stream.end();
    this.checkDone();
  }

  destroy(): void {
    if (this.done) return;
    this.done = true;
    if (!this.stream.closed) this.stream.reset(ErrorCode.CANCEL);
  }

  consume(n: number): void {
    this.stream.consume(n);
  }

  /** Both directions finished: the engine closes the stream once our END_STREAM is written. */
  private checkDone(): void {
    if (this.done || !this.localEnded || !this.remoteEnded) return;
    this.done = true;
    this.tunnel.endClosed(this, false);
  }
}
