/** The TLS benchmark's tables: medians, min-max and spread flags per variant, ratios to HAProxy. */
import { fmtNum, fmtRatio, machineMarkdown, median, ratio, table, type MachineInfo } from "../lib/report.js";
import type { TicketProbe, TlsParams } from "../lib/tls-setup.js";
import { rateArgs, type Options, type ScenarioId } from "./options.js";
import { CIPHER, LABEL, MODE_LABEL, type Mode, type RunSample, type SystemId } from "./types.js";

export interface Cell {
  system: SystemId;
  mode: Mode;
  runs: number;
  reqPerSec: number;
  cpuUsPerReq: number;
  cpuUsPerConn: number;
  /** Lowest and highest of the runs' CPU per request (requests) or per connection (handshakes). */
  cpuMin: number;
  cpuMax: number;
  handshakesPerCpuSec: number;
  connPerSec: number;
  proxyShare: number;
  foreign: number;
  accepted: number;
  handshakes: number;
  resumed: number | undefined;
  connections: number;
  tls: TlsParams;
  errors: string[];
}

export function summarize(samples: readonly RunSample[], scenario: ScenarioId, system: SystemId, mode: Mode): Cell {
  const all = samples.filter((x) => x.scenario === scenario && x.system === system && x.mode === mode);
  const s = all.filter((x) => x.ok);
  const resumed = s.map((x) => x.resumed);
  const perUnit = s.map((x) => (scenario === "requests" ? x.cpuUsPerReq : x.cpuUsPerConn));
  return {
    system,
    mode,
    runs: s.length,
    reqPerSec: median(s.map((x) => x.reqPerSec)),
    cpuUsPerReq: median(s.map((x) => x.cpuUsPerReq)),
    cpuUsPerConn: median(s.map((x) => x.cpuUsPerConn)),
    cpuMin: Math.min(...perUnit),
    cpuMax: Math.max(...perUnit),
    // The median of a ratio is the ratio of the median: keep the two consistent.
    handshakesPerCpuSec: 1e6 / median(s.map((x) => x.cpuUsPerConn)),
    connPerSec: median(s.map((x) => x.connPerSec)),
    proxyShare: median(s.map((x) => x.proxyShare)),
    foreign: median(s.map((x) => x.foreign)),
    accepted: s.reduce((n, x) => n + x.accepted, 0),
    handshakes: s.reduce((n, x) => n + x.handshakes, 0),
    resumed: resumed.every((x) => x !== undefined) ? resumed.reduce((n, x) => n + x!, 0) : undefined,
    connections: s.reduce((n, x) => n + x.connections, 0),
    tls: s.find((x) => x.tls.cipher)?.tls ?? {},
    errors: all.filter((x) => !x.ok).map((x) => x.error ?? "failed"),
  };
}

export const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : "-");
export const status = (c: Cell): string =>
  c.errors.length === 0 ? "ok" : `${c.runs === 0 ? "FAILED" : `${c.errors.length} run(s) failed`}: ${c.errors[0]!.replace(/\|/g, "/").slice(0, 100)}`;
export const spanUs = (r: [number, number]): string => (Number.isFinite(r[0]) ? `${fmtNum(r[0])}-${fmtNum(r[1])}` : "-");
/** Runs further apart than this ((max - min) / median) are flagged: the machine disturbed them, the median is less sure. */
export const SPREAD_FLAG = 0.2;
export const range = (c: Cell, digits: number): string => {
  if (c.runs === 0) return "-";
  const mid = [c.cpuUsPerReq, c.cpuUsPerConn].find((x) => Number.isFinite(x)) ?? NaN;
  const spread = (c.cpuMax - c.cpuMin) / mid;
  return `${fmtNum(c.cpuMin, digits)}-${fmtNum(c.cpuMax, digits)}${spread > SPREAD_FLAG ? ` (spread ${pct(spread)}!)` : ""}`;
};
export const tlsText = (t: TlsParams): string => (t.cipher ? `${t.protocol ?? "?"} ${t.cipher}, ${t.tempKey ?? "?"}, ALPN ${t.alpn ?? "-"}` : "-");

