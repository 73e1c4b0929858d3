/**
 * The configuration schema: the single source of truth for what a Switchyard
 * configuration may contain, its defaults and its output types. Parsing with
 * `configSchema` yields a `Config` with every default filled in, durations in
 * milliseconds, addresses as { host, port } and endpoints normalized.
 *
 * docs/configuration.md documents every key defined here (a test checks it).
 */
import { z } from 'zod';
import { circuitBreakersSchema, healthCheckSchema, hedgeSchema, outlierDetectionSchema, retrySchema } from './resilience-schema.js';
import { durationSchema, positiveDurationSchema } from './duration.js';
import {
  listenAddressSchema,
  endpointAddressSchema,
  parseAddress,
  formatAddress,
  isWildcardHost,
  type HostPort,
} from './address.js';
import { balancerWithDefault } from './balancer-options.js';
import { discoverySchema } from './discovery-schema.js';
import { authorizationSchema, identitySettingsSchema, listenerTlsSchema, serviceTlsSchema } from './security-schema.js';
import { byteSizeSchema, listenerLimitsSchema, processLimitsSchema } from './limits-schema.js';
import { forwardedSchema } from './forwarded-schema.js';
import { zoneAwareSchema, zoneNameSchema } from './zone-schema.js';
import { orcaCrossCheck, orcaSchema } from './orca-schema.js';

// ---------------------------------------------------------------------------
// Building blocks

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** Listener, service and route names: lower-case letters, digits, ".", "_" and "-", starting with a letter or digit. */
export const nameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(NAME_PATTERN, 'must match [a-z0-9][a-z0-9._-]* (lower-case letters, digits, ".", "_", "-")');

/** A reference to a service by name (checked against `services` after parsing the whole file). */
const serviceRefSchema = z.string().min(1);

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const GRPC_SERVICE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INT31 = 2_147_483_647;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LISTENER_PROTOCOLS = ['auto', 'http1', 'http2', 'tcp'] as const;
export const UPSTREAM_PROTOCOLS = ['http2', 'http1'] as const;

export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:9990';

// ---------------------------------------------------------------------------
// admin, log, shutdown

export const adminSchema = z
  .object({
    enabled: z.boolean().default(true),
    listen: listenAddressSchema.default(DEFAULT_ADMIN_LISTEN),
  })
  .strict();

export const logSchema = z
  .object({
    level: z.enum(LOG_LEVELS).default('info'),
    accessLog: z.boolean().default(false),
    accessLogDecisions: z.boolean().default(false),
  })
  .strict();

export const shutdownSchema = z
  .object({
    drainTimeout: durationSchema.default('30s'),
  })
  .strict();

// ---------------------------------------------------------------------------
// listeners

/** HTTP/2 engine limits for client (downstream) connections. */
export const http2SettingsSchema = z
  .object({
    maxConcurrentStreams: z.number().int().min(1).max(INT31).default(1000),
    initialWindowSize: z.number().int().min(65_535).max(INT31).default(1_048_576),
    connectionWindowSize: z.number().int().min(65_535).max(INT31).default(16_777_216),
    maxFrameSize: z.number().int().min(16_384).max(16_777_215).default(16_384),
    maxHeaderListSize: z.number().int().min(1024).max(INT31).default(65_536),
    headerTableSize: z.number().int().min(0).max(INT31).default(4096),
    keepaliveInterval: durationSchema.default(0),
    keepaliveTimeout: positiveDurationSchema.default('20s'),
    /** A client stream on which nothing moves this long is answered 504 / DEADLINE_EXCEEDED, then reset; 0 = off. */
    streamIdleTimeout: durationSchema.default('5m'),
    maxResetsPerWindow: z.number().int().min(1).max(INT31).default(200),
    resetWindow: positiveDurationSchema.default('10s'),
  })
  .strict();

const headersMatchSchema = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  const seen = new Set<string>();
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(lower)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `"${name}" is not a valid header name` });
    } else if (seen.has(lower)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: `header "${lower}" is listed twice (names are case-insensitive)` });
    }
    seen.add(lower);
  }
});

