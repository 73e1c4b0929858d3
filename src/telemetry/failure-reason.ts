import { GrpcStatus, ProxyErrors } from '../errors.js';
import type { ObservedExchange } from '../proxy/exchange/observed-exchange.js';

/**
 * Why a request failed, as a short name (`no-endpoint`, `timeout`,
 * `connect-failed`, `upstream-5xx`…). Names are made once here, at load:
 * the data path maps an exchange to an index with a map lookup or a
 * comparison, never by building a string.
 */
export const REASON_NAMES: string[] = [''];

/** Index 0: not a failure. */
export const NO_REASON = 0;

function add(name: string): number {
  return REASON_NAMES.push(name) - 1;
}

/**
 * SWY_ERR_NO_ENDPOINT → no-endpoint: one reason per proxy error code
 * (SWY_ERR_PERMISSION_DENIED → permission-denied and SWY_ERR_UNAUTHENTICATED
 * → unauthenticated are the reasons of refused requests, not failures).
 */
const BY_ERROR_CODE = new Map<string, number>();
for (const kind of Object.values(ProxyErrors)) {
  BY_ERROR_CODE.set(kind.code, add(kind.code.replace(/^SWY_ERR_/, '').toLowerCase().replace(/_/g, '-')));
}

/** An error code this build does not know (a newer one): still a failure of the proxy. */
const PROXY_ERROR = add('proxy-error');
/** The endpoint answered 5xx. */
const UPSTREAM_5XX = add('upstream-5xx');
/** No status at all and no proxy error (the response never started). */
const NO_RESPONSE = add('no-response');

/** The gRPC statuses that count as failures: UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE. */
export const FAILED_GRPC: ReadonlySet<number> = new Set([
  GrpcStatus.UNKNOWN, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.INTERNAL, GrpcStatus.UNAVAILABLE,
]);

/** Those statuses answered by an endpoint → upstream-unavailable, upstream-deadline-exceeded, … */
const BY_GRPC_STATUS: number[] = [];
for (const [name, code] of Object.entries(GrpcStatus)) {
  if (FAILED_GRPC.has(code)) BY_GRPC_STATUS[code] = add(`upstream-${name.toLowerCase().replace(/_/g, '-')}`);
}

/** Number of reasons, the empty one included (sizes the per-reason counters). */
export const REASON_COUNT = REASON_NAMES.length;

/**
 * The reason index of a failed exchange: the proxy's error code first (it
 * answered, or the client gave up while the proxy could not serve it), then
 * the endpoint's answer. Call only for exchanges classified as failures or refused.
 */
export function failureReason(ex: ObservedExchange): number {
  const code = ex.errorCode;
  if (code !== '') return BY_ERROR_CODE.get(code) ?? PROXY_ERROR;
  if (ex.status >= 500) return UPSTREAM_5XX;
  const g = ex.grpcStatus;
  if (g > 0) {
    const r = BY_GRPC_STATUS[g];
    if (r !== undefined) return r;
  }
  return NO_RESPONSE;
}

/** The reason index of a name ('' or unknown: NO_REASON). */
export function reasonIndex(name: string): number {
  const i = REASON_NAMES.indexOf(name);
  return i < 0 ? NO_REASON : i;
}
