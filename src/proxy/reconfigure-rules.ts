/**
 * What a reload may change in place, and how configuration values are
 * compared (plain data from the schema).
 */
import { isIP } from 'node:net';
import type { ServiceConfig } from '../config/index.js';

/**
 * Whether a service's new configuration can be applied to its running
 * runtime; otherwise the reload builds a new one and drains the old. Pools
 * speak one protocol over one TLS setting, and a source is one kind.
 */
export function canReconfigure(prev: ServiceConfig, next: ServiceConfig): boolean {
  return prev.protocol === next.protocol && sameValue(prev.tls, next.tls) && sourceKind(prev) === sourceKind(next);
}

/** Where a service's endpoints come from: listed addresses, listed hostnames, or a discovery source. */
function sourceKind(c: ServiceConfig): string {
  const d = c.discovery;
  if (d?.file !== undefined) return 'file';
  if (d?.dns !== undefined) return 'dns';
  if (d?.kubernetes !== undefined) return 'kubernetes';
  return c.endpoints.some((e) => isIP(e.address.host) === 0) ? 'hostnames' : 'addresses';
}

/** Equality of configuration values (plain data from the schema). */
export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