export const routeMatchSchema = z
  .object({
    path: z.string().startsWith('/', 'must start with "/"').optional(),
    pathPrefix: z.string().startsWith('/', 'must start with "/"').optional(),
    host: z
      .string()
      .min(1)
      .transform((h) => h.toLowerCase())
      .optional(),
    headers: headersMatchSchema
      .transform((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])))
      .optional(),
    grpcService: z.string().regex(GRPC_SERVICE, 'must be a fully-qualified gRPC service name such as "pkg.Greeter"').optional(),
    grpcMethod: z.string().regex(GRPC_METHOD, 'must be a gRPC method name such as "SayHello"').optional(),
  })
  .strict();

export const backendRefSchema = z
  .object({
    service: serviceRefSchema,
    weight: z.number().int().min(0).max(1_000_000).default(1),
  })
  .strict();

export const routeObjectSchema = z
  .object({
    name: nameSchema.optional(),
    match: routeMatchSchema.default({}),
    service: serviceRefSchema.optional(),
    backends: z.array(backendRefSchema).min(1).optional(),
    timeout: durationSchema.default(0),
    /** Retries of failed attempts (absent: only the always-safe resends of unprocessed requests). */
    retry: retrySchema.optional(),
    /** Hedged requests: a second attempt after a delay, first answer wins. Needs `idempotent`. */
    hedge: hedgeSchema.optional(),
    /** The route's requests may be sent more than once (hedging, retries of any method). */
    idempotent: z.boolean().default(false),
    /** Fail a request when nothing moves in either direction for this long; 0 = off. */
    idleTimeout: durationSchema.default(0),
    /** A WebSocket or other upgraded connection on which nothing moves either way this long is closed; 0 = never. */
    upgradeIdleTimeout: durationSchema.default('1h'),
    /** Who may use this route, checked after the listener's rules. */
    authorization: authorizationSchema.optional(),
    /** Request body bytes; more: 413 (default: the listener's limits.maxRequestBody). */
    maxRequestBody: byteSizeSchema.optional(),
  })
  .strict();

/**
 * A route. The output always has `backends` (a lone `service` becomes one
 * backend of weight 1); `service` is kept when it was written.
 */
export const routeSchema = routeObjectSchema.transform((r, ctx) => {
  if (r.hedge !== undefined && !r.idempotent) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['hedge'], message: 'hedging sends requests twice: set idempotent: true on the route' });
  }
  const { backends, ...rest } = r;
  return { ...rest, backends: backends ?? (r.service !== undefined ? [{ service: r.service, weight: 1 }] : []) };
});

export const listenerObjectSchema = z
  .object({
    name: nameSchema,
    listen: listenAddressSchema,
    protocol: z.enum(LISTENER_PROTOCOLS).default('auto'),
    service: serviceRefSchema.optional(),
    detectTimeout: positiveDurationSchema.default('10s'),
    /** TLS (and mTLS with clientCa) on this port; `auto` still tells TLS from plaintext. */
    tls: listenerTlsSchema.optional(),
    /** Who may send requests through this listener (its routes may add their own rules). */
    authorization: authorizationSchema.optional(),
    http2: http2SettingsSchema.default({}),
    limits: listenerLimitsSchema.default({}),
    forwarded: forwardedSchema.default({}),
    routes: z.array(routeSchema).default([]),
  })
  .strict();

// ---------------------------------------------------------------------------
// services

export const endpointObjectSchema = z
  .object({
    address: endpointAddressSchema,
    weight: z.number().int().min(0).max(1000).default(1),
    /** Topology zone of the endpoint (discovery sources bring their own). */
    zone: zoneNameSchema.optional(),
  })
  .strict();

/** An endpoint: "host:port" or { address, weight }. Output is always { address: {host, port}, weight }. */
export const endpointSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { address: v } : v),
  endpointObjectSchema,
);

