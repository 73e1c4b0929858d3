/**
 * `services[].orca`: load reports from the endpoints themselves (ORCA,
 * xds.data.orca.v3.OrcaLoadReport), read from responses (in-band) and/or
 * streamed by each endpoint's OpenRcaService (out-of-band), turned into
 * balancing weights as gRFC A58 says. Key names follow gRPC's
 * weighted_round_robin configuration, in camelCase.
 */
import { z } from 'zod';
import { duration, durationSchema, positiveDurationSchema } from './duration.js';

export const orcaSchema = z
  .object({
    /** Read `endpoint-load-metrics(-bin)` from response headers and trailers. */
    inband: z.boolean().default(true),
    /** Open OpenRcaService/StreamCoreMetrics to every endpoint (A58's enableOobLoadReport). */
    outOfBand: z.boolean().default(false),
    /** The report interval asked of endpoints out-of-band (A58's oobReportingPeriod). */
    reportingPeriod: positiveDurationSchema.default('10s'),
    /** A weight counts only this long after an endpoint's first usable report. */
    blackoutPeriod: durationSchema.default('10s'),
    /** A weight without a new report for this long stops counting. */
    weightExpirationPeriod: positiveDurationSchema.default('3m'),
    /** How often weighted round robin recomputes weights from the reports (at least 100ms, as in gRPC). */
    weightUpdatePeriod: duration({ min: 100 }).default('1s'),
    /** Errors per second count as this much utilization per query per second. */
    errorUtilizationPenalty: z.number().min(0).finite().default(1),
  })
  .strict();

export type OrcaConfig = z.output<typeof orcaSchema>;

/** Checks across keys of one service: the out-of-band stream is gRPC, which needs HTTP/2 endpoints. */
export function orcaCrossCheck(service: Record<string, unknown>): { path: string[]; message: string } | undefined {
  const orca = service.orca;
  if (orca === null || typeof orca !== 'object' || (orca as Record<string, unknown>).outOfBand !== true) return undefined;
  if (service.protocol !== 'http1') return undefined;
  return { path: ['orca', 'outOfBand'], message: 'needs protocol http2: the out-of-band load report stream is gRPC' };
}