export interface Result {
  requests?: { cells: Cell[]; tlsVsHaproxy: number; h2cVsHaproxy: number; tlsOverH2c: Record<SystemId, number>; tlsH1VsHaproxy: number };
  resumption?: { cells: Cell[]; fullVsHaproxy: number; resumedVsHaproxy: number };
  handshakes?: {
    cells: Cell[];
    tlsVsHaproxy: number;
    h2cVsHaproxy: number;
    /** Proxy CPU per connection, TLS minus h2c: the handshake and the record layer of one request. */
    handshakeUs: Record<SystemId, number>;
    /** The same difference within each round (the runs of a round are minutes apart at most): lowest and highest. */
    handshakeUsRange: Record<SystemId, [number, number]>;
    handshakeVsHaproxy: number;
    mtlsVsHaproxy: number;
    /** mTLS minus TLS through the same relay: verifying the client certificate. */
    clientCertUs: Record<SystemId, number>;
  };
  probes: Record<string, TicketProbe>;
}

export function cellOf(cells: readonly Cell[], system: SystemId, mode: Mode): Cell | undefined {
  return cells.find((c) => c.system === system && c.mode === mode);
}

export function renderRequests(opts: Options, r: NonNullable<Result["requests"]>): string {
  const rows = r.cells.map((c) => {
    const hap = cellOf(r.cells, "haproxy", c.mode);
    const h2c = cellOf(r.cells, c.system, "h2c");
    return [
      LABEL[c.system],
      MODE_LABEL[c.mode],
      fmtNum(c.reqPerSec),
      fmtNum(c.cpuUsPerReq, 2),
      range(c, 2),
      fmtRatio(ratio(c.cpuUsPerReq, hap?.cpuUsPerReq)),
      c.mode === "h2c" ? "-" : fmtRatio(ratio(c.cpuUsPerReq, h2c?.cpuUsPerReq)),
      pct(c.proxyShare),
      pct(c.foreign),
      tlsText(c.tls),
      status(c),
    ];
  });
  return [
    `h2load -c ${opts.clients} -m ${opts.streams} -D ${opts.seconds} --warm-up-time=${opts.warmupSec}; CPU from the end of the warm-up (connections and handshakes are made in it) to h2load's exit. Medians of ${opts.rounds} interleaved round(s).`,
    "",
    table(["system", "clients", "req/s", "CPU us/req", "min-max", "CPU/req vs HAProxy", "CPU/req TLS vs h2c", "proxy CPU", "foreign CPU", "negotiated (h2load)", "status"], rows),
    "",
    `- CPU per request, Switchyard / HAProxy: TLS **${fmtRatio(r.tlsVsHaproxy)}**, h2c ${fmtRatio(r.h2cVsHaproxy)}`,
    `- CPU per request, TLS / h2c: Switchyard **${fmtRatio(r.tlsOverH2c.switchyard)}**, HAProxy ${fmtRatio(r.tlsOverH2c.haproxy)}`,
    `- CPU per request with HTTP/1.1 clients over TLS (h2load --h1, keep-alive), Switchyard / HAProxy: **${fmtRatio(r.tlsH1VsHaproxy)}**`,
  ].join("\n");
}

/** The leading columns of a handshake-scenario row: system, clients, rate, CPU per connection and its ratio to HAProxy's. */
function connectionCells(c: Cell, cells: readonly Cell[]): string[] {
  const hap = cellOf(cells, "haproxy", c.mode);
  return [
      LABEL[c.system],
      MODE_LABEL[c.mode],
      fmtNum(c.connPerSec),
      fmtNum(c.cpuUsPerConn, 1),
      range(c, 0),
      fmtNum(c.handshakesPerCpuSec),
      fmtRatio(ratio(c.handshakesPerCpuSec, hap?.handshakesPerCpuSec)),
  ];
}

