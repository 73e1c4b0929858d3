/**
 * Endpoints listed in the configuration. Addresses are members at once;
 * hostnames are resolved through the system resolver (/etc/hosts included,
 * as every other program on the host sees them) and re-resolved every
 * `interval`, so a name that moves to new addresses is followed instead of
 * being pinned to what it meant at start (Envoy's STRICT_DNS clusters).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { EndpointConfig } from '../config/index.js';
import type { DiscoveredEndpoint, DiscoverySink, DiscoverySource } from './types.js';

/** How often configured hostnames are resolved again (Envoy's dns_refresh_rate default). */
export const STATIC_HOSTNAME_INTERVAL_MS = 5_000;

/** A configured endpoint as a discovered one: ready, serving, weight and zone as written. */
export function fromConfig(e: EndpointConfig, host: string = e.address.host): DiscoveredEndpoint {
  const d = { address: { host, port: e.address.port }, weight: e.weight, ready: true, serving: true, terminating: false };
  return e.zone === undefined ? d : { ...d, zone: e.zone };
}

/** The configured endpoints that are addresses (known without any lookup). */
export function staticEndpoints(endpoints: readonly EndpointConfig[]): DiscoveredEndpoint[] {
  const out: DiscoveredEndpoint[] = [];
  for (const e of endpoints) if (isIP(e.address.host) !== 0) out.push(fromConfig(e));
  return out;
}

/** True when some configured endpoint is a hostname (it needs this source). */
export function hasHostnames(endpoints: readonly EndpointConfig[]): boolean {
  return endpoints.some((e) => isIP(e.address.host) === 0);
}

export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: HostLookup = (host) => lookup(host, { all: true });

export class StaticSource implements DiscoverySource {
  readonly kind = 'static';
  readonly description: string;
  private timer: NodeJS.Timeout | undefined = undefined;
  private stopped = false;
  private sink: DiscoverySink | undefined = undefined;
  private last = '';

  constructor(
    private readonly endpoints: readonly EndpointConfig[],
    private readonly options: { interval?: number; lookup?: HostLookup } = {},
  ) {
    const names = [...new Set(endpoints.filter((e) => isIP(e.address.host) === 0).map((e) => e.address.host))];
    this.description = `hostnames ${names.join(', ')}`;
  }

  start(sink: DiscoverySink): void {
    this.sink = sink;
    void this.resolve();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async resolve(): Promise<void> {
    const find = this.options.lookup ?? systemLookup;
    const out: DiscoveredEndpoint[] = [];
    const failures: string[] = [];
    const cache = new Map<string, Promise<string[]>>();
    for (const e of this.endpoints) {
      const host = e.address.host;
      if (isIP(host) !== 0) {
        out.push(fromConfig(e));
        continue;
      }
      let p = cache.get(host);
      if (p === undefined) {
        p = find(host).then(preferIpv4);
        cache.set(host, p);
      }
      try {
        for (const a of await p) out.push(fromConfig(e, a));
      } catch (err) {
        failures.push(`${host}: ${lookupCause(err)}`);
      }
    }
    if (this.stopped) return;
    if (failures.length > 0) this.sink?.error(`cannot resolve ${failures.join('; ')}`);
    // A name that failed keeps its last addresses: send a set only when every name answered.
    else {
      const key = out.map((d) => `${d.address.host}:${d.address.port}/${d.weight}/${d.zone ?? ''}`).join(',');
      if (key !== this.last) {
        this.last = key;
        this.sink?.update(out);
      }
    }
    this.timer = setTimeout(() => void this.resolve(), this.options.interval ?? STATIC_HOSTNAME_INTERVAL_MS);
    this.timer.unref();
  }
}

/**
 * IPv4 addresses when the name has any, else IPv6. `localhost` answers both
 * 127.0.0.1 and ::1, and a server listening on one of them would see half
 * the connections refused; Node's own clients try one family at a time too.
 */
function preferIpv4(answers: { address: string; family: number }[]): string[] {
  const v4 = answers.filter((a) => a.family === 4).map((a) => a.address);
  const list = v4.length > 0 ? v4 : answers.map((a) => a.address);
  return [...new Set(list)].sort();
}

function lookupCause(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'ENOTFOUND') return 'host not found (ENOTFOUND)';
  if (code === 'EAI_AGAIN') return 'name resolution failed, try again (EAI_AGAIN)';
  return typeof e?.message === 'string' ? e.message : String(err);
}
