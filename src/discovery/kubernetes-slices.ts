/**
 * EndpointSlices → endpoints, without I/O. A Service's endpoints are spread
 * over several EndpointSlices (the controller caps a slice at 100 endpoints
 * by default, and a rollout can leave slices with different port lists), so
 * each slice is read on its own — `parseSlice` when it changes — and the
 * snapshot is the union of all of them (`mergeSlices`).
 *
 * Field meanings follow the discovery.k8s.io/v1 API reference and
 * KEP-1672 (terminating endpoints): `ready` nil means ready, `serving` nil
 * means "same as ready", `terminating` nil means false.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatAddress } from '../config/index.js';
import type { DiscoveredEndpoint } from './types.js';

/** The port to use: the Service port's name as the slices carry it, or the endpoint port number. */
export type PortSelector = string | number;

/**
 * The EndpointSlice fields read here. Objects come both from the typed list
 * call and from raw watch JSON, where any field may be absent or null.
 */
export interface EndpointSliceObject {
  metadata?: { name?: string | null; namespace?: string | null; resourceVersion?: string | null } | null;
  addressType?: string | null;
  ports?: readonly SlicePort[] | null;
  endpoints?: readonly SliceEndpoint[] | null;
}

export interface SlicePort {
  name?: string | null;
  port?: number | null;
  protocol?: string | null;
}

export interface SliceEndpoint {
  addresses?: readonly string[] | null;
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } | null;
  zone?: string | null;
  hints?: { forZones?: readonly { name?: string | null }[] | null } | null;
  targetRef?: { kind?: string | null; name?: string | null } | null;
}

/** What one slice contributes. */
export interface ParsedSlice {
  /** Endpoints in rotation at the selected port, in slice order. */
  readonly endpoints: readonly DiscoveredEndpoint[];
  /** The slice lists endpoints of an address type we use (in rotation or not). */
  readonly populated: boolean;
  /** The selected port is in the slice's port list. */
  readonly hasPort: boolean;
  /** The slice's ports for messages: `grpc/8080`, `8080` when unnamed. */
  readonly ports: readonly string[];
}

const EMPTY: ParsedSlice = { endpoints: [], populated: false, hasPort: false, ports: [] };

/** The TCP port in `ports` that `selector` names, or undefined. */
function findPort(ports: readonly SlicePort[], selector: PortSelector): number | undefined {
  for (const p of ports) {
    // nil protocol defaults to TCP; a Service may publish one number for UDP too (DNS on 53).
    if (p.protocol != null && p.protocol !== 'TCP') continue;
    const matches = typeof selector === 'number' ? p.port === selector : p.name === selector;
    if (!matches) continue;
    // A nil port number means "all ports" (slices written by hand only): nothing to dial.
    if (typeof p.port === 'number' && Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535) return p.port;
  }
  return undefined;
}

function describePort(p: SlicePort): string {
  const num = p.port == null ? '*' : String(p.port);
  const proto = p.protocol != null && p.protocol !== 'TCP' ? ` ${p.protocol}` : '';
  return (p.name ? `${p.name}/${num}` : num) + proto;
}

/**
 * Reads one slice. FQDN slices are skipped: the type is deprecated, the
 * controller never writes it and kube-proxy ignores it. An endpoint that is
 * neither ready nor serving-while-terminating is left out (types.ts: it
 * drains like a removed one).
 */
/**
 * `previous` is the same slice as parsed before: endpoints that did not
 * change keep their objects, which the runtime then skips without comparing.
 */
