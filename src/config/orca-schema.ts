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
    inband: z.boolean().default(true).describe(
      'Read `endpoint-load-metrics-bin` (base64 protobuf, what gRPC servers send in trailers) and `endpoint-load-metrics` (`TEXT k=v, …`, `JSON {…}`, `BIN <base64>`) from response headers and trailers.',
    ),
    outOfBand: z.boolean().default(false).describe(
      "Open `xds.service.orca.v3.OpenRcaService/StreamCoreMetrics` to every endpoint (A58's enableOobLoadReport), over its pooled HTTP/2 connection; reopened with `reconnectBackoff` when it ends; cancelled when the endpoint leaves. Needs `protocol: http2`.",
    ),
    reportingPeriod: positiveDurationSchema.default('10s').describe(
      "The report interval asked of endpoints out-of-band (gRPC's `oobReportingPeriod`).",
    ),
    blackoutPeriod: durationSchema.default('10s').describe(
      "A weight counts only this long after the endpoint's first usable report (and again after it reconnects or its weight expired). `0` = at once.",
    ),
    weightExpirationPeriod: positiveDurationSchema.default('3m').describe(
      'A weight with no new report for this long stops counting; the endpoint gets the mean weight.',
    ),
    weightUpdatePeriod: duration({ min: 100 }).default('1s').describe(
      'How often `weighted-round-robin` recomputes the weights from the latest reports (at least 100ms, as in gRPC).',
    ),
    errorUtilizationPenalty: z.number().min(0).finite().default(1).describe(
      'weight = qps / (utilization + eps / qps × this): errors make an endpoint look busier.',
    ),
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
