/**
 * Flood limits: frames that cost us work without making progress are counted
 * per window of `floodWindow` ms, and exceeding a limit is a connection error
 * ENHANCE_YOUR_CALM (RFC 9113 §5.4.1, §10.5 "Denial-of-Service
 * Considerations"): streams reset by the peer (rapid reset, CVE-2023-44487)
 * or by us because of the peer's frames (MadeYouReset, CVE-2025-8671), PING
 * and SETTINGS frames (§10.5), empty DATA frames without END_STREAM, PRIORITY
 * frames (deprecated, ignored, yet parsed), and WINDOW_UPDATE frames beyond
 * what the DATA we sent can justify. The bound on CONTINUATION frames (CVE-2024-27316) is
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
  private priorities = 0;
  private windowUpdates = 0;
  /** Updates allowed in this window for the DATA we sent. */
  private windowUpdateCredit = 0;
  /** FlowControl.sentOctets at the last WINDOW_UPDATE. */
  private sentSeen = 0;

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

  countPriority(): void {
    this.roll();
    if (++this.priorities > this.options.maxPriorityPerWindow) this.calm('PRIORITY');
  }

  /**
   * A WINDOW_UPDATE; `sentOctets` is FlowControl.sentOctets. A peer returns
   * credit for what it received, so beyond a base allowance one update per
   * KiB of DATA we sent is legitimate (windows of 2 KiB and more, updated at
   * half); tiny increments in a loop are not.
   */
  countWindowUpdate(sentOctets: number): void {
    this.roll();
    this.windowUpdateCredit += (sentOctets - this.sentSeen) / 1024;
    this.sentSeen = sentOctets;
    if (++this.windowUpdates > this.options.maxWindowUpdatesPerWindow + this.windowUpdateCredit) this.calm('WINDOW_UPDATE');
  }

  private roll(): void {
    const now = coarseNow;
    if (now - this.windowStart >= this.options.floodWindow) {
      this.windowStart = now;
      this.resets = 0;
      this.pings = 0;
      this.settings = 0;
      this.emptyData = 0;
      this.priorities = 0;
      this.windowUpdates = 0;
      this.windowUpdateCredit = 0;
    }
  }

  private calm(what: string): never {
    this.options.counters.floodsDetected++;
    throw connectionError(ErrorCode.ENHANCE_YOUR_CALM, `${what} flood`);
  }
}