export function renderHandshakes(opts: Options, r: NonNullable<Result["handshakes"]>): string {
  const effective = rateArgs(opts.rate).effective;
  const rows = r.cells.map((c) => {
    return [
      ...connectionCells(c, r.cells),
      pct(c.proxyShare),
      pct(c.foreign),
      `${fmtNum(c.connections)} / ${fmtNum(c.accepted)} / ${c.mode === "h2c" ? "-" : fmtNum(c.handshakes)} / ${c.resumed === undefined || c.mode === "h2c" ? "-" : fmtNum(c.resumed)}`,
      status(c),
    ];
  });
  const lines = [
    `h2load -c ${fmtNum(opts.connections)} -n ${fmtNum(opts.connections)} -m 1 at ${fmtNum(effective)} new connections/s (${rateArgs(opts.rate).args.join(" ")}): each connection makes one request and closes. "per CPU-second" = connections / proxy CPU seconds over the run (handshake, HTTP/2 setup, one proxied request, close). Medians of ${opts.rounds} interleaved round(s).`,
    "",
    table(
      ["system", "clients", "conn/s", "CPU us/conn", "min-max", "conn per CPU-second", "vs HAProxy", "proxy CPU", "foreign CPU", "made / accepted / handshakes / resumed", "status"],
      rows,
    ),
    "",
    `- Handshakes per CPU-second (TLS, one request each), Switchyard / HAProxy: **${fmtRatio(r.tlsVsHaproxy)}**; the same connections over h2c: ${fmtRatio(r.h2cVsHaproxy)}`,
    `- The handshake alone (CPU per TLS connection minus per h2c connection, medians): Switchyard ${fmtNum(r.handshakeUs.switchyard)} us, HAProxy ${fmtNum(r.handshakeUs.haproxy)} us (**${fmtRatio(r.handshakeVsHaproxy)}**), i.e. ${fmtNum(1e6 / r.handshakeUs.switchyard)} and ${fmtNum(1e6 / r.handshakeUs.haproxy)} handshakes per CPU-second; the same difference within each round: Switchyard ${spanUs(r.handshakeUsRange.switchyard)} us, HAProxy ${spanUs(r.handshakeUsRange.haproxy)} us`,
  ];
  if (Number.isFinite(r.mtlsVsHaproxy)) {
    lines.push(
      `- With client certificates (mTLS, through the relay), Switchyard / HAProxy: **${fmtRatio(r.mtlsVsHaproxy)}**; verifying the client certificate (mTLS minus TLS through the relay): Switchyard ${fmtNum(r.clientCertUs.switchyard)} us, HAProxy ${fmtNum(r.clientCertUs.haproxy)} us per connection`,
    );
  }
  return lines.join("\n");
}

export function renderResumption(opts: Options, r: NonNullable<Result["resumption"]>): string {
  const rows = r.cells.map((c) => {
    return [
      ...connectionCells(c, r.cells),
      `${fmtNum(c.connections)} / ${c.resumed === undefined ? "-" : fmtNum(c.resumed)}`,
      status(c),
    ];
  });
  return [
    `${fmtNum(opts.connections)} TLS 1.3 connections per run, 4 at a time, from a Node client (tls/handshake-client.ts) that closes each one when the first session ticket arrives, no request; "resumed": every connection offers the last ticket received. Medians of ${opts.rounds} interleaved round(s).`,
    "",
    table(["system", "handshakes", "conn/s", "CPU us/conn", "min-max", "per CPU-second", "vs HAProxy", "made / resumed", "status"], rows),
    "",
    `- Full handshakes per CPU-second, Switchyard / HAProxy: **${fmtRatio(r.fullVsHaproxy)}**; resumed: **${fmtRatio(r.resumedVsHaproxy)}**`,
  ].join("\n");
}

