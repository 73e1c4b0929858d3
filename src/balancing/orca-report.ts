/**
 * ORCA load reports (xDS `xds.data.orca.v3.OrcaLoadReport`): what a backend
 * says about its own load, in the three forms backends send it —
 *   - protobuf, the message itself: `endpoint-load-metrics-bin` (base64,
 *     what gRPC servers attach to trailers), `endpoint-load-metrics: BIN …`,
 *     and every message of the out-of-band StreamCoreMetrics stream;
 *   - `endpoint-load-metrics: TEXT cpu_utilization=0.3, named_metrics.foo=2`;
 *   - `endpoint-load-metrics: JSON {"cpu_utilization": 0.3}`.
 * Decoding fills a caller's record (reused per service, so a report costs
 * no object but the base64 buffer); the maps are filled only when the caller
 * asks for them. No protobuf library: the message has nine fields.
 */

/** The fields of OrcaLoadReport (proto3: absent means 0). */
export interface OrcaReport {
  /** Field 1. */
  cpuUtilization: number;
  /** Field 2. */
  memUtilization: number;
  /** Field 3 (deprecated uint64 rps); used as qps when rpsFractional is 0. */
  rps: number;
  /** Field 6. */
  rpsFractional: number;
  /** Field 7: errors per second. */
  eps: number;
  /** Field 9. */
  applicationUtilization: number;
  /** Field 4, when the caller wants it. */
  requestCost: Map<string, number> | null;
  /** Field 5, when the caller wants it. */
  utilization: Map<string, number> | null;
  /** Field 8, when the caller wants it. */
  namedMetrics: Map<string, number> | null;
}

/** A blank report; pass maps to collect the map fields. */
export function newOrcaReport(withMaps = false): OrcaReport {
  return {
    cpuUtilization: 0,
    memUtilization: 0,
    rps: 0,
    rpsFractional: 0,
    eps: 0,
    applicationUtilization: 0,
    requestCost: withMaps ? new Map() : null,
    utilization: withMaps ? new Map() : null,
    namedMetrics: withMaps ? new Map() : null,
  };
}

function reset(r: OrcaReport): void {
  r.cpuUtilization = 0;
  r.memUtilization = 0;
  r.rps = 0;
  r.rpsFractional = 0;
  r.eps = 0;
  r.applicationUtilization = 0;
  r.requestCost?.clear();
  r.utilization?.clear();
  r.namedMetrics?.clear();
}

/** Why a report could not be read (a malformed header or message). */
export class OrcaReportError extends Error {
  override readonly name = 'OrcaReportError';
}

// ------------------------------------------------------------------ protobuf

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Reads protobuf varints; `pos` advances (a module-level cursor: decoding is synchronous). */
let pos = 0;

function varint(b: Uint8Array, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new OrcaReportError('truncated varint');
    const byte = b[pos++]!;
    // Past 2^53 precision is lost; only the deprecated rps and lengths are varints here.
    result += (byte & 0x7f) * mul;
    if (byte < 0x80) return result;
    mul *= 128;
  }
  throw new OrcaReportError('varint longer than 10 bytes');
}

function double(b: Uint8Array, end: number): number {
  if (pos + 8 > end) throw new OrcaReportError('truncated double');
  const view = new DataView(b.buffer, b.byteOffset + pos, 8);
  pos += 8;
  return view.getFloat64(0, true);
}

function skip(b: Uint8Array, wire: number, end: number): void {
  if (wire === WIRE_VARINT) varint(b, end);
  else if (wire === WIRE_I64) pos += 8;
  else if (wire === WIRE_LEN) {
    const len = varint(b, end);
    pos += len;
  }
  else if (wire === WIRE_I32) pos += 4;
  else throw new OrcaReportError(`unsupported wire type ${wire}`);
  if (pos > end) throw new OrcaReportError('truncated field');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One map<string, double> entry (key = 1, value = 2) into `map`. */
function mapEntry(b: Uint8Array, end: number, map: Map<string, number>): void {
  let key = '';
  let value = 0;
  while (pos < end) {
    const tag = varint(b, end);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_LEN) {
      const len = varint(b, end);
      if (pos + len > end) throw new OrcaReportError('truncated map key');
      key = utf8.decode(b.subarray(pos, pos + len));
      pos += len;
    } else if (field === 2 && wire === WIRE_I64) {
      value = double(b, end);
    } else {
      skip(b, wire, end);
    }
  }
  map.set(key, value);
}

/**
 * Decodes an OrcaLoadReport message into `out` (cleared first). Unknown
 * fields are skipped, as protobuf readers must; a later occurrence of a
 * scalar field wins. Throws OrcaReportError on a malformed message.
 */
