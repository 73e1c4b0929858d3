/**
 * The recording file of `switchyard tap --record` (read by `switchyard
 * simulate --replay`): JSON lines, a header first, one line per finished
 * request, and an end line. Described in docs/observability.md.
 *
 *   {"format":"switchyard-recording","version":1,"startMs":…,"services":[…]}
 *   {"t":12.345,"d":3.21,"svc":"web","ep":"10.0.0.7:8080","st":200,"o":"success"}
 *   {"end":true,"durationMs":60000,"requests":…,"dropped":0}
 *
 * A reader accepts any version-1 file, ignores fields it does not know (later
 * version-1 writers may add some) and refuses other versions.
 */

export const RECORDING_FORMAT = 'switchyard-recording';
export const RECORDING_VERSION = 1;

export interface RecordedEndpoint {
  id: string;
  weight: number;
  zone: string | null;
}

export interface RecordedService {
  name: string;
  /** Canonical policy name from the proxy's configuration, null when it could not be read. */
  policy: string | null;
  /** The service's balancer configuration (`{ policy, ...options }`, durations in ms), null when unknown. */
  balancer: Record<string, unknown> | null;
  endpoints: RecordedEndpoint[];
}

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: number;
  /** Wall-clock time of the recording's start (ISO 8601). */
  startedAt: string;
  /** The proxy's clock (epoch ms) at t = 0: request start times are relative to it. */
  startMs: number;
  /** The admin server recorded from. */
  source: string;
  /** The tap filter used (`{ service }` or `{}`). */
  filter: Record<string, string>;
  /** The proxy's zone (top-level `zone`), null when unset. */
  zone: string | null;
  services: RecordedService[];
}

export type Outcome = 'success' | 'failure' | 'cancelled' | 'refused';
const OUTCOMES: readonly string[] = ['success', 'failure', 'cancelled', 'refused'];

/** One finished request, as the file stores it (short keys: a minute of traffic is a few MB). */
export interface RecordedRequest {
  /** Start: ms since the header's `startMs` (negative for requests already in flight when recording began). */
  t: number;
  /** Duration at the proxy, ms (start to the last byte of the response). */
  d: number;
  /** Service name. */
  svc: string;
  /** Endpoint of the last attempt, '' when none was picked. */
  ep: string;
  /** HTTP status (0 when no response was sent). */
  st: number;
  /** gRPC status; absent when not gRPC or unknown. */
  gs?: number;
  /** Outcome as the proxy classified it; `failure` is what the replay counts as failed. */
  o: Outcome;
  /** Attempts (retries and hedges), absent when 1. */
  a?: number;
}

export interface RecordingEnd {
  end: true;
  /** Length of the recording, ms. */
  durationMs: number;
  requests: number;
  /** Events the proxy's tap did not send (its rate limit or a slow reader): the recording under-counts traffic. */
  dropped: number;
}

export interface Recording {
  header: RecordingHeader;
  requests: RecordedRequest[];
  /** Absent when the recording was cut short (the recorder was killed). */
  end: RecordingEnd | undefined;
}

export class RecordingError extends Error {
  constructor(message: string, readonly line: number) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = 'RecordingError';
  }
}

/** The request line for a finished request (the recorder's side). */
export function requestLine(r: RecordedRequest): string {
  return JSON.stringify(r);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function parseHeader(v: unknown): RecordingHeader {
  if (!isObject(v) || v.format !== RECORDING_FORMAT) throw new RecordingError(`not a recording: the first line must be a header with "format": "${RECORDING_FORMAT}"`, 1);
  if (v.version !== RECORDING_VERSION) throw new RecordingError(`version ${JSON.stringify(v.version)} is not supported (this build reads version ${RECORDING_VERSION})`, 1);
  if (!finite(v.startMs)) throw new RecordingError('header: startMs must be a number', 1);
  if (!Array.isArray(v.services)) throw new RecordingError('header: services must be a list', 1);
  const services = v.services.map((s: unknown, i: number): RecordedService => {
    if (!isObject(s) || typeof s.name !== 'string' || !Array.isArray(s.endpoints)) {
      throw new RecordingError(`header: services[${i}] needs a name and an endpoints list`, 1);
    }
    return {
      name: s.name,
      policy: typeof s.policy === 'string' ? s.policy : null,
      balancer: isObject(s.balancer) ? s.balancer : null,
      endpoints: s.endpoints.map((e: unknown, j: number): RecordedEndpoint => {
        if (!isObject(e) || typeof e.id !== 'string') throw new RecordingError(`header: services[${i}].endpoints[${j}] needs an id`, 1);
        return { id: e.id, weight: finite(e.weight) && e.weight >= 0 ? e.weight : 1, zone: typeof e.zone === 'string' ? e.zone : null };
      }),
    };
  });
  return {
    format: RECORDING_FORMAT,
    version: RECORDING_VERSION,
    startedAt: typeof v.startedAt === 'string' ? v.startedAt : '',
    startMs: v.startMs,
    source: typeof v.source === 'string' ? v.source : '',
    filter: isObject(v.filter) ? (v.filter as Record<string, string>) : {},
    zone: typeof v.zone === 'string' ? v.zone : null,
    services,
  };
}

function parseRequest(v: Record<string, unknown>, line: number): RecordedRequest {
  if (!finite(v.t)) throw new RecordingError('t (start, ms) must be a number', line);
  if (!finite(v.d) || v.d < 0) throw new RecordingError('d (duration, ms) must be a number >= 0', line);
  if (typeof v.svc !== 'string') throw new RecordingError('svc (service) must be a string', line);
  if (typeof v.ep !== 'string') throw new RecordingError('ep (endpoint) must be a string', line);
  if (typeof v.o !== 'string' || !OUTCOMES.includes(v.o)) throw new RecordingError(`o (outcome) must be one of ${OUTCOMES.join(', ')}`, line);
  const r: RecordedRequest = { t: v.t, d: v.d, svc: v.svc, ep: v.ep, st: finite(v.st) ? v.st : 0, o: v.o as Outcome };
  if (finite(v.gs) && v.gs >= 0) r.gs = v.gs;
  if (finite(v.a) && v.a > 1) r.a = v.a;
  return r;
}

/** Parse a recording's text. Throws RecordingError naming the line. */
export function parseRecording(text: string): Recording {
  let header: RecordingHeader | undefined;
  let end: RecordingEnd | undefined;
  const requests: RecordedRequest[] = [];
  let lineNo = 0;
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = text.length;
    const line = text.slice(pos, nl).trim();
    pos = nl + 1;
    lineNo++;
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      // A recorder killed mid-write leaves a partial last line: keep what came before.
      if (pos >= text.length && header !== undefined) break;
      throw new RecordingError(`invalid JSON: ${(e as Error).message}`, lineNo);
    }
    if (header === undefined) {
      header = parseHeader(v);
      continue;
    }
    if (!isObject(v)) throw new RecordingError('expected a JSON object', lineNo);
    if (end !== undefined) throw new RecordingError('data after the end line', lineNo);
    if (v.end === true) {
      end = {
        end: true,
        durationMs: finite(v.durationMs) ? v.durationMs : 0,
        requests: finite(v.requests) ? v.requests : requests.length,
        dropped: finite(v.dropped) ? v.dropped : 0,
      };
      continue;
    }
    requests.push(parseRequest(v, lineNo));
  }
  if (header === undefined) throw new RecordingError('empty file: no header line', 0);
  return { header, requests, end };
}
