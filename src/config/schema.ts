/**
 * The configuration schema: the single source of truth for what a Switchyard
 * configuration may contain, its defaults and its output types. Parsing with
 * `configSchema` yields a `Config` with every default filled in, durations in
 * milliseconds, addresses as { host, port } and endpoints normalized.
 *
 * Each key's `.describe()` text is its entry in the tables of
 * docs/configuration.md (`npm run docs:config`; a test checks they are current).
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
export const serviceRefSchema = z.string().min(1);

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
    enabled: z.boolean().default(true).describe('`false` turns the admin server off.'),
    listen: listenAddressSchema
      .default(DEFAULT_ADMIN_LISTEN)
      .describe("Where the admin server listens. It must not clash with a listener's address. Keep it on a private interface."),
  })
  .strict();

export const logSchema = z
  .object({
    level: z
      .enum(LOG_LEVELS)
      .default('info')
      .describe(
        'Least severe level written. At `warn`: an endpoint that cannot be connected or resolved, once per outage with the cause; at `info`: its recovery (see [Observability](observability.md#endpoint-states-and-reachability)).',
      ),
    accessLog: z
      .boolean()
      .default(false)
      .describe(
        'Writes one JSON line per finished request to standard output (asynchronously), and adds an `x-request-id` header to upstream requests that have none. See [Observability](observability.md#access-log).',
      ),
    accessLogDecisions: z
      .boolean()
      .default(false)
      .describe(
        'With `accessLog`: adds the balancing decision (candidates, their cost inputs, the rule that won) to each line as `decision`. Costs an allocation and some formatting per request; off, the pick path does no extra work. See [Observability](observability.md#why-this-endpoint).',
      ),
  })
  .strict();

export const shutdownSchema = z
  .object({
    drainTimeout: durationSchema
      .default('30s')
      .describe(
        'On SIGTERM/SIGINT Switchyard stops accepting connections, sends HTTP/2 GOAWAY, and waits up to this long for in-flight requests on every listener before closing what remains. `0` closes at once.',
      ),
  })
  .strict();

// ---------------------------------------------------------------------------
// listeners

/** HTTP/2 engine limits for client (downstream) connections. */
export const http2SettingsSchema = z
  .object({
    maxConcurrentStreams: z
      .number().int().min(1).max(INT31).default(1000)
      .describe('SETTINGS_MAX_CONCURRENT_STREAMS: open streams allowed per client connection.'),
    initialWindowSize: z
      .number().int().min(65_535).max(INT31).default(1_048_576)
      .describe('SETTINGS_INITIAL_WINDOW_SIZE: per-stream flow-control window (bytes) for request bodies.'),
    connectionWindowSize: z
      .number().int().min(65_535).max(INT31).default(16_777_216)
      .describe('Connection-level flow-control window (bytes), raised by WINDOW_UPDATE after the preface.'),
    maxFrameSize: z
      .number().int().min(16_384).max(16_777_215).default(16_384)
      .describe('SETTINGS_MAX_FRAME_SIZE: largest frame payload accepted.'),
    maxHeaderListSize: z
      .number().int().min(1024).max(INT31).default(65_536)
      .describe(
        'SETTINGS_MAX_HEADER_LIST_SIZE: largest decoded header block (bytes, each field counted as name + value + 32, cookie crumbs one by one); a larger request is answered 431 without reaching a service, a larger response from an endpoint is refused (the client gets 502).',
      ),
    headerTableSize: z
      .number().int().min(0).max(INT31).default(4096)
      .describe('SETTINGS_HEADER_TABLE_SIZE: HPACK dynamic table size the client may use for headers it sends.'),
    keepaliveInterval: durationSchema.default(0).describe('Send a PING to idle clients this often; `0` = off.'),
    keepaliveTimeout: positiveDurationSchema
      .default('20s')
      .describe('Close the connection when a PING is not answered within this time.'),
    streamIdleTimeout: durationSchema
      .default('5m')
      .describe(
        "A client stream on which nothing moves this long (no frame received, no DATA sent) is answered 504 / DEADLINE_EXCEEDED (`SWY_ERR_TIMEOUT`), or cut short if its response started, then reset if still open 2 s later. Envoy's `stream_idle_timeout` default; a route's `idleTimeout` and `timeout` are finer tools. `0` = off.",
      ),
    maxResetsPerWindow: z
      .number().int().min(1).max(INT31).default(200)
      .describe(
        'Rapid-reset protection: a client that cancels (RST_STREAM) more streams than this within `resetWindow` gets GOAWAY (ENHANCE_YOUR_CALM).',
      ),
    resetWindow: positiveDurationSchema.default('10s').describe('The window for `maxResetsPerWindow`.'),
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
    path: z
      .string()
      .startsWith('/', 'must start with "/"')
      .optional()
      .describe('The request path (without query string) equals this exactly.'),
    pathPrefix: z
      .string()
      .startsWith('/', 'must start with "/"')
      .optional()
      .describe('The request path starts with this. Use either `path` or `pathPrefix`, not both.'),
    host: z
      .string()
      .min(1)
      .transform((h) => h.toLowerCase())
      .optional()
      .describe('The request host (`:authority` or `Host`, without port) equals this, ignoring case.'),
    headers: headersMatchSchema
      .transform((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])))
      .optional()
      .describe('Each header is present with exactly this value. Names are case-insensitive (stored lower-case).'),
    grpcService: z
      .string()
      .regex(GRPC_SERVICE, 'must be a fully-qualified gRPC service name such as "pkg.Greeter"')
      .optional()
      .describe('The request is a gRPC call to this fully-qualified service, e.g. `pkg.Greeter` (path `/pkg.Greeter/...`).'),
    grpcMethod: z
      .string()
      .regex(GRPC_METHOD, 'must be a gRPC method name such as "SayHello"')
      .optional()
      .describe('The gRPC method name, e.g. `SayHello`; needs `grpcService`.'),
  })
  .strict();