export function decodeOrcaReport(b: Uint8Array, out: OrcaReport): OrcaReport {
  reset(out);
  pos = 0;
  const end = b.length;
  while (pos < end) {
    const tag = varint(b, end);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new OrcaReportError('field number 0');
    if (wire === WIRE_I64 && field !== 3) {
      const v = double(b, end);
      switch (field) {
        case 1: out.cpuUtilization = v; break;
        case 2: out.memUtilization = v; break;
        case 6: out.rpsFractional = v; break;
        case 7: out.eps = v; break;
        case 9: out.applicationUtilization = v; break;
        default: break;
      }
    } else if (wire === WIRE_VARINT && field === 3) {
      out.rps = varint(b, end);
    } else if (wire === WIRE_LEN && (field === 4 || field === 5 || field === 8)) {
      const len = varint(b, end);
      const stop = pos + len;
      if (stop > end) throw new OrcaReportError('truncated map entry');
      const map = field === 4 ? out.requestCost : field === 5 ? out.utilization : out.namedMetrics;
      if (map === null) pos = stop;
      else mapEntry(b, stop, map);
      pos = stop;
    } else {
      skip(b, wire, end);
    }
  }
  return out;
}

// ------------------------------------------------------------------ text forms

/** Sets a metric named as in the proto (`cpu_utilization`, `named_metrics.foo`…); other names are ignored. */
function setByName(out: OrcaReport, name: string, value: number): void {
  switch (name) {
    case 'cpu_utilization': out.cpuUtilization = value; return;
    case 'mem_utilization': out.memUtilization = value; return;
    case 'application_utilization': out.applicationUtilization = value; return;
    case 'rps_fractional': out.rpsFractional = value; return;
    case 'eps': out.eps = value; return;
    default: break;
  }
  const dot = name.indexOf('.');
  if (dot < 0) return;
  const map = name.startsWith('named_metrics.') ? out.namedMetrics
    : name.startsWith('utilization.') ? out.utilization
    : name.startsWith('request_cost.') ? out.requestCost : null;
  if (map !== null) map.set(name.slice(dot + 1), value);
}

/**
 * The TEXT form's body: `key=value` pairs separated by commas (spaces
 * around them allowed). A value that is not a finite number is an error.
 */
export function parseOrcaText(text: string, out: OrcaReport): OrcaReport {
  reset(out);
  let start = 0;
  const n = text.length;
  while (start < n) {
    let comma = text.indexOf(',', start);
    if (comma < 0) comma = n;
    const eq = text.indexOf('=', start);
    if (eq < 0 || eq > comma) {
      if (text.slice(start, comma).trim() === '') {
        start = comma + 1;
        continue;
      }
      throw new OrcaReportError(`expected key=value, got "${text.slice(start, comma).trim()}"`);
    }
    const key = text.slice(start, eq).trim();
    const value = Number(text.slice(eq + 1, comma));
    if (!Number.isFinite(value) || text.slice(eq + 1, comma).trim() === '') throw new OrcaReportError(`"${key}" is not a number`);
    setByName(out, key, value);
    start = comma + 1;
  }
  return out;
}

const CAMEL = /[A-Z]/g;
function snake(c: string): string {
  return `_${c.toLowerCase()}`;
}

/** The JSON form's body: the proto's JSON mapping (snake_case or camelCase field names). */
export function parseOrcaJson(text: string, out: OrcaReport): OrcaReport {
  reset(out);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new OrcaReportError(`invalid JSON: ${(err as Error).message}`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new OrcaReportError('JSON report is not an object');
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    const key = k.replace(CAMEL, snake);
    if (typeof v === 'number' && Number.isFinite(v)) {
      if (key === 'rps') out.rps = v;
      else setByName(out, key, v);
    } else if (v !== null && typeof v === 'object' && (key === 'named_metrics' || key === 'utilization' || key === 'request_cost')) {
      for (const [name, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'number') setByName(out, `${key}.${name}`, x);
    }
  }
  return out;
}

/**
 * The value of an `endpoint-load-metrics` header: `TEXT …`, `JSON …` or
 * `BIN <base64>` (Envoy's prefixes; a value without one is read as TEXT).
 */
export function parseOrcaHeader(value: string, out: OrcaReport): OrcaReport {
  if (value.startsWith('BIN ')) return decodeOrcaReport(Buffer.from(value.slice(4), 'base64'), out);
  if (value.startsWith('JSON ')) return parseOrcaJson(value.slice(5), out);
  return parseOrcaText(value.startsWith('TEXT ') ? value.slice(5) : value, out);
}