export function parseSlice(slice: EndpointSliceObject, selector: PortSelector, previous?: ParsedSlice): ParsedSlice {
  const reuse = previous !== undefined && previous.endpoints.length > 0 ? new Map(previous.endpoints.map((e) => [e.id ?? formatAddress(e.address), e])) : undefined;
  const family = slice.addressType;
  if (family !== 'IPv4' && family !== 'IPv6') return EMPTY;
  const isAddress = family === 'IPv4' ? isIPv4 : isIPv6;
  const ports = slice.ports ?? [];
  const list = slice.endpoints ?? [];
  const port = findPort(ports, selector);
  const endpoints: DiscoveredEndpoint[] = [];
  if (port !== undefined) {
    for (const ep of list) {
      // The controller writes exactly one address; the API defines no meaning
      // for the others and kube-proxy reads only the first.
      const host = ep.addresses?.[0];
      if (typeof host !== 'string' || !isAddress(host)) continue;
      const c = ep.conditions;
      const ready = c?.ready ?? true;
      const serving = c?.serving ?? ready;
      const terminating = c?.terminating ?? false;
      if (!ready && !(serving && terminating)) continue;
      const forZones = ep.hints?.forZones?.map((z) => z.name).filter((n): n is string => typeof n === 'string' && n !== '');
      const name = ep.targetRef?.kind === 'Pod' && ep.targetRef.name ? ep.targetRef.name : undefined;
      const h = family === 'IPv6' ? host.toLowerCase() : host;
      const parsed: DiscoveredEndpoint = {
        address: { host: h, port },
        // The runtime's key, made once per parse of this slice (formatAddress's form).
        id: family === 'IPv6' ? `[${h}]:${port}` : `${h}:${port}`,
        weight: 1,
        ready,
        serving,
        terminating,
        ...(ep.zone ? { zone: ep.zone } : {}),
        ...(forZones !== undefined && forZones.length > 0 ? { forZones } : {}),
        ...(name !== undefined ? { name } : {}),
      };
      const old = reuse?.get(parsed.id!);
      endpoints.push(old !== undefined && sameEndpoint(old, parsed) ? old : parsed);
    }
  }
  return { endpoints, populated: list.length > 0, hasPort: port !== undefined, ports: ports.map(describePort) };
}

/**
 * The union of all slices' endpoints. An address can sit in two slices for a
 * moment while the controller moves it; the first copy wins unless a later
 * one is ready and it is not.
 */
export function mergeSlices(slices: Iterable<ParsedSlice>): DiscoveredEndpoint[] {
  const out: DiscoveredEndpoint[] = [];
  const index = new Map<string, number>();
  for (const s of slices) {
    for (const ep of s.endpoints) {
      const key = ep.id ?? formatAddress(ep.address);
      const at = index.get(key);
      if (at === undefined) {
        index.set(key, out.length);
        out.push(ep);
      } else if (ep.ready && !out[at]!.ready) {
        out[at] = ep;
      }
    }
  }
  return out;
}

/**
 * When slices list endpoints but none of those has the selected port, the
 * configuration names a port the Service does not have: an error rather than
 * an empty set. Slices without endpoints (the controller's placeholder for a
 * Service that selects no pods has no ports either) do not count.
 */
export function missingPortMessage(slices: Iterable<ParsedSlice>, selector: PortSelector): string | undefined {
  let populated = false;
  const seen = new Set<string>();
  for (const s of slices) {
    if (!s.populated) continue;
    if (s.hasPort) return undefined;
    populated = true;
    for (const p of s.ports) seen.add(p);
  }
  if (!populated) return undefined;
  const want = typeof selector === 'number' ? `port number ${selector}` : `port name "${selector}"`;
  const have = seen.size > 0 ? `they carry ${[...seen].sort().join(', ')}` : 'they carry no ports';
  return `no EndpointSlice with endpoints has TCP ${want}; ${have}`;
}

function sameEndpoint(a: DiscoveredEndpoint, b: DiscoveredEndpoint): boolean {
  if (
    a.address.host !== b.address.host ||
    a.address.port !== b.address.port ||
    a.ready !== b.ready ||
    a.serving !== b.serving ||
    a.terminating !== b.terminating ||
    a.zone !== b.zone ||
    a.name !== b.name ||
    a.weight !== b.weight
  ) {
    return false;
  }
  const za = a.forZones ?? [];
  const zb = b.forZones ?? [];
  return za.length === zb.length && za.every((z, i) => z === zb[i]);
}

/** Equal contributions: a slice update that changes nothing we use (another port, labels) needs no new snapshot. */
export function sameParsedSlice(a: ParsedSlice, b: ParsedSlice): boolean {
  if (a.populated !== b.populated || a.hasPort !== b.hasPort || a.endpoints.length !== b.endpoints.length) return false;
  if (a.ports.length !== b.ports.length || !a.ports.every((p, i) => p === b.ports[i])) return false;
  return a.endpoints.every((ep, i) => sameEndpoint(ep, b.endpoints[i]!));
}
