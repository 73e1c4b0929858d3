import type { Logger } from './json-log.js';
import type { EndpointEvents } from '../proxy/service-runtime.js';

/**
 * Log lines for endpoint reachability: a warning when an endpoint cannot be
 * connected or resolved (once per outage, with the cause), an info line when
 * it is reachable again. The pools call these on state changes only, so an
 * endpoint retrying with backoff for hours still makes two lines. Discovery
 * sources likewise: a warning when one fails (or fails differently), an info
 * line when it answers again.
 */
export function endpointLogEvents(log: Logger): EndpointEvents {
  return {
    unreachable: (service, endpoint, cause) => log.warn({ service, endpoint, cause }, 'endpoint unreachable'),
    reachable: (service, endpoint, downForMs) =>
      log.info({ service, endpoint, downForMs: Math.round(downForMs) }, 'endpoint reachable again'),
    stalled: (service, endpoint, direction, stallTimeoutMs) =>
      log.warn(
        { service, endpoint, direction, stallTimeoutMs },
        direction === 'send'
          ? 'upstream connection stalled: the endpoint returned no flow-control credit; replacing the connection'
          : 'upstream connection stalled: its receive window stayed exhausted (slow clients); replacing the connection',
      ),
    discoveryFailed: (service, source, message) =>
      log.warn({ service, source, error: message }, 'discovery failed; keeping the last endpoint set'),
    discoveryRecovered: (service, source, downForMs) =>
      log.info({ service, source, downForMs: Math.round(downForMs) }, 'discovery recovered'),
    tlsFilesFailed: (service, message) =>
      log.error({ service, error: message }, 'TLS files replaced with something unusable; keeping the previous certificate'),
    // One line per applied set: sources coalesce bursts, and debug keeps busy clusters quiet.
    endpointsChanged: (service, added, removed, updated, total) =>
      log.debug({ service, added: added.slice(0, 20), removed: removed.slice(0, 20), addedCount: added.length, removedCount: removed.length, updated, total }, 'endpoints changed'),
  };
}