export const backendRefSchema = z
  .object({
    service: serviceRefSchema.describe('A defined service.'),
    weight: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(1)
      .describe('Share of requests, relative to the other entries. At least one weight must be above 0.'),
  })
  .strict();

export const routeObjectSchema = z
  .object({
    name: nameSchema.optional().describe('Optional label for logs and metrics.'),
    match: routeMatchSchema
      .default({})
      .describe('Conditions; all given conditions must hold. `{}` matches every request.'),
    service: serviceRefSchema.optional().describe('Send matching requests to this service.'),
    backends: z
      .array(backendRefSchema)
      .min(1)
      .optional()
      .describe('Split matching requests between services by weight (instead of `service`).'),
    timeout: durationSchema
      .default(0)
      .describe(
        'Deadline for the whole request, after which the client gets 504 (gRPC: DEADLINE_EXCEEDED); `0` = none. A shorter `grpc-timeout` from the client still applies.',
      ),
    retry: retrySchema
      .optional()
      .describe(
        'Retries of failed attempts ([resilience](resilience.md)). Without it only requests the endpoint never processed (connect failure, GOAWAY, REFUSED_STREAM) are sent again, which is always safe.',
      ),
    hedge: hedgeSchema
      .optional()
      .describe('Hedged requests: another attempt after a delay, the first answer wins. Needs `idempotent`.'),
    idempotent: z
      .boolean()
      .default(false)
      .describe("The route's requests are safe to send more than once (hedging, retries of any method)."),
    idleTimeout: durationSchema
      .default(0)
      .describe('Fail a request when nothing moves in either direction for this long; `0` = off.'),
    upgradeIdleTimeout: durationSchema
      .default('1h')
      .describe(
        "A WebSocket (or other upgraded) connection of this route on which no byte moves either way this long is closed; see [WebSockets and other upgrades](#websockets-and-other-upgrades). Envoy's upgrade `idle_timeout` default (HAProxy: `timeout tunnel`). `0` = never.",
      ),
    authorization: authorizationSchema
      .optional()
      .describe("Rules checked after the listener's; see [Authorization](#authorization)."),
    maxRequestBody: byteSizeSchema
      .optional()
      .describe(
        "Request body bytes for this route (unset: the listener's `limits.maxRequestBody`); `0` = no limit. More: 413 `SWY_ERR_BODY_TOO_LARGE`.",
      ),
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
    name: nameSchema.describe('Unique among listeners; used in logs and metrics.'),
    listen: listenAddressSchema.describe(
      'Address and port to bind. Two listeners (or a listener and `admin`) may not use the same port on overlapping hosts (`0.0.0.0` overlaps every host); port `0` is exempt.',
    ),
    protocol: z
      .enum(LISTENER_PROTOCOLS)
      .default('auto')
      .describe(
        'What clients speak. `auto` reads the first bytes of each connection: the HTTP/2 connection preface (prior knowledge, which is what gRPC clients send) selects HTTP/2, anything else HTTP/1.1. `http1` and `http2` skip detection. `tcp` forwards bytes without looking at them.',
      ),
    service: serviceRefSchema
      .optional()
      .describe(
        'Default target: requests that match no route go here. A `tcp` listener must set it (it is its only target). A non-tcp listener needs `service`, at least one route, or both; without `service`, a request matching no route gets 404 (gRPC: status UNIMPLEMENTED).',
      ),
    detectTimeout: positiveDurationSchema
      .default('10s')
      .describe(
        'With `protocol: auto`, how long a new connection may take to send enough bytes to tell HTTP/2 from HTTP/1.1 before it is closed.',
      ),
    tls: listenerTlsSchema
      .optional()
      .describe('TLS on this port (unset: plaintext), and mTLS with `clientCa`; see [TLS and identity](#tls-and-identity).'),
    authorization: authorizationSchema
      .optional()
      .describe('Who may send requests through this listener (unset: everyone); see [Authorization](#authorization).'),
    http2: http2SettingsSchema.default({}).describe('HTTP/2 settings for client connections, see below.'),
    limits: listenerLimitsSchema
      .default({})
      .describe('Connection, header, timeout and body limits of this listener, see below and [limits](limits.md).'),
    forwarded: forwardedSchema
      .default({})
      .describe('The headers telling endpoints who the client is (X-Forwarded-For and -Proto on by default), see below.'),
    routes: z
      .array(routeSchema)
      .default([])
      .describe('Routing rules, tried in order; the first match wins. Not allowed on `tcp` listeners.'),
  })
  .strict();

