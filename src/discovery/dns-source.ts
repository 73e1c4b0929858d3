/**
 * DNS discovery: a name's A/AAAA records (with a configured port) or an SRV
 * name's records (targets and ports from the records), resolved again when
 * the answer's TTL runs out.
 *
 * Behaviour worth knowing:
 *  - Names are asked as written (no search domains: c-ares' query, not its
 *    search), through node's c-ares resolver, never getaddrinfo: it has no
 *    TTLs and blocks a libuv thread per lookup.
 *  - The next resolution comes when the shortest TTL of the answer runs out,
 *    clamped to [minTtl, maxTtl] so a TTL of 0 cannot turn into a query
 *    loop and a day-long TTL cannot hide a change for a day. Node reports no
 *    TTL for SRV records, so an SRV set is asked again every `interval` (or
 *    sooner when its targets' address TTLs are shorter).
 *  - A failed resolution (SERVFAIL, timeout, refused, NXDOMAIN, or an answer
 *    with no address) reports an error and keeps the last good set; the next
 *    attempt follows after `interval`. NXDOMAIN and empty answers count as
 *    failures rather than "no endpoints", as Envoy keeps a cluster's hosts
 *    when resolution fails: a zone being edited, a split-horizon view
 *    answering from the wrong side or a resolver briefly missing the zone all
 *    look like this, and dropping every endpoint on them would turn a DNS
 *    hiccup into an outage. Endpoints leave when a later answer omits them.
 *  - SRV (RFC 2782): only the lowest-priority group whose targets have
 *    addresses is used (the others are backups for when it has none). A
 *    record's weight is its target's share, split evenly across the target's
 *    addresses; weight 0 becomes the smallest weight (1) — RFC 2782 gives
 *    such targets "a very small chance" when others weigh more — and weights
 *    are scaled into 1–1000 when they do not fit.
 *  - The sink hears of a set only when it differs from the last one sent, on
 *    the first success, and on the first success after an error.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DnsDiscoveryConfig } from '../config/discovery-schema.js';
import type { HostPort } from '../config/address.js';
import type { DiscoveredEndpoint, DiscoverySink, DiscoverySource } from './types.js';

/** A scheduled callback that can be cancelled. */
export interface DnsTimer {
  cancel(): void;
}

export interface DnsSourceOptions {
  /** Runs `fn` once after `delayMs`. Default: an unref'd setTimeout. */
  setTimer?: (delayMs: number, fn: () => void) => DnsTimer;
}

