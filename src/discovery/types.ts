/**
 * Discovery: where a service's endpoints come from. A source (static list,
 * file, DNS, Kubernetes EndpointSlices) emits complete snapshots of the
 * endpoint set; the service runtime (src/proxy/service-runtime.ts) diffs them
 * against what it has, so a source never tracks what it sent before. This
 * layer knows nothing of HTTP, pools or balancers (tower's `discover`).
 */
import type { HostPort } from '../config/index.js';

/** One endpoint as a source sees it. */
export interface DiscoveredEndpoint {
  /** IP address (or hostname for static lists) and port. */
  readonly address: HostPort;
  /** Relative weight, 0–1000 (1 when the source has none). */
  readonly weight: number;
  /**
   * Takes new requests. Kubernetes: `conditions.ready` (nil = true). An
   * endpoint that is neither ready nor serving-and-terminating is left out of
   * the set: it drains like a removed one.
   */
  readonly ready: boolean;
  /** Kubernetes `conditions.serving` (nil = ready): able to serve even while terminating. */
  readonly serving: boolean;
  /** Kubernetes `conditions.terminating` (nil = false). */
  readonly terminating: boolean;
  /** Topology zone, when the source knows it. */
  readonly zone?: string;
  /** Kubernetes `hints.forZones[].name`: zones this endpoint should serve. */
  readonly forZones?: readonly string[];
  /** The source's own name for it (a pod name, an SRV target), for display. */
  readonly name?: string;
  /**
   * `formatAddress(address)`, when the source computed it already. Sources that
   * keep the objects of unchanged endpoints from one snapshot to the next (the
   * Kubernetes source does, per slice) spare the runtime both the key and the
   * comparison: an object it applied before is skipped.
   */
  readonly id?: string;
}

/** Where a source delivers what it finds. Calls may come at any time after start(). */
export interface DiscoverySink {
  /**
   * The complete current set (replaces the previous one). Calling it also
   * means the source is healthy again after an error. Duplicate addresses:
   * the first wins.
   */
  update(endpoints: readonly DiscoveredEndpoint[]): void;
  /**
   * The source could not refresh: the last good set stays in force. Call
   * once per failed attempt at most (the runtime logs state changes only);
   * `message` names what failed and why: `file /etc/web.yaml line 3: …`.
   */
  error(message: string): void;
}

/** A source of endpoints for one service. */
export interface DiscoverySource {
  /** 'static' | 'file' | 'dns' | 'kubernetes'. */
  readonly kind: string;
  /** What it watches, for people: `file /etc/switchyard/web.yaml`, `dns api.internal:8080`. */
  readonly description: string;
  /**
   * Begins delivering to `sink`. A source whose first set is known without
   * I/O (a static list of IPs) delivers it before returning; every other one
   * delivers asynchronously and retries by itself after failures — never a
   * silent stop.
   */
  start(sink: DiscoverySink): void;
  /** Stops timers, watches and connections; no sink call after it. */
  stop(): void;
}

/** A source's health as the runtime tracks it (for /ready, stat, the dashboard and metrics). */
export interface DiscoveryStatus {
  readonly kind: string;
  readonly description: string;
  /** False while the last attempt failed (the last good set is in use). */
  healthy: boolean;
  /** The last error's message; '' when none since the last update. */
  lastError: string;
  /** Wall-clock ms of the last update() (0: none yet). */
  lastUpdate: number;
  /** Wall-clock ms of the last error (0: none). */
  lastErrorAt: number;
  /** update() calls since start. */
  updates: number;
  /** error() calls since start. */
  errors: number;
}
