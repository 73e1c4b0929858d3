/**
 * The proxy benchmark's tables: every figure as median (min-max) over the
 * runs, flagged when its spread is above the limit, and ratios against
 * HAProxy tuned (the medians' ratio). Also the generated section of
 * docs/benchmarks.md.
 */
import { fmtMiB, fmtNum, fmtRatio, fmtUs, machineMarkdown, ratio, table, type MachineInfo } from "../lib/report.js";
import { fmtSpread, spreadFootnote, type Spread } from "../lib/stats.js";
import { BASELINE, type SystemId } from "../lib/systems.js";
import type { Figure, MemoryResult, ScenarioResult, Sweep, SweepPoint, SystemResult } from "./results.js";

const VS = "vs HAProxy tuned";

/** Set when a table shows a flagged figure, for the footnote under it. */
let shownFlag = false;

function shown(s: Spread | undefined, fmt: (n: number) => string): string {
  if (s?.flagged) shownFlag = true;
  return fmtSpread(s, fmt);
}

function find(systems: readonly SystemResult[], id: SystemId): SystemResult | undefined {
  const s = systems.find((x) => x.id === id);
  return s && !s.error && !s.skipped ? s : undefined;
}

function measured(s: SystemResult): boolean {
  return !s.error && !s.skipped;
}

function status(s: SystemResult): string {
  if (s.skipped) return `skipped: ${s.skipped}`;
  if (s.error) return `FAILED: ${s.error.replace(/\|/g, "/").slice(0, 160)}`;
  return s.notes.length ? s.notes.join("; ").replace(/\|/g, "/") : "ok";
}

/** A figure of a row as "median (min-max)", "-" for a row not measured. */
function fig(s: SystemResult, f: Figure, fmt: (n: number) => string): string {
  return measured(s) ? shown(s.stats[f], fmt) : "-";
}

const num = (digits: number) => (n: number) => fmtNum(n, digits);

/** One row per system: its label, the scenario's own columns, RSS idle and after, status. */
function systemsTable(systems: readonly SystemResult[], headers: readonly string[], cells: (s: SystemResult) => string[]): string {
  const rows = systems.map((s) => [s.label, ...cells(s), fmtMiB(s.rssIdleKb), fmtMiB(s.rssAfterKb), status(s)]);
  return table(["system", ...headers, "RSS idle", "RSS after", "status"], rows);
}

/** The ratio of a row's median of `f` to `base`'s: "-" for `base` itself, rows not measured and (costs) direct. */
function vsFig(s: SystemResult, base: SystemResult | undefined, f: Figure, cost: boolean): string {
  if (!measured(s) || !base || s.row === base.row || (cost && s.id === "direct")) return "-";
  return fmtRatio(ratio(s.stats[f].median, base.stats[f].median));
}

function throughputTable(sc: ScenarioResult): string {
  const hap = find(sc.systems, BASELINE);
  const dir = find(sc.systems, "direct");
  return systemsTable(
    sc.systems,
    ["req/s", "req/s vs direct", `req/s ${VS}`, "CPU us/req", `CPU/req ${VS}`, "user us/req", `user/req ${VS}`, "CPU/req vs backend"],
    (s) => [
      fig(s, "reqPerSec", num(0)),
      vsFig(s, dir, "reqPerSec", false),
      vsFig(s, hap, "reqPerSec", false),
      fig(s, "cpuUsPerReq", num(1)),
      vsFig(s, hap, "cpuUsPerReq", true),
      fig(s, "userUsPerReq", num(1)),
      vsFig(s, hap, "userUsPerReq", true),
      vsFig(s, dir, "cpuUsPerReq", true),
    ],
  );
}

function largeTable(sc: ScenarioResult): string {
  const hap = find(sc.systems, BASELINE);
  const dir = find(sc.systems, "direct");
  return systemsTable(sc.systems, ["MiB/s", "vs direct", VS, "CPU ms/MiB", `CPU/MiB ${VS}`], (s) => [
    fig(s, "mbPerSec", num(0)),
    vsFig(s, dir, "mbPerSec", false),
    vsFig(s, hap, "mbPerSec", false),
    fig(s, "cpuMsPerMiB", num(2)),
    vsFig(s, hap, "cpuMsPerMiB", true),
  ]);
}

/** "+1.23ms" / "-45us": a - b, "-" when either is missing. */
function plus(a: number, b: number | undefined): string {
  if (b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) return "-";
  return `${a >= b ? "+" : "-"}${fmtUs(Math.abs(a - b))}`;
}

