/**
 * Counters of upgraded connections (WebSockets and other tunnels), read by
 * telemetry. One record per listener, route, service and protocol, found
 * once per upgrade (never per byte); bytes are plain additions.
 */
export interface UpgradeRecord {
  readonly listener: string;
  readonly route: string;
  readonly service: string;
  /** `websocket`, or `other` for any other token (keeps label values bounded). */
  readonly protocol: string;
  /** Connections switched to a tunnel. */
  total: number;
  /** Tunnels open now. */
  open: number;
  /** Bytes relayed from the client to the endpoint. */
  bytesUpstream: number;
  /** Bytes relayed from the endpoint to the client. */
  bytesDownstream: number;
}

const records = new Map<string, UpgradeRecord>();

/** The record of one listener, route, service and protocol, made on first use. */
export function upgradeRecord(listener: string, route: string, service: string, protocol: string): UpgradeRecord {
  const p = protocol === 'websocket' ? protocol : 'other';
  const key = `${listener}\u0000${route}\u0000${service}\u0000${p}`;
  let r = records.get(key);
  if (r === undefined) {
    r = { listener, route, service, protocol: p, total: 0, open: 0, bytesUpstream: 0, bytesDownstream: 0 };
    records.set(key, r);
  }
  return r;
}

/** Every record so far (for telemetry). */
export function upgradeRecords(): IterableIterator<UpgradeRecord> {
  return records.values();
}