const realTimer = (delayMs: number, fn: () => void): DnsTimer => {
  const t = setTimeout(fn, delayMs);
  // Re-resolution alone must not keep a stopping process alive.
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/** c-ares codes for "the name has no such records" (NODATA) and "no such name" (NXDOMAIN). */
const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

const CAUSES: Readonly<Record<string, string>> = {
  ESERVFAIL: 'server failure',
  ETIMEOUT: 'no answer',
  ECONNREFUSED: 'connection refused',
  EREFUSED: 'query refused',
  ENOTFOUND: 'no such name (NXDOMAIN)',
  ENODATA: 'no records',
  EFORMERR: 'server could not parse the query',
  EBADRESP: 'malformed answer',
  ENOTIMP: 'query type not implemented by the server',
};

/** What one resolution found: endpoints and the shortest TTL among them (ms; undefined: none known). */
interface Answer {
  endpoints: DiscoveredEndpoint[];
  ttlMs: number | undefined;
}

/** A resolution that failed; `message` is complete (names the DNS name, cause and servers). */
class ResolveFailure extends Error {}

interface AddressRecord {
  address: string;
  ttl: number;
}

export class DnsSource implements DiscoverySource {
  readonly kind = 'dns';
  readonly description: string;
  private readonly config: DnsDiscoveryConfig;
  private readonly setTimer: (delayMs: number, fn: () => void) => DnsTimer;
  private resolver: Resolver | undefined;
  private sink: DiscoverySink | undefined;
  private timer: DnsTimer | undefined;
  /** Bumped by start() and stop(): an answer from an older generation is dropped. */
  private generation = 0;
  /** Identity of the last set sent ('' before the first). */
  private lastKey = '';
  private failing = false;
  private readonly servers: string[] | undefined;

  constructor(config: DnsDiscoveryConfig, options: DnsSourceOptions = {}) {
    this.config = config;
    this.setTimer = options.setTimer ?? realTimer;
    if (config.servers !== undefined) {
      this.servers = config.servers.map((s) => {
        // c-ares takes server addresses only; a server found by name would need a resolver of its own.
        if (isIP(s.host) === 0) throw new Error(`dns discovery: server "${s.host}:${s.port}" must be an IP address`);
        return formatServer(s);
      });
    }
    const what = config.srv !== undefined ? `srv ${config.srv}` : `${config.name}:${config.port}`;
    this.description = `dns ${what}${this.servers !== undefined ? ` via ${this.servers.join(', ')}` : ''}`;
  }

  start(sink: DiscoverySink): void {
    this.stop();
    this.sink = sink;
    this.lastKey = '';
    this.failing = false;
    // One attempt per query: `timeout` is then the whole wait, and a lost
    // datagram is retried by the next scheduled resolution, not by c-ares'
    // doubling retransmits that would stretch an attempt to many timeouts.
    this.resolver = new Resolver({ timeout: Math.max(1, Math.ceil(this.config.timeout)), tries: 1 });
    if (this.servers !== undefined) this.resolver.setServers(this.servers);
    void this.resolveNow(this.generation);
  }

  stop(): void {
    this.generation++;
    this.timer?.cancel();
    this.timer = undefined;
    // Pending queries end with ECANCELLED; the generation check drops them.
    this.resolver?.cancel();
    this.resolver = undefined;
    this.sink = undefined;
  }

  private async resolveNow(generation: number): Promise<void> {
    const resolver = this.resolver;
    if (generation !== this.generation || resolver === undefined) return;
    let answer: Answer | undefined;
    let failure: string | undefined;
    try {
      answer = this.config.srv !== undefined ? await this.resolveSrv(resolver, this.config.srv) : await this.resolveName(resolver);
    } catch (e) {
      failure = e instanceof ResolveFailure ? e.message : `dns ${this.config.srv ?? this.config.name}: ${(e as Error).message}`;
    }
    if (generation !== this.generation) return;
    let delay = this.config.interval;
    if (answer?.ttlMs !== undefined) {
      const ttl = Math.min(Math.max(answer.ttlMs, this.config.minTtl), this.config.maxTtl);
      delay = this.config.srv !== undefined ? Math.min(ttl, this.config.interval) : ttl;
    }
    // Scheduled before the sink hears anything, so a sink that stops the
    // source from inside its callback cancels this timer too.
    this.timer = this.setTimer(delay, () => {
      this.timer = undefined;
      void this.resolveNow(generation);
    });
    const sink = this.sink!;
    if (answer === undefined) {
      this.failing = true;
      sink.error(failure!);
      return;
    }
    const key = setKey(answer.endpoints);
    if (this.failing || key !== this.lastKey) {
      this.failing = false;
      this.lastKey = key;
      sink.update(answer.endpoints);
    }
  }

  private async resolveName(resolver: Resolver): Promise<Answer> {
    const name = this.config.name!;
    const records = await this.addresses(resolver, name, `dns ${name}`);
    if (records.length === 0) throw new ResolveFailure(`dns ${name}: ${this.noRecords(records.code)}`);
    const port = this.config.port!;
    let ttl = Infinity;
    const endpoints: DiscoveredEndpoint[] = [];
    for (const r of records) {
      ttl = Math.min(ttl, r.ttl);
      endpoints.push(endpoint({ host: r.address, port }, 1, name));
    }
    return { endpoints: sortEndpoints(endpoints), ttlMs: ttl * 1000 };
  }

  private async resolveSrv(resolver: Resolver, srv: string): Promise<Answer> {
    const what = `dns srv ${srv}`;
    let records;
    try {
      records = await resolver.resolveSrv(srv);
    } catch (e) {
      throw this.failure(what, e, 'SRV');
    }
    // RFC 2782: a single record with target "." means the service is decidedly not available here.
    records = records.filter((r) => r.name !== '' && r.name !== '.');
    if (records.length === 0) throw new ResolveFailure(`${what}: no SRV records (ENODATA) from ${this.serverList(resolver)}`);
    const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
    let ttl = Infinity;
    const lookups = new Map<string, Promise<AddressRecord[] & { code?: string }>>();
    for (const priority of priorities) {
      const group = records.filter((r) => r.priority === priority);
      // A target's addresses are asked once even when several records (ports) name it.
      for (const r of group) {
        if (!lookups.has(r.name)) lookups.set(r.name, this.targetAddresses(resolver, r.name, what));
      }
      // all(): every lookup's failure is observed, the first one fails the attempt.
      await Promise.all(group.map((r) => lookups.get(r.name)!));
      const resolved: { srvWeight: number; port: number; target: string; addresses: AddressRecord[] }[] = [];
      for (const r of group) {
        const addresses = await lookups.get(r.name)!;
        for (const a of addresses) ttl = Math.min(ttl, a.ttl);
        if (addresses.length > 0) resolved.push({ srvWeight: r.weight, port: r.port, target: stripDot(r.name), addresses });
      }
      if (resolved.length === 0) continue;
      const weights = splitWeights(resolved.map((r) => ({ weight: r.srvWeight, count: r.addresses.length })));
      const endpoints: DiscoveredEndpoint[] = [];
      resolved.forEach((r, i) => {
        for (const a of r.addresses) endpoints.push(endpoint({ host: a.address, port: r.port }, weights[i]!, r.target));
      });
      return { endpoints: sortEndpoints(endpoints), ttlMs: ttl === Infinity ? undefined : ttl * 1000 };
    }
    throw new ResolveFailure(`${what}: no target has an address (${records.map((r) => stripDot(r.name)).join(', ')}) from ${this.serverList(resolver)}`);
  }

  /** A target's addresses; an IP-literal target (seen in the wild, though RFC 2782 asks for a name) is taken as is. */
  private async targetAddresses(resolver: Resolver, target: string, what: string): Promise<AddressRecord[]> {
    if (isIP(target) !== 0) return [{ address: target, ttl: Infinity }];
    // A target without records just drops out of the set; only a failed query fails the attempt.
    return this.addresses(resolver, target, `${what}: target ${stripDot(target)}`);
  }

  /**
   * The name's A and/or AAAA records per `family`, sorted. With both asked,
   * NODATA or NXDOMAIN for one family is an answer (a v4-only name); any
   * other failure fails the whole attempt, so a broken AAAA query cannot
   * silently drop every IPv6 endpoint.
   */
  private async addresses(resolver: Resolver, name: string, what: string): Promise<AddressRecord[] & { code?: string }> {
    const family = this.config.family;
    const asks: Promise<AddressRecord[]>[] = [];
    const types: string[] = [];
    if (family !== 'ipv6') {
      asks.push(resolver.resolve4(name, { ttl: true }));
      types.push('A');
    }
    if (family !== 'ipv4') {
      asks.push(resolver.resolve6(name, { ttl: true }));
      types.push('AAAA');
    }
    const results = await Promise.allSettled(asks);
    const out: AddressRecord[] & { code?: string } = [];
    let code: string | undefined;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (r.status === 'fulfilled') {
        out.push(...r.value);
        continue;
      }
      const c = errorCode(r.reason);
      if (!NO_RECORDS.has(c)) throw this.failure(what, r.reason, types[i]!);
      // NXDOMAIN says more than NODATA: report it when it is all there is.
      if (code === undefined || c === 'ENOTFOUND') code = c;
    }
    out.sort((a, b) => compareHosts(a.address, b.address));
    if (out.length === 0) out.code = code;
    return out;
  }

  private noRecords(code: string | undefined): string {
    const types = this.config.family === 'ipv4' ? 'A' : this.config.family === 'ipv6' ? 'AAAA' : 'A or AAAA';
    const cause = code === 'ENOTFOUND' ? 'no such name (NXDOMAIN, ENOTFOUND)' : `no ${types} records (ENODATA)`;
    return `${cause} from ${this.serverList(this.resolver)}`;
  }

  private failure(what: string, e: unknown, type: string): ResolveFailure {
    const code = errorCode(e);
    let cause = CAUSES[code];
    if (code === 'ETIMEOUT') cause = `no answer within ${this.config.timeout} ms`;
    else if (code === 'ENODATA') cause = `no ${type} records`;
    else if (cause === undefined || cause === '') cause = (e as Error).message;
    return new ResolveFailure(`${what}: ${cause} (${code || 'error'}) from ${this.serverList(this.resolver)}`);
  }

  private serverList(resolver: Resolver | undefined): string {
    const servers = this.servers ?? resolver?.getServers() ?? [];
    return servers.length > 0 ? servers.join(', ') : 'the system resolver';
  }
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : '';
}