// ---------------------------------------------------------------------------
// services

export const endpointObjectSchema = z
  .object({
    address: endpointAddressSchema.describe(
      '`host:port` of the endpoint; port 1..65535. The same address may not appear twice in one service.',
    ),
    weight: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(1)
      .describe('Relative share for weighted policies; `0` takes no new requests (drain an endpoint without removing it).'),
    zone: zoneNameSchema
      .optional()
      .describe(
        "The endpoint's topology zone, for [`zoneAware`](#serviceszoneaware) and the zone counts (discovery sources bring their own: Kubernetes EndpointSlices' `zone`).",
      ),
  })
  .strict();

/** An endpoint: "host:port" or { address, weight }. Output is always { address: {host, port}, weight }. */
export const endpointSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { address: v } : v),
  endpointObjectSchema,
);

export const reconnectBackoffSchema = z
  .object({
    base: positiveDurationSchema.default('100ms').describe('First retry delay.'),
    max: positiveDurationSchema.default('60s').describe('Longest delay; must be at least `base`.'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.max < b.base) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['max'], message: 'must be at least base' });
  });

export const serviceHttp1Schema = z
  .object({
    maxConnectionsPerEndpoint: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(64)
      .describe('HTTP/1.1 connection pool size per endpoint (one request per connection at a time).'),
  })
  .strict();

export const failfastSchema = z
  .object({
    timeout: durationSchema
      .default('3s')
      .describe(
        'How long a request waits for an endpoint to become ready before it fails with UNAVAILABLE / 503 (`SWY_ERR_QUEUE_TIMEOUT`); after such a timeout the service fails requests at once (`SWY_ERR_NO_ENDPOINT`) until an endpoint is ready again, as Linkerd does.',
      ),
    queueSize: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(10_000)
      .describe('Requests that may wait; a full queue rejects at once (`SWY_ERR_QUEUE_FULL`).'),
  })
  .strict();

