/**
 * Worker mode, the worker's side: answers the primary's snapshot requests
 * over the cluster IPC channel with plain objects the primary can merge
 * (cluster-merge-*.ts), and passes tap events on while the primary has
 * subscribers. The workers do not bind the admin port; the primary does.
 */
import type { AdminServer } from './admin-server.js';
import type { TapEvent, TapFilter } from './tap.js';
import type { Telemetry } from './telemetry.js';

/** What the primary asks for, one kind per merged admin route. */
export type SnapshotKind = 'metrics' | 'stats' | 'topology' | 'ready';

/** Primary → worker: a snapshot request. */
export interface SnapshotRequest {
  swy: 'snapshot';
  id: number;
  kind: SnapshotKind;
  /** stats: the window in seconds. */
  window?: number;
}

/** Worker → primary: the answer to a snapshot request. */
export interface SnapshotAnswer {
  swy: 'snapshot-answer';
  id: number;
  body?: unknown;
  error?: string;
}

/** Primary → worker: the tap subscriptions now (an empty list: stop sending). */
export interface TapSubscriptions {
  swy: 'tap';
  filters: TapFilter[];
  maxPerSecond: number;
}

/** Worker → primary: one finished request for the primary's tap subscribers. */
export interface TapForward {
  swy: 'tap-event';
  event: TapEvent;
}

/** Worker → primary: the worker serves; `admin` is its private admin socket (for relayed routes). */
export interface WorkerUp {
  swy: 'up';
  admin?: string;
}

export type WorkerMessage = SnapshotAnswer | TapForward | WorkerUp;
export type PrimaryMessage = SnapshotRequest | TapSubscriptions;

/** The worker's end of the IPC channel (process in a cluster worker). */
export interface Channel {
  send(message: WorkerMessage): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** A snapshot of one kind: what the single-process admin route shows, in mergeable form. */
export async function snapshot(kind: SnapshotKind, telemetry: Telemetry, admin: AdminServer, window = 10): Promise<unknown> {
  switch (kind) {
    case 'metrics':
      return telemetry.registry.getMetricsAsJSON();
    case 'stats':
      return telemetry.stats(window, true);
    case 'topology':
      return telemetry.topology();
    case 'ready':
      return admin.readyAnswer();
  }
}

/** Answers the primary until the returned function is called. */
export function serveSnapshots(telemetry: Telemetry, admin: AdminServer, channel: Channel): () => void {
  const forward = (event: TapEvent): void => void channel.send({ swy: 'tap-event', event });
  const onMessage = (m: unknown): void => {
    const msg = m as PrimaryMessage | null;
    if (msg?.swy === 'tap') telemetry.tap.relay(msg.filters, msg.maxPerSecond, forward);
    else if (msg?.swy === 'snapshot') {
      snapshot(msg.kind, telemetry, admin, msg.window).then(
        (body) => channel.send({ swy: 'snapshot-answer', id: msg.id, body }),
        (e: Error) => channel.send({ swy: 'snapshot-answer', id: msg.id, error: e.message }),
      );
    }
  };
  channel.on('message', onMessage);
  return () => {
    channel.off('message', onMessage);
    telemetry.tap.relay([], 0, forward);
  };
}
