/**
 * Reading the proxy's /metrics and the invariants that must hold once
 * nothing is in flight:
 *
 * - `switchyard_requests_in_flight` is 0 for every service;
 * - `switchyard_http2_open_streams{side}` is 0 on both sides;
 * - HTTP/2 flow-control credit, `switchyard_http2_flow_credit_bytes{side,
 *   kind}`, summed over each side's open connections: on every connection
 *   window + unacked + outstanding = configured, so with nothing in flight
 *   `outstanding` and `leaked` are 0 and window + unacked = configured. A
 *   connection that lost credit (received DATA it never returned with
 *   WINDOW_UPDATE) shows it here long before it wedges.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`; undefined when there are none. */
export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number | undefined {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : undefined;
}

export const FLOW_CREDIT = 'switchyard_http2_flow_credit_bytes';
export const OPEN_STREAMS = 'switchyard_http2_open_streams';
export const IN_FLIGHT = 'switchyard_requests_in_flight';
export const SIDES = ['downstream', 'upstream'] as const;
export const KINDS = ['configured', 'window', 'unacked', 'outstanding', 'leaked'] as const;

export interface Quiescence {
  inFlight: number;
  /** side → kind → bytes; undefined when the proxy does not export the gauges. */
  credit: Record<string, Record<string, number>> | undefined;
  /** side → open streams; undefined when not exported. */
  openStreams: Record<string, number> | undefined;
  /** Everything that is not as it must be at rest, one line each. */
  problems: string[];
  /** Gauges the proxy does not export. */
  missing: string[];
}

export function readQuiescence(samples: readonly Sample[]): Quiescence {
  const problems: string[] = [];
  const missing: string[] = [];
  const inFlight = sumOf(samples, IN_FLIGHT) ?? 0;
  if (inFlight !== 0) problems.push(`${IN_FLIGHT} = ${inFlight} (want 0)`);

  let openStreams: Record<string, number> | undefined = {};
  for (const side of SIDES) {
    const v = sumOf(samples, OPEN_STREAMS, { side });
    if (v === undefined) {
      openStreams = undefined;
      break;
    }
    openStreams[side] = v;
    if (v !== 0) problems.push(`${OPEN_STREAMS}{side="${side}"} = ${v} (want 0)`);
  }
  if (openStreams === undefined) missing.push(OPEN_STREAMS);

  let credit: Record<string, Record<string, number>> | undefined = {};
  for (const side of SIDES) {
    const k: Record<string, number> = {};
    for (const kind of KINDS) {
      const v = sumOf(samples, FLOW_CREDIT, { side, kind });
      if (v === undefined) {
        credit = undefined;
        break;
      }
      k[kind] = v;
    }
    if (credit === undefined) break;
    credit[side] = k;
    const at = `${FLOW_CREDIT}{side="${side}"}`;
    if (k.leaked !== 0) problems.push(`${at} leaked = ${k.leaked} (want 0)`);
    if (k.outstanding !== 0) problems.push(`${at} outstanding = ${k.outstanding} (want 0)`);
    if (k.window! + k.unacked! !== k.configured) {
      problems.push(`${at} window ${k.window} + unacked ${k.unacked} = ${k.window! + k.unacked!} != configured ${k.configured}`);
    }
  }
  if (credit === undefined) missing.push(FLOW_CREDIT);
  return { inFlight, credit, openStreams, problems, missing };
}