export const reconnectBackoffSchema = z
  .object({
    base: positiveDurationSchema.default('100ms'),
    max: positiveDurationSchema.default('60s'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.max < b.base) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['max'], message: 'must be at least base' });
  });

export const serviceHttp1Schema = z
  .object({
    maxConnectionsPerEndpoint: z.number().int().min(1).max(100_000).default(64),
  })
  .strict();

export const failfastSchema = z
  .object({
    timeout: durationSchema.default('3s'),
    queueSize: z.number().int().min(0).max(1_000_000).default(10_000),
  })
  .strict();

export const serviceObjectSchema = z
  .object({
    name: nameSchema,
    protocol: z.enum(UPSTREAM_PROTOCOLS).default('http2'),
    balancer: balancerWithDefault,
    endpoints: z.array(endpointSchema).default([]),
    /** TLS (and mTLS with cert/key) to the endpoints. */
    tls: serviceTlsSchema.optional(),
    /** Endpoints from a file, DNS or Kubernetes instead of `endpoints`. */
    discovery: discoverySchema.optional(),
    /** A removed endpoint's in-flight requests may run this long before its connections are closed. */
    drainTimeout: durationSchema.default('30s'),
    connectTimeout: positiveDurationSchema.default('1s'),
    maxConnectionsPerEndpoint: z.number().int().min(1).max(10_000).default(8),
    keepaliveInterval: durationSchema.default('10s'),
    keepaliveTimeout: positiveDurationSchema.default('20s'),
    /** Replace an upstream HTTP/2 connection whose flow control makes no progress this long; 0 = never. */
    stallTimeout: durationSchema.default('10s'),
    /** An upstream stream on which nothing moves this long fails its request (504 / DEADLINE_EXCEEDED); 0 = off. */
    streamIdleTimeout: durationSchema.default('5m'),
    reconnectBackoff: reconnectBackoffSchema.default({}),
    http1: serviceHttp1Schema.default({}),
    failfast: failfastSchema.default({}),
    healthCheck: healthCheckSchema.optional(),
    outlierDetection: outlierDetectionSchema.default({}),
    /** Below this share (percent) of healthy endpoints, balance over all of them rather than overload the few. */
    panicThreshold: z.number().min(0).max(100).default(50),
    circuitBreakers: circuitBreakersSchema.default({}),
    /** Prefer endpoints in the proxy's zone while they have room (docs/zones.md). */
    zoneAware: zoneAwareSchema.default({}),
    orca: orcaSchema.optional(),
  })
  .strict();

// ---------------------------------------------------------------------------
// the whole file

export const configObjectSchema = z
  .object({
    admin: adminSchema.default({}),
    log: logSchema.default({}),
    shutdown: shutdownSchema.default({}),
    limits: processLimitsSchema.default({}),
    /** The proxy's own workload identity (certificates it issues and renews itself). */
    identity: identitySettingsSchema.optional(),
    /** Reload when the configuration file changes on disk (SIGHUP and the admin endpoint reload in any case). */
    watch: z.boolean().default(false),
    /** The proxy's own topology zone (else SWITCHYARD_ZONE): services prefer endpoints there (docs/zones.md). */
    zone: zoneNameSchema.optional(),
    listeners: z.array(listenerObjectSchema).min(1, 'at least one listener is required'),
    services: z.array(serviceObjectSchema).min(1, 'at least one service is required'),
  })
  .strict();

type Ctx = z.RefinementCtx;
type Path = (string | number)[];

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function issue(ctx: Ctx, path: Path, message: string): void {
  ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
}
function tryAddress(v: unknown, defaultHost?: string): HostPort | undefined {
  try {
    if (typeof v === 'string') return parseAddress(defaultHost !== undefined && /^\d+$/.test(v.trim()) ? `:${v.trim()}` : v, { defaultHost, allowPortZero: true });
    if (typeof v === 'number' && defaultHost !== undefined) return parseAddress(`:${v}`, { defaultHost, allowPortZero: true });
  } catch {
    // reported by the schema itself
  }
  return undefined;
}
function addressesOverlap(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  return a.host === b.host || isWildcardHost(a.host) || isWildcardHost(b.host);
}