function ratesTable(sc: ScenarioResult): string {
  const rows: string[][] = [];
  for (const r of sc.rates ?? []) {
    const dir = find(r.systems, "direct");
    const hap = find(r.systems, BASELINE);
    for (const s of r.systems) {
      const ok = measured(s) && s.id !== "direct";
      rows.push([
        fmtNum(r.rate),
        s.label,
        fig(s, "reqPerSec", num(0)),
        fig(s, "p50Us", fmtUs),
        fig(s, "p99Us", fmtUs),
        fig(s, "p999Us", fmtUs),
        ok ? plus(s.p99Us, dir?.p99Us) : "-",
        ok ? plus(s.p999Us, dir?.p999Us) : "-",
        ok && s.id !== BASELINE ? plus(s.p99Us, hap?.p99Us) : "-",
        fig(s, "cpuUsPerReq", num(1)),
        vsFig(s, hap, "cpuUsPerReq", true),
        fig(s, "userUsPerReq", num(1)),
        vsFig(s, hap, "userUsPerReq", true),
        status(s),
      ]);
    }
  }
  return table(
    [
      "target req/s",
      "system",
      "req/s",
      "p50",
      "p99",
      "p99.9",
      "p99 - direct",
      "p99.9 - direct",
      "p99 - HAProxy tuned",
      "CPU us/req",
      `CPU/req ${VS}`,
      "user us/req",
      `user/req ${VS}`,
      "status",
    ],
    rows,
  );
}

/** Several loads on the same systems (scenarios 10 and 11). */
function loadsTable(sc: ScenarioResult): string {
  const rows: string[][] = [];
  for (const l of sc.loads ?? []) {
    const hap = find(l.systems, BASELINE);
    for (const s of l.systems) {
      rows.push([
        l.load,
        s.label,
        fig(s, "reqPerSec", num(0)),
        vsFig(s, hap, "reqPerSec", false),
        fig(s, "cpuUsPerReq", num(1)),
        vsFig(s, hap, "cpuUsPerReq", true),
        fig(s, "userUsPerReq", num(1)),
        vsFig(s, hap, "userUsPerReq", true),
        fmtMiB(s.rssAfterKb),
        status(s),
      ]);
    }
  }
  return table(
    ["load", "system", "req/s", `req/s ${VS}`, "CPU us/req", `CPU/req ${VS}`, "user us/req", `user/req ${VS}`, "RSS after", "status"],
    rows,
  );
}

/** A row's CPU per request at `point` over its own at the sweep's first point. */
function growth(sw: Sweep, point: SweepPoint, row: string): number {
  const at = (p: SweepPoint) => p.systems.find((s) => s.row === row && measured(s))?.cpuUsPerReq;
  return ratio(at(point), at(sw.points[0]!));
}

function sweepTable(sw: Sweep): string {
  const rows = sw.points.flatMap((p) => {
    const hap = find(p.systems, BASELINE);
    return p.systems.map((s) => {
      const isBase = s.id === BASELINE;
      return [
        fmtNum(p.value),
        p.detail,
        s.label.replace(/\/\d+ep$/, ""),
        fig(s, "reqPerSec", num(0)),
        fig(s, "cpuUsPerReq", num(1)),
        fmtRatio(growth(sw, p, s.row)),
        vsFig(s, hap, "cpuUsPerReq", true),
        isBase || !hap ? "-" : fmtRatio(ratio(growth(sw, p, s.row), growth(sw, p, hap.row))),
        status(s),
      ];
    });
  });
  return table(
    [
      sw.valueHeader,
      sw.detailHeader,
      "system",
      "req/s",
      "CPU us/req",
      "CPU/req vs own first point",
      `CPU/req ${VS}`,
      "growth vs HAProxy's growth",
      "status",
    ],
    rows,
  );
}

/** "0.97x-1.38x": the smallest and largest of the finite ratios ("-" when none is). */
function fmtRange(ratios: readonly number[]): string {
  const finite = ratios.filter((r) => Number.isFinite(r));
  if (finite.length === 0) return "-";
  return `${fmtRatio(Math.min(...finite))}-${fmtRatio(Math.max(...finite))}`;
}

/** Each row's CPU per request over the sweep against its first point, next to the 10% target. */
function sweepSummary(sw: Sweep): string {
  const first = sw.points[0]!.systems;
  const ranges = first.map((s) => `${s.label.replace(/\/\d+ep$/, "")} ${fmtRange(sw.points.map((p) => growth(sw, p, s.row)))}`);
  const hap = first.find((s) => s.id === BASELINE);
  const beyond = first
    .filter((s) => s.id === "switchyard" && hap)
    .map((s) => `${s.label.replace(/\/\d+ep$/, "")} ${fmtRange(sw.points.map((p) => ratio(growth(sw, p, s.row), growth(sw, p, hap!.row))))}`);
  return (
    `CPU per request against the first point, range over the points: ${ranges.join(", ")}` +
    (beyond.length ? `; growth / HAProxy tuned's growth: ${beyond.join(", ")}` : "") +
    `. Target for Switchyard: within 0.90x-1.10x.`
  );
}

function sweepTables(sc: ScenarioResult): string {
  return (sc.sweeps ?? [])
    .map((sw) => [`#### ${sw.title}`, `${sw.description}.`, sweepTable(sw), sweepSummary(sw), ...sw.notes].join("\n\n"))
    .join("\n\n");
}

