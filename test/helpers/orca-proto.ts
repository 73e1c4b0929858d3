/**
 * The real ORCA protos as @grpc/grpc-js ships them, loaded with
 * @grpc/proto-loader (protobufjs underneath): the reference encoder and
 * decoder our own wire code is checked against.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const GRPC_PROTO = path.join(path.dirname(require.resolve('@grpc/grpc-js/package.json')), 'proto');

export const ORCA_PROTO_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(GRPC_PROTO, 'xds'), path.join(GRPC_PROTO, 'protoc-gen-validate')],
};

const def = protoLoader.loadSync('xds/service/orca/v3/orca.proto', ORCA_PROTO_OPTIONS);
const method = (def['xds.service.orca.v3.OpenRcaService'] as Record<string, protoLoader.MethodDefinition<unknown, unknown>>).StreamCoreMetrics!;

/** protobufjs encoding of an xds.data.orca.v3.OrcaLoadReport (snake_case field names). */
export function encodeReference(report: Record<string, unknown>): Buffer {
  return method.responseSerialize(report);
}

/** protobufjs decoding of an OrcaLoadReportRequest. */
export function decodeRequestReference(b: Buffer): { report_interval: { seconds: string; nanos: number } | null; request_cost_names: string[] } {
  return method.requestDeserialize(b) as never;
}
