/**
 * Flood limits: frames that cost us work without making progress are counted
 * per window of `floodWindow` ms, and exceeding a limit is a connection error
 * ENHANCE_YOUR_CALM (RFC 9113 §5.4.1, §10.5 "Denial-of-Service
 * Considerations"): streams reset by the peer (rapid reset, CVE-2023-44487)
 * or by us because of the peer's frames (MadeYouReset, CVE-2025-8671), PING
 * and SETTINGS frames (§10.5), empty DATA frames without END_STREAM. The bound on CONTINUATION frames (CVE-2024-27316) is
 * enforced where header blocks are assembled, in `codec/framed-read.ts`.
 */
import { ErrorCode } from '../constants.js';
import { connectionError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { coarseNow } from '../ticker.js';

export class FloodGuard {
  private windowStart = coarseNow;
  private resets = 0;
  private pings = 0;
  private settings = 0;
  private emptyData = 0;

  constructor(private readonly options: ResolvedOptions) {}

  /** A stream reset by the peer (server role), or reset by us for a stream error, refusals included. */
  countReset(): void {
    this.roll();
    if (++this.resets > this.options.maxResetsPerWindow) this.calm('stream reset');
  }

  countPing(): void {
    this.roll();
    if (++this.pings > this.options.maxPingsPerWindow) this.calm('PING');
  }

  countSettings(): void {
    this.roll();
    if (++this.settings > this.options.maxSettingsPerWindow) this.calm('SETTINGS');
  }

  /** An empty DATA frame without END_STREAM. */
  countEmptyData(): void {
    this.roll();
    if (++this.emptyData > this.options.maxEmptyDataPerWindow) this.calm('empty DATA');
  }

  private roll(): void {
    const now = coarseNow;
    if (now - this.windowStart >= this.options.floodWindow) {
      this.windowStart = now;
      this.resets = 0;
      this.pings = 0;
      this.settings = 0;
      this.emptyData = 0;
    }
  }

  private calm(what: string): never {
    this.options.counters.floodsDetected++;
    throw connectionError(ErrorCode.ENHANCE_YOUR_CALM, `${what} flood`);
  }
}
