/**
 * Zones: the proxy's own zone (top-level `zone`), an endpoint's zone
 * (`services[].endpoints[].zone`; discovery sources bring theirs) and how a
 * service prefers endpoints in the proxy's zone (`services[].zoneAware`).
 */
import { z } from 'zod';

/** Kubernetes label values and cloud zone names alike: no spaces, at most 253 characters. */
export const zoneNameSchema = z.string().min(1).max(253).regex(/^\S+$/, 'a zone name has no spaces (e.g. "us-east-1a")');

export const ZONE_MODES = ['off', 'auto', 'on'] as const;

export const zoneAwareSchema = z
  .object({
    mode: z.enum(ZONE_MODES).default('auto').describe(
      '`auto`: honour Kubernetes topology hints (`hints.forZones`) when every endpoint has them, as kube-proxy and Linkerd do; no zone preference otherwise. `on`: hints when every endpoint has them, else the endpoints\' own zones. `off`: no zone preference (the zone counts are still kept).',
    ),
    spillThreshold: z.number().gt(0).max(1).default(0.7).describe(
      'Local load (1 = every local endpoint at `endpointCapacity`) above which requests start to spill: the spilled share is `(load − threshold) / (1 − threshold)`, all of them at load 1. A spilled request is balanced over every zone by the service\'s policy.',
    ),
    endpointCapacity: z.number().gt(0).max(1_000_000).default(10).describe(
      'In-flight requests per endpoint that count as a fully loaded endpoint. Set it to what one endpoint serves at once (its worker or concurrency limit); long-lived streams count as in flight, so services of streams need it higher. When every local endpoint reports a utilization (ORCA), the higher of the two loads counts.',
    ),
    minEndpoints: z.number().int().min(1).max(10_000).default(1).describe(
      'Fewer pickable endpoints than this in the local zone: balance over every zone. A local zone without any pickable endpoint never strands requests.',
    ),
  })
  .strict();

export type ZoneAwareConfig = z.output<typeof zoneAwareSchema>;