function formatServer(s: HostPort): string {
  return isIP(s.host) === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function endpoint(address: HostPort, weight: number, name: string): DiscoveredEndpoint {
  return { address, weight, ready: true, serving: true, terminating: false, name };
}

/** IPv4 before IPv6, then by text: any stable order makes equal sets compare equal. */
function compareHosts(a: string, b: string): number {
  const fa = isIP(a);
  const fb = isIP(b);
  if (fa !== fb) return fa - fb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortEndpoints(list: DiscoveredEndpoint[]): DiscoveredEndpoint[] {
  return list.sort((a, b) => compareHosts(a.address.host, b.address.host) || a.address.port - b.address.port || (a.name ?? '').localeCompare(b.name ?? ''));
}

function setKey(list: readonly DiscoveredEndpoint[]): string {
  return list.map((e) => `${e.address.host} ${e.address.port} ${e.weight} ${e.name ?? ''}`).join('\n');
}

/**
 * Per-address weights for SRV records of one priority: each record's weight
 * split across its target's addresses, 0 raised to the smallest share, and
 * the whole group scaled into integers 1–1000 when it does not already fit.
 */
export function splitWeights(records: readonly { weight: number; count: number }[]): number[] {
  const allZero = records.every((r) => r.weight === 0);
  const raw = records.map((r) => (allZero ? 1 : r.weight) / r.count);
  const max = Math.max(...raw);
  const fits = max <= 1000 && raw.every((w) => Number.isInteger(w));
  return raw.map((w) => Math.max(1, fits ? w : Math.round((w * 1000) / max)));
}