export function render(opts: Options, result: Result, samples: readonly RunSample[]): string {
  const parts: string[] = [];
  if (result.requests) parts.push("### Long-lived connections: CPU per request", "", renderRequests(opts, result.requests), "");
  if (result.handshakes) parts.push("### New connections: handshakes per CPU-second", "", renderHandshakes(opts, result.handshakes), "");
  if (result.resumption) parts.push("### Session resumption: full and resumed handshakes per CPU-second", "", renderResumption(opts, result.resumption), "");
  const probes = Object.entries(result.probes).map(([name, p]) =>
    `${name}: ${p.ok ? `${p.protocol} ${p.cipher}, ${p.group ?? "?"}, ALPN ${p.alpn ?? "-"}, ${p.tickets} session ticket(s) per handshake` : `probe failed: ${p.error}`}`,
  );
  parts.push(`Session tickets (one connection per TLS port, Node's client offering ${CIPHER} only): ${probes.join("; ")}.`, "");
  parts.push(
    "Per run:",
    "",
    table(
      ["scenario", "round", "system", "clients", "req/s", "CPU us/req", "CPU us/conn", "proxy CPU", "core busy (0 / 1)", "foreign CPU", "attempts", "status"],
      samples.map((x) => [
        x.scenario,
        String(x.round),
        LABEL[x.system],
        MODE_LABEL[x.mode],
        fmtNum(x.reqPerSec),
        x.scenario === "requests" ? fmtNum(x.cpuUsPerReq, 2) : "-",
        x.scenario !== "requests" ? fmtNum(x.cpuUsPerConn, 1) : "-",
        pct(x.proxyShare),
        x.coreBusy.map(pct).join(" / "),
        pct(x.foreign),
        String(x.attempts),
        x.ok ? "ok" : `FAILED: ${(x.error ?? "").replace(/\|/g, "/").slice(0, 100)}`,
      ]),
    ),
  );
  return parts.join("\n");
}

export function docMarkdown(machine: MachineInfo, command: string, opts: Options, pinned: string, body: string): string {
  return `## TLS: Switchyard vs HAProxy terminating the same TLS

Machine:

${machineMarkdown(machine)}

Command: \`${command}\`

What it measures: the CPU each proxy spends terminating TLS, beside the same
proxy serving h2c, in one run. Both proxies present one ECDSA P-256
certificate (made with openssl at the start, signed by a CA made with it),
accept TLS 1.3 only and negotiate ALPN h2; h2load offers only
${CIPHER} (\`--tls13-ciphers\`, HAProxy also allows only that suite:
\`ciphersuites\`), and both pick X25519, which the table shows as h2load
reports it. Switchyard: \`run --config\`, listeners \`protocol: http2\` with
\`tls: { cert, key, minVersion: TLSv1.3, alpn: [h2] }\` (and \`clientCa\` for
mTLS), one h2c listener, the admin server on. HAProxy: \`nbthread 1\`, one
frontend per kind of client (\`bind ... ssl crt PEM alpn h2 ssl-min-ver
TLSv1.3 ciphersuites ${CIPHER} proto h2\`, mTLS with \`ca-file ... verify
required\`), the settings of the proxy benchmark otherwise. Both proxy h2c to
the same nginx (2 ports, "ok"), round-robin. ${pinned}.

- CPU of a proxy: the run time of its threads over the measured window, from
  \`/proc/PID/task/*/schedstat\` (the time utime+stime count, without their
  rounding to 10 ms ticks, which would be several percent of a run here; the
  JSON results keep utime+stime beside it).
- Long-lived connections: CPU per request (proxy CPU over the measured
  window / requests), TLS and h2c. h2load and nginx share one core and
  each proxy has the other, so req/s is capped by whichever saturates first
  ("proxy CPU" shows how close each proxy came): CPU per request is the
  figure, req/s is context.
- New connections: every connection does one full handshake. h2load keeps
  no session to resume (HAProxy's \`ssl_reused_sess\` stays 0 for the same
  clients; Switchyard counts handshakes, \`switchyard_tls_handshakes_total\`,
  not resumptions apart), and both proxies issue session tickets after each
  handshake, which nobody uses: that work is in the figures, as it is for
  real clients. "made / accepted / handshakes / resumed" are h2load's
  connections and the proxy's own counters over the runs. h2load cannot
  present a client certificate, so mTLS runs go through a relay: HAProxy on
  core 1 as a TLS client (one TLS connection to the proxy per h2c connection
  from h2load, \`no-ssl-reuse\`, \`http-reuse never\`, the client certificate
  from the same CA). The relay's TLS without a client certificate is measured
  too, so the cost of the client certificate is a difference between two runs
  with the same client.
- "foreign CPU": CPU the cores gave to processes outside the bench during a
  run (\`/proc/stat\` busy time minus the bench's processes), in share of one
  core. A run above ${pct(opts.maxForeign)} is measured again (at most ${opts.retries} more times
  per run, ${opts.rounds * 2} in all), keeping the least disturbed attempt.

${body}
`;
}