export const serviceObjectSchema = z
  .object({
    name: nameSchema.describe('Unique among services; routes and listeners refer to it.'),
    protocol: z
      .enum(UPSTREAM_PROTOCOLS)
      .default('http2')
      .describe('What the endpoints speak. gRPC needs `http2` (cleartext prior knowledge, or `h2` over `tls`).'),
    balancer: balancerWithDefault.describe('How each request picks an endpoint; see [Balancers](#balancers).'),
    endpoints: z
      .array(endpointSchema)
      .default([])
      .describe(
        'Upstream endpoints: `host:port` strings or `{ address, weight, zone }`. Hostnames are resolved through the system resolver (`/etc/hosts` included) and re-resolved every 5 s, so a name that moves is followed (IPv4 addresses when the name has any, else IPv6); the same drain rules as discovery apply to addresses that go away. Leave it out when endpoints come from `discovery`.',
      ),
    tls: serviceTlsSchema
      .optional()
      .describe('TLS (and mTLS) to the endpoints (unset: plaintext); see [TLS and identity](#tls-and-identity).'),
    discovery: discoverySchema
      .optional()
      .describe('Endpoints from a file, DNS or Kubernetes instead of `endpoints` (set one of the two); see [Discovery](#servicesdiscovery).'),
    drainTimeout: durationSchema
      .default('30s')
      .describe(
        'An endpoint that leaves the service (discovery, a re-resolved name, a reload) takes no new request at once; its in-flight requests finish on their connections (HTTP/2 gets GOAWAY), which close when the last one ends — or after this long, whatever is still running is cut off. `0` = close at once.',
      ),
    connectTimeout: positiveDurationSchema.default('1s').describe('TCP connect timeout to an endpoint.'),
    maxConnectionsPerEndpoint: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(8)
      .describe(
        "For `http2`: connections opened to one endpoint at most. Requests are multiplexed over one connection; another opens only when the endpoint's MAX_CONCURRENT_STREAMS limit is reached.",
      ),
    keepaliveInterval: durationSchema
      .default('10s')
      .describe('Send an HTTP/2 PING on each upstream connection this often (`0` = off); detects dead endpoints.'),
    keepaliveTimeout: positiveDurationSchema
      .default('20s')
      .describe('An endpoint that does not answer a PING within this time is marked down and its connection closed.'),
    stallTimeout: durationSchema
      .default('10s')
      .describe(
        "An upstream HTTP/2 connection whose flow control makes no progress this long — DATA waiting on a send window the endpoint does not replenish, or the proxy's receive window held nearly exhausted (by slow clients) — stops taking new requests: a replacement connection is opened for them, and the stalled one gets GOAWAY and closes once its own streams end. Keepalive PINGs cannot catch this: they are not flow-controlled. Counted in `switchyard_upstream_stalls_total`. `0` = never.",
      ),
    streamIdleTimeout: durationSchema
      .default('5m')
      .describe(
        "A request whose upstream stream sees nothing move this long (no frame received, no DATA sent) fails with 504 / DEADLINE_EXCEEDED (`SWY_ERR_TIMEOUT`), or is cut short if its response started. Envoy's `stream_idle_timeout` default. Long-lived gRPC streams that stay silent longer than this need a larger value (or `0` = off).",
      ),
    reconnectBackoff: reconnectBackoffSchema
      .default({})
      .describe('Delay before reconnecting to a failed endpoint: exponential from `base`, capped at `max` (with jitter).'),
    http1: serviceHttp1Schema.default({}).describe('Settings used with `protocol: http1`.'),
    failfast: failfastSchema
      .default({})
      .describe('What happens to requests while no endpoint is available: they wait in a queue, then fail fast.'),
    healthCheck: healthCheckSchema
      .optional()
      .describe('Active health checks of every endpoint (unset: none); see [resilience](resilience.md).'),
    outlierDetection: outlierDetectionSchema.default({}).describe('Passive ejection of failing endpoints.'),
    panicThreshold: z
      .number()
      .min(0)
      .max(100)
      .default(50)
      .describe('Below this share (percent) of healthy endpoints, balance over all connectable endpoints instead of overloading the few.'),
    circuitBreakers: circuitBreakersSchema.default({}).describe('Load shedding per service.'),
    zoneAware: zoneAwareSchema
      .default({})
      .describe("Keep requests in the proxy's zone while it has room, spilling to other zones as its load grows; see [below](#serviceszoneaware) and [zones](zones.md)."),
    orca: orcaSchema
      .optional()
      .describe(
        'Load reports from the endpoints themselves (ORCA; unset: off): read from responses and/or streamed per endpoint, turned into `weighted-round-robin` weights (gRFC A58); see [`services[].orca`](#servicesorca) and [ORCA](orca.md).',
      ),
  })
  .strict();

// ---------------------------------------------------------------------------
// the whole file

export const configObjectSchema = z
  .object({
    admin: adminSchema
      .default({})
      .describe(
        'The admin HTTP server: `/live`, `/ready`, `/metrics`, `/api/v1/stats`, `/api/v1/tap`, `/dashboard` (see [observability](observability.md)). With it off (and no access log), request telemetry is off too.',
      ),
    log: logSchema.default({}).describe('Logging.'),
    shutdown: shutdownSchema.default({}).describe('Graceful shutdown.'),
    limits: processLimitsSchema
      .default({})
      .describe('Process-wide limits: client connections and the memory budget; see below and [limits](limits.md).'),
    identity: identitySettingsSchema
      .optional()
      .describe(
        "The proxy's own workload identity: a certificate it issues and renews itself; see [TLS and identity](#tls-and-identity).",
      ),
    watch: z
      .boolean()
      .default(false)
      .describe(
        'Reload the file when it changes on disk (its directory is watched, so a file replaced by rename is seen; changes within 200 ms are one reload, and a change that leaves the content as it was is none). SIGHUP, `switchyard reload` and `POST /api/v1/config/reload` reload in any case. See [Operations](operations.md#reloading-the-configuration).',
      ),
    zone: zoneNameSchema
      .optional()
      .describe(
        "The proxy's own topology zone (e.g. `us-east-1a`; unset: `$SWITCHYARD_ZONE`, else none); services prefer endpoints in it, see [`zoneAware`](#serviceszoneaware) and [zones](zones.md). Without a zone there is no zone preference. A reload applies a change in place.",
      ),
    listeners: z
      .array(listenerObjectSchema)
      .min(1, 'at least one listener is required')
      .describe('Where clients connect (at least one).'),
    services: z
      .array(serviceObjectSchema)
      .min(1, 'at least one service is required')
      .describe('Named pools of upstream endpoints (at least one).'),
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

