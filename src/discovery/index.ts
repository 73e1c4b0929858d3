/**
 * Discovery: sources of endpoints and the factory that builds one from a
 * service's configuration. See types.ts for the contract.
 */
import type { ServiceConfig } from '../config/index.js';
import { FileSource } from './file-source.js';
import { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.js';
import { StaticSource, hasHostnames } from './static-source.js';
import type { DiscoverySource } from './types.js';

export type { DiscoveredEndpoint, DiscoverySink, DiscoverySource, DiscoveryStatus } from './types.js';
export { staticEndpoints, StaticSource, STATIC_HOSTNAME_INTERVAL_MS } from './static-source.js';
export { FileSource, parseEndpointFile } from './file-source.js';
export { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.js';

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
  if (d.kubernetes !== undefined) return new KubernetesSource(d.kubernetes, options.kubernetes);
  throw new Error(`discovery source ${Object.keys(d).join(', ')} is not available yet`);
}