/**
 * Checks that span more than one object (names, references, conflicts). They
 * run on the raw input, before and independently of the per-field schema, so
 * that every problem in a file is reported in one go; anything malformed is
 * skipped here because the schema reports it.
 */
function crossCheck(raw: unknown, ctx: Ctx): void {
  if (!isRecord(raw)) return;
  const services = Array.isArray(raw.services) ? raw.services : [];
  const listeners = Array.isArray(raw.listeners) ? raw.listeners : [];

  // Unique service names; collect them for references.
  const serviceNames = new Map<string, number>();
  services.forEach((s, i) => {
    if (!isRecord(s) || typeof s.name !== 'string') return;
    const first = serviceNames.get(s.name);
    if (first !== undefined) issue(ctx, ['services', i, 'name'], `duplicate service name "${s.name}" (also services[${first}])`);
    else serviceNames.set(s.name, i);

    const orcaIssue = orcaCrossCheck(s);
    if (orcaIssue !== undefined) issue(ctx, ['services', i, ...orcaIssue.path], orcaIssue.message);
    if (s.endpoints !== undefined && s.discovery !== undefined) {
      issue(ctx, ['services', i, 'discovery'], 'set either endpoints or discovery, not both');
    }
    // Unique endpoint addresses within a service.
    if (Array.isArray(s.endpoints)) {
      const seen = new Map<string, number>();
      s.endpoints.forEach((e, j) => {
        const addr = tryAddress(typeof e === 'string' ? e : isRecord(e) ? e.address : undefined);
        if (addr === undefined) return;
        const key = formatAddress(addr);
        const prev = seen.get(key);
        if (prev !== undefined) issue(ctx, ['services', i, 'endpoints', j], `duplicate endpoint ${key} (also endpoints[${prev}])`);
        else seen.set(key, j);
      });
    }
  });
  const known = [...serviceNames.keys()];
  const checkRef = (v: unknown, path: Path): void => {
    if (typeof v !== 'string' || serviceNames.has(v)) return;
    const hint = known.length > 0 ? ` (defined services: ${known.join(', ')})` : '';
    issue(ctx, path, `unknown service "${v}"${hint}`);
  };

  const listenerNames = new Map<string, number>();
  const binds: { addr: HostPort; path: Path; what: string }[] = [];
  listeners.forEach((l, i) => {
    if (!isRecord(l)) return;
    const at = (...rest: Path): Path => ['listeners', i, ...rest];
    if (typeof l.name === 'string') {
      const first = listenerNames.get(l.name);
      if (first !== undefined) issue(ctx, at('name'), `duplicate listener name "${l.name}" (also listeners[${first}])`);
      else listenerNames.set(l.name, i);
    }
    const addr = tryAddress(l.listen, '0.0.0.0');
    if (addr !== undefined) binds.push({ addr, path: at('listen'), what: `listeners[${i}]` });

    checkRef(l.service, at('service'));
    const routes = Array.isArray(l.routes) ? l.routes : [];
    routes.forEach((r, j) => {
      if (!isRecord(r)) return;
      const rp = (...rest: Path): Path => at('routes', j, ...rest);
      const hasService = r.service !== undefined;
      const hasBackends = r.backends !== undefined;
      if (hasService && hasBackends) issue(ctx, rp('backends'), 'set either service or backends, not both');
      else if (!hasService && !hasBackends) issue(ctx, rp(), 'a route needs service or backends');
      checkRef(r.service, rp('service'));
      if (Array.isArray(r.backends)) {
        r.backends.forEach((b, k) => {
          if (isRecord(b)) checkRef(b.service, rp('backends', k, 'service'));
        });
        const weights = r.backends.map((b) => (isRecord(b) ? (b.weight === undefined ? 1 : b.weight) : undefined));
        if (weights.length > 0 && weights.every((w) => typeof w === 'number') && weights.every((w) => w === 0)) {
          issue(ctx, rp('backends'), 'at least one backend needs a weight above 0');
        }
      }
      if (isRecord(r.match)) {
        const m = r.match;
        if (m.path !== undefined && m.pathPrefix !== undefined) issue(ctx, rp('match'), 'set either path or pathPrefix, not both');
        if (m.grpcMethod !== undefined && m.grpcService === undefined) issue(ctx, rp('match', 'grpcMethod'), 'grpcMethod needs grpcService');
      }
    });

    if (isRecord(l.tls) && l.tls.cert === undefined && l.tls.key === undefined && raw.identity === undefined) {
      issue(ctx, at('tls', 'cert'), 'required (or set the top-level identity, whose certificate is then used)');
    }
    const protocol = l.protocol ?? 'auto';
    if (protocol === 'tcp') {
      if (l.service === undefined) issue(ctx, at('service'), 'a tcp listener needs service (its only target)');
      if (routes.length > 0) issue(ctx, at('routes'), 'a tcp listener cannot have routes (it forwards bytes to service)');
      if (l.authorization !== undefined) issue(ctx, at('authorization'), 'a tcp listener relays bytes: authorization applies to HTTP requests');
    } else if (typeof protocol === 'string' && l.service === undefined && routes.length === 0) {
      issue(ctx, at(), 'a listener needs service (the default target) or at least one route');
    }
  });

  const admin = raw.admin;
  if (admin === undefined || (isRecord(admin) && admin.enabled !== false)) {
    const addr = tryAddress(isRecord(admin) && admin.listen !== undefined ? admin.listen : DEFAULT_ADMIN_LISTEN, '0.0.0.0');
    if (addr !== undefined) binds.push({ addr, path: ['admin', 'listen'], what: 'admin.listen' });
  }
  binds.forEach((b, i) => {
    const clash = binds.slice(0, i).find((o) => addressesOverlap(o.addr, b.addr));
    if (clash) issue(ctx, b.path, `address ${formatAddress(b.addr)} is already used by ${clash.what} (${formatAddress(clash.addr)})`);
  });
}

