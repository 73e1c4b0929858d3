/**
 * The balancer's load record of one attempt (tower's completion handle):
 * begun when the request is dispatched to an endpoint, the RTT sampled at
 * the first response byte, ended exactly once when the attempt is over. The
 * main attempt of an exchange and each hedge keep these fields flat on
 * themselves (no object per attempt); a winning hedge hands its record to the
 * exchange with takeAttempt.
 */
import type { Endpoint } from '../endpoint.js';

export interface AttemptLoad {
  /** The endpoint while the record is open; null once ended (or handed over). */
  endpoint: Endpoint | null;
  /** What the endpoint's load.begin() returned. */
  loadStart: number;
  firstByteSeen: boolean;
}

/** The attempt is dispatched to `ep`. */
export function beginAttempt(a: AttemptLoad, ep: Endpoint): void {
  a.endpoint = ep;
  a.firstByteSeen = false;
  a.loadStart = ep.load.begin();
  ep.requestsTotal++;
}

/** The first response byte of the attempt: its RTT feeds the latency estimate, once. */
export function attemptFirstByte(a: AttemptLoad): void {
  if (a.firstByteSeen || a.endpoint === null) return;
  a.firstByteSeen = true;
  a.endpoint.load.observeRtt(a.loadStart);
}

/**
 * Ends the record (once; later calls do nothing). `outcome` marks a real
 * answer of the endpoint (success or failure) for outlier detection; client
 * cancels and never-processed requests are not outcomes.
 */
export function endAttempt(a: AttemptLoad, failed: boolean, outcome: boolean): void {
  const ep = a.endpoint;
  if (ep === null) return;
  a.endpoint = null;
  ep.load.end(a.loadStart, failed);
  if (failed) ep.failuresTotal++;
  if (outcome) ep.recordOutcome(failed);
}

/** Moves an open record from one holder to another (a hedge that won, to its exchange); the first byte is still to come. */
export function takeAttempt(to: AttemptLoad, from: AttemptLoad): void {
  to.endpoint = from.endpoint;
  to.loadStart = from.loadStart;
  to.firstByteSeen = false;
  from.endpoint = null;
}
