/**
 * Scenario 8: CPU per request of HAProxy (tuned) and Switchyard against the
 * number of endpoints and of client connections, every point of a sweep
 * measured in one interleaving.
 */
import { openFileLimit } from "../lib/processes.js";
import { fmtNum } from "../lib/report.js";
import { SYSTEM_LABEL, type Endpoint, type SwitchyardLaunch, type SystemId } from "../lib/systems.js";
import { h2, nginxBackends } from "./backends.js";
import type { Options } from "./options.js";
import type { ScenarioResult, Sweep } from "./results.js";
import { runSystems, selectedSystems, type SystemSpec } from "./run-systems.js";

/** Scenario 8 compares these (Switchyard once per Node); the --systems selection may narrow it. */
const SWEPT: readonly SystemId[] = ["haproxy-tuned", "switchyard"];

function sweptSystems(opts: Options, switchyard: SwitchyardLaunch = {}): SystemSpec[] {
  const specs = selectedSystems(opts, switchyard, SWEPT);
  if (specs.length === 0) throw new Error("scenario 8 measures haproxy-tuned and switchyard; neither is in --systems");
  return specs;
}

/** -D of each scenario-8 run: at most 2 s, so that both sweeps with 5 runs fit in about 4 minutes. */
function sweepDurationSec(opts: Options): number {
  return Math.min(opts.durationSec, 2);
}

/**
 * Endpoint sweep: the same load through 10, 100 and 1,000 endpoints (the
 * first N ports of one nginx process). All points run side by side and are
 * measured in one interleaving, so that drift of the shared machine does
 * not show up as growth.
 */
async function sweepEndpoints(opts: Options): Promise<Sweep> {
  const counts = [10, 100, 1000];
  const clients = 8;
  const streams = 100;
  const duration = sweepDurationSec(opts);
  const ids = sweptSystems(opts, { useConfig: true });
  const setup = await nginxBackends(Math.max(...counts));
  try {
    const specs = counts.flatMap((n) =>
      ids.map((spec) => ({
        ...spec,
        label: `${spec.label ?? SYSTEM_LABEL[spec.id]}/${n}ep`,
        backends: setup.backends.slice(0, n),
      })),
    );
    const [results] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients, streams, durationSec: duration }),
      { specs, maxConnections: 16_384 },
    );
    return {
      key: "endpoints",
      title: "CPU per request vs endpoints",
      description:
        `h2load -c ${clients} -m ${streams} -D ${duration} at every point; one nginx process listening on ${fmtNum(Math.max(...counts))} loopback ports, ` +
        `the first N of them are the endpoints; round-robin; Switchyard via run --config at every point. ` +
        `Round-robin spreads the same ${clients * streams} requests in flight over more upstream connections as N grows ` +
        `(column "in flight per endpoint"): fewer requests share a write or read system call, a cost every proxy pays. ` +
        `HAProxy's growth shows that shared part; "growth vs HAProxy's growth" is what is left for Switchyard`,
      h2load: `-c ${clients} -m ${streams} -D ${duration} (endpoints ${counts.join(", ")})`,
      valueHeader: "endpoints",
      detailHeader: "in flight per endpoint",
      points: counts.map((n, i) => ({
        value: n,
        detail: fmtNum((clients * streams) / n, 1),
        systems: results!.slice(i * ids.length, (i + 1) * ids.length),
      })),
      notes: [],
    };
  } finally {
    await setup.stop();
  }
}

/** Client connections x streams per connection of the connection sweep. */
const CONNECTION_POINTS = [
  { clients: 1, streams: 100 },
  { clients: 10, streams: 10 },
  { clients: 100, streams: 1 },
  { clients: 1000, streams: 1 },
];

/** Open files a proxy needs for `clients` client connections (two descriptors each, and some spare). */
function openFilesNeeded(clients: number): number {
  return clients * 2 + 256;
}

/**
 * Connection sweep: 1, 10, 100 and 1,000 client connections at 100
 * requests in flight (1,000 at 1,000 connections: h2load's -m cannot go
 * below 1), 2 endpoints. Measured after a 1 s h2load warm-up in which the
 * connections are made: accepting a connection is a cost per connection,
 * not per request, and would otherwise weigh on the 1,000-connection point
 * by how short the run is.
 */
async function sweepConnections(opts: Options): Promise<Sweep> {
  const duration = sweepDurationSec(opts);
  const ids = sweptSystems(opts);
  const limit = openFileLimit();
  const points = CONNECTION_POINTS.filter((p) => openFilesNeeded(p.clients) <= limit);
  if (points.length === 0) throw new Error(`the open-file limit (ulimit -n) is ${limit}: too low for any point of the connection sweep`);
  const notes = CONNECTION_POINTS.filter((p) => !points.includes(p)).map(
    (p) =>
      `${fmtNum(p.clients)} connections skipped: the open-file limit (ulimit -n, inherited by h2load and the proxies) is ${fmtNum(limit)}, ` +
      `${fmtNum(openFilesNeeded(p.clients))} needed; raise it (e.g. ulimit -n 8192) and run again.`,
  );
  const loadAt = (p: (typeof CONNECTION_POINTS)[number]) => (t: Endpoint) => ({
    url: h2(t),
    clients: p.clients,
    streams: p.streams,
    durationSec: duration,
    warmupSec: 1,
  });
  const setup = await nginxBackends(2);
  try {
    const results = await runSystems(opts, setup, loadAt(points[0]!), {
      specs: ids,
      loads: points.map(loadAt),
      maxConnections: 16_384,
    });
    const sweepPoints = points.map((p, i) => ({
      value: p.clients,
      detail: `-c ${p.clients} -m ${p.streams}`,
      systems: results[i]!,
    }));
    for (const p of sweepPoints) {
      const failed = p.systems.filter((s) => s.error);
      if (p.value >= 1000 && failed.length > 0) {
        notes.push(
          `${fmtNum(p.value)} connections failed for ${failed.map((s) => s.label).join(", ")}; ` +
            `the open-file limit (ulimit -n) here is ${fmtNum(limit)}.`,
        );
      }
    }
    return {
      key: "connections",
      title: "CPU per request vs client connections",
      description:
        `h2load -c C -m M --warm-up-time=1 -D ${duration}, C x M = 100 requests in flight (1,000 at 1,000 connections: -m cannot go below 1); ` +
        `2 nginx endpoints; round-robin. CPU is taken from the end of h2load's warm-up (in which it connects) to its exit, ` +
        `so accepting the connections is left out. Fewer streams per connection means fewer requests per read or write ` +
        `system call on the client side, a cost every proxy pays (HAProxy's growth shows it)`,
      h2load: `-c C -m M --warm-up-time=1 -D ${duration} (${points.map((p) => `${p.clients}x${p.streams}`).join(", ")})`,
      valueHeader: "client connections",
      detailHeader: "h2load",
      points: sweepPoints,
      notes,
    };
  } finally {
    await setup.stop();
  }
}

export async function scenarioSweeps(opts: Options): Promise<ScenarioResult> {
  const sweeps = [await sweepEndpoints(opts), await sweepConnections(opts)];
  return {
    id: 8,
    key: "cpu-per-request-sweeps",
    title: "CPU per request vs endpoints and vs client connections",
    description:
      "Target for Switchyard: CPU per request flat within 10% from 10 to 1,000 endpoints and from 1 to 1,000 client connections. " +
      "Each sweep measures all of its points in one interleaving; ratios compare a system with its own first point",
    date: new Date().toISOString(),
    runs: opts.runs,
    h2load: sweeps.map((sw) => sw.h2load).join("; "),
    sweeps,
    systems: [],
  };
}

