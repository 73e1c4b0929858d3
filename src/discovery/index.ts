/**
 * Discovery: sources of endpoints and the factory that builds one from a
 * service's configuration. See types.ts for the contract.
 */
import { isIP } from 'node:net';
import { formatAddress, type ServiceConfig } from '../config/index.js';
import { FileSource } from './file-source.js';
import { DnsSource } from './dns-source.js';
import { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.js';
import { StaticSource, hasHostnames, STATIC_HOSTNAME_INTERVAL_MS } from './static-source.js';
import type { DiscoverySource } from './types.js';

export type { DiscoveredEndpoint, DiscoverySink, DiscoverySource, DiscoveryStatus } from './types.js';
export { staticEndpoints, StaticSource, STATIC_HOSTNAME_INTERVAL_MS } from './static-source.js';
export { FileSource, parseEndpointFile } from './file-source.js';
export { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.js';
export { DnsSource } from './dns-source.js';

/** What sources need from outside the configuration. */
export interface DiscoveryOptions {
  /** Passed to every Kubernetes source (tests point it at a stand-in API server). */
  kubernetes?: KubernetesSourceOptions;
  /**
   * A source supplied by the program embedding Switchyard (its own registry),
   * asked first for every service; undefined falls back to the configuration.
   */
  sourceFor?(service: ServiceConfig): DiscoverySource | undefined;
}

/**
 * The source of a service's endpoints, or undefined when its `endpoints` are
 * all addresses (nothing to watch). Builds objects only: nothing is read or
 * contacted before the source's start().
 */
export function createSource(service: ServiceConfig, options: DiscoveryOptions = {}): DiscoverySource | undefined {
  const custom = options.sourceFor?.(service);
  if (custom !== undefined) return custom;
  const d = service.discovery;
  if (d === undefined) return hasHostnames(service.endpoints) ? new StaticSource(service.endpoints) : undefined;
  if (d.file !== undefined) return new FileSource(d.file);
  if (d.dns !== undefined) return new DnsSource(d.dns);
  if (d.kubernetes !== undefined) return new KubernetesSource(d.kubernetes, options.kubernetes);
  return undefined;
}

/**
 * Where a service's endpoints come from, in words, without reading or
 * contacting anything (for `switchyard check`); undefined for a list of addresses.
 */
export function describeSource(service: ServiceConfig): string | undefined {
  const d = service.discovery;
  if (d === undefined) {
    const names = [...new Set(service.endpoints.map((e) => e.address.host).filter((h) => isIP(h) === 0))];
    return names.length === 0 ? undefined : `hostnames ${names.join(', ')} (resolved every ${STATIC_HOSTNAME_INTERVAL_MS / 1000} s)`;
  }
  if (d.file !== undefined) return `file ${d.file} (watched)`;
  if (d.dns !== undefined) {
    const what = d.dns.srv !== undefined ? `SRV ${d.dns.srv}` : `${d.dns.family === 'ipv4' ? 'A' : d.dns.family === 'ipv6' ? 'AAAA' : 'A/AAAA'} ${d.dns.name}:${d.dns.port}`;
    const via = d.dns.servers === undefined ? '' : ` via ${d.dns.servers.map((a) => formatAddress(a)).join(', ')}`;
    return `dns ${what}${via}`;
  }
  if (d.kubernetes !== undefined) {
    const k = d.kubernetes;
    return `kubernetes Service ${k.namespace ?? '(own namespace)'}/${k.service} port ${k.port}`;
  }
  return undefined;
}
