/**
 * TLS session ticket keys (RFC 8446 §4.6.1, RFC 5077): what lets a client
 * resume a session with one round trip and no certificate signature.
 *
 * Node gives every SecureContext random keys of its own, so a ticket resumes
 * only on the process and the context that issued it: with `--workers N` a
 * client lands on another worker N-1 times out of N and pays a full
 * handshake, and a certificate reload (a new context) forgets every ticket.
 * Here every key comes from one secret: the primary makes it and hands it to
 * its workers in their environment (a single process makes its own), and
 * each listener derives the keys of the current period from it. Workers,
 * reloads and SNI contexts therefore agree without talking to each other,
 * and the keys change every period on every worker alike.
 *
 * Node holds one key at a time: a ticket issued just before a rotation no
 * longer decrypts after it, and that client makes a full handshake (tickets
 * live sessionTimeout, 300 s by default, against a one-hour period).
 */
import { createHmac, randomBytes } from 'node:crypto';

/** How the primary passes its secret to its workers. */
export const TICKET_SECRET_ENV = 'SWITCHYARD_TLS_TICKET_SECRET';
/** Keys change this often (period boundaries are multiples of it since the epoch, the same on every worker). */
export const TICKET_ROTATION_MS = 3_600_000;
/** Node's ticket key layout: 16 bytes key name, 16 bytes HMAC secret, 16 bytes AES key. */
const KEY_BYTES = 48;

let secret: Buffer | undefined;

/** This process's secret: the primary's (a worker), else made once here. */
export function ticketSecret(): Buffer {
  if (secret !== undefined) return secret;
  const given = process.env[TICKET_SECRET_ENV];
  // Not inherited by processes this one starts (health-check commands, say).
  delete process.env[TICKET_SECRET_ENV];
  secret = given !== undefined && /^[0-9a-f]{64}$/.test(given) ? Buffer.from(given, 'hex') : randomBytes(32);
  return secret;
}

/** The environment a worker starts with, so that all workers issue and accept the same tickets. */
export function workerTicketEnv(): Record<string, string> {
  return { [TICKET_SECRET_ENV]: ticketSecret().toString('hex') };
}

/** The period `now` (ms since the epoch) falls in. */
export function ticketPeriod(now: number): number {
  return Math.floor(now / TICKET_ROTATION_MS);
}

/** The 48 key bytes of one listener for one period (HMAC-SHA-256 in counter mode over the secret). */
export function ticketKeys(key: Buffer, listener: string, period: number): Buffer {
  const out = Buffer.allocUnsafe(KEY_BYTES);
  for (let i = 0, off = 0; off < KEY_BYTES; i++, off += 32) {
    createHmac('sha256', key).update(`switchyard tls ticket keys\0${listener}\0${period}\0${i}`).digest().copy(out, off, 0, Math.min(32, KEY_BYTES - off));
  }
  return out;
}

/**
 * The keys of one listener, rotated at period boundaries: `apply` is called
 * with the new keys (a timer per listener, not per connection).
 */
export class SessionTicketKeys {
  private period: number;
  private keys: Buffer;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly listener: string,
    private readonly apply: (keys: Buffer) => void,
    private readonly now: () => number = Date.now,
    private readonly secretKey: Buffer = ticketSecret(),
  ) {
    this.period = ticketPeriod(now());
    this.keys = ticketKeys(secretKey, listener, this.period);
  }

  get current(): Buffer {
    return this.keys;
  }

  /** Follows the periods from now on. */
  start(): void {
    this.schedule();
  }

  /** Moves to the keys of the current period if it changed (the timer calls it; tests call it with their clock). */
  rotate(): boolean {
    const p = ticketPeriod(this.now());
    if (p === this.period) return false;
    this.period = p;
    this.keys = ticketKeys(this.secretKey, this.listener, p);
    this.apply(this.keys);
    return true;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const wait = (this.period + 1) * TICKET_ROTATION_MS - this.now();
    // A few ms late rather than early: the period must have changed when it fires.
    this.timer = setTimeout(onRotationTimer, Math.max(0, wait) + 5, this);
    this.timer.unref();
  }

  /** @internal */
  tick(): void {
    this.rotate();
    this.schedule();
  }
}

function onRotationTimer(keys: SessionTicketKeys): void {
  keys.tick();
}
