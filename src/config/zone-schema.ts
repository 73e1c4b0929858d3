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
    /** auto: Kubernetes topology hints only; on: hints, else the endpoints' zones; off: no zone preference. */
    mode: z.enum(ZONE_MODES).default('auto'),
    /** Local load (share of capacity, 0–1) above which requests begin to spill to other zones. */
    spillThreshold: z.number().gt(0).max(1).default(0.7),
    /** In-flight requests per endpoint that count as a fully loaded endpoint. */
    endpointCapacity: z.number().gt(0).max(1_000_000).default(10),
    /** Fewer pickable endpoints than this in the local zone: balance over all zones. */
    minEndpoints: z.number().int().min(1).max(10_000).default(1),
  })
  .strict();

export type ZoneAwareConfig = z.output<typeof zoneAwareSchema>;