/** THE configuration schema. Parse input with it to get a `Config`. */
export const configSchema = z.preprocess((raw, ctx) => {
  crossCheck(raw, ctx);
  return raw;
}, configObjectSchema);

// ---------------------------------------------------------------------------
// output types

export type Config = z.output<typeof configSchema>;
export type AdminConfig = Config['admin'];
export type LogConfig = Config['log'];
export type LogLevel = LogConfig['level'];
export type ShutdownConfig = Config['shutdown'];
export type ListenerConfig = Config['listeners'][number];
export type ListenerProtocol = ListenerConfig['protocol'];
export type Http2Settings = ListenerConfig['http2'];
export type { ListenerLimitsConfig, ProcessLimitsConfig } from './limits-schema.js';
export type { ForwardedConfig } from './forwarded-schema.js';
export type RouteConfig = ListenerConfig['routes'][number];
export type RouteMatch = RouteConfig['match'];
export type BackendRef = RouteConfig['backends'][number];
export type ServiceConfig = Config['services'][number];
export type UpstreamProtocol = ServiceConfig['protocol'];
export type EndpointConfig = ServiceConfig['endpoints'][number];
export type { DiscoveryConfig, DnsDiscoveryConfig, KubernetesDiscoveryConfig } from './discovery-schema.js';
export type { ListenerTlsConfig, ServiceTlsConfig, AuthorizationRule, IdentitySettings } from './security-schema.js';
export type ReconnectBackoffConfig = ServiceConfig['reconnectBackoff'];
export type ServiceHttp1Config = ServiceConfig['http1'];
export type { BalancerConfig, HashOn, SlowStartConfig } from './balancer-options.js';
export type { HostPort } from './address.js';