/** "primary 0.4%, worker 0 49.9%, ..." */
function fmtCpuShare(share: Record<string, number> | undefined): string {
  if (!share) return "-";
  return Object.entries(share)
    .map(([role, fraction]) => `${role} ${Number.isFinite(fraction) ? (fraction * 100).toFixed(1) : "-"}%`)
    .join(", ");
}

/** Scenario 9: every row against the first (one worker). */
function workersTable(sc: ScenarioResult): string {
  const first = sc.systems[0] && measured(sc.systems[0]) ? sc.systems[0] : undefined;
  const vs = `vs ${first?.label ?? "first"}`;
  return systemsTable(sc.systems, ["req/s", `req/s ${vs}`, "CPU us/req", `CPU/req ${vs}`, "CPU share per process"], (s) => [
    fig(s, "reqPerSec", num(0)),
    measured(s) ? fmtRatio(ratio(s.reqPerSec, first?.reqPerSec)) : "-",
    fig(s, "cpuUsPerReq", num(1)),
    measured(s) ? fmtRatio(ratio(s.cpuUsPerReq, first?.cpuUsPerReq)) : "-",
    fmtCpuShare(measured(s) ? s.cpuShare : undefined),
  ]);
}

/** Scenario 12: memory in MiB, median (min-max) over fresh starts. */
function memoryTable(sc: ScenarioResult): string {
  const mib = (kb: number) => (kb / 1024).toFixed(1);
  const rows = (sc.memory ?? []).map((m: MemoryResult) => [
    m.label,
    shown(m.idleRss, mib),
    shown(m.idleAnon, mib),
    shown(m.idleFile, mib),
    shown(m.afterRss, mib),
    shown(m.afterAnon, mib),
    shown(m.requests, num(0)),
    m.error ? `FAILED: ${m.error.slice(0, 160)}` : "ok",
  ]);
  return table(
    ["system", "RSS idle MiB", "anon idle", "file idle", "RSS after load MiB", "anon after", "requests", "status"],
    rows,
  );
}

/** Scenarios whose results do not fit the throughput table. */
const SCENARIO_TABLES: Partial<Record<number, (sc: ScenarioResult) => string>> = {
  3: ratesTable,
  5: largeTable,
  8: sweepTables,
  9: workersTable,
  10: loadsTable,
  11: loadsTable,
  12: memoryTable,
};

export function scenarioText(sc: ScenarioResult): string {
  shownFlag = false;
  const body = (SCENARIO_TABLES[sc.id] ?? throughputTable)(sc);
  const notes = [spreadFootnote(shownFlag), ...(sc.notes ?? [])].filter(Boolean).map((n) => `\n${n}\n`).join("");
  return (
    `### ${sc.id}. ${sc.title}\n\n${sc.description}. Median (min-max) of ${sc.runs} interleaved run(s); measured ${sc.date}.\n\n` +
    `${body}\n${notes}`
  );
}

export interface ResultsFile {
  bench: "proxies";
  machine: MachineInfo;
  command: string;
  /** Which core each process ran on, or the warning that nothing was pinned. */
  pinning?: string;
  scenarios: Record<string, ScenarioResult>;
}

export function docMarkdown(res: ResultsFile): string {
  const scs = Object.values(res.scenarios).sort((a, b) => a.id - b.id);
  return `## Proxies: Switchyard vs HAProxy vs nginx

Machine (last run):

${machineMarkdown(res.machine)}
- Cores: ${res.pinning ?? "pinning not recorded"}

Command: \`${res.command}\`

How to read: every figure is the median of interleaved runs (A,B,C,...,A,B,C,...,
each system warmed once) with the smallest and largest run in parentheses;
"±" marks a figure whose spread, (max - min) / median, is above 20% (also
\`flagged\` in bench/results/latest.json). "CPU us/req" is utime+stime of the
system's process tree (/proc/PID/stat) over a run divided by the requests
completed; for "direct" it is the backend's own CPU. "user us/req" is the
utime part alone: the program's own code, without the kernel's work for its
system calls. On a virtual machine a system call costs several times what
it costs on bare metal, so a proxy that makes fewer calls per request looks
cheaper here than it would there; the user column is the comparison that
carries over (see "How far the ratios carry" below). Ratios are of medians,
against HAProxy tuned. HAProxy and nginx run twice: "default" is the plain
configuration a user writes from their documentation (HAProxy: \`mode http\`,
h2 bind and servers, no \`tune.*\` lines, default \`http-reuse\`; nginx:
default keep-alive settings plus the minimum to pool upstream connections,
\`keepalive 32\`), "tuned" adds the benchmark's settings (HAProxy
\`tune.h2.*\`, \`tune.bufsize\`, \`http-reuse always\`; nginx long-lived client
and upstream connections, 1,000 streams per connection). All proxies run one
thread (HAProxy nbthread 1, nginx one worker, master off). HTTP/2 cleartext
on both sides unless a scenario says otherwise; nginx proxies h2 with
grpc_pass, HTTP/1.1 with proxy_pass. req/s is capped by the shared CPUs.

${scs.map(scenarioText).join("\n")}`;
}
