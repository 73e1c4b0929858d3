/**
 * Scenario 9: Switchyard with one and with two worker processes, CPU split
 * by process role.
 */
import os from "node:os";
import { waitForListeningWorkers, switchyardProcessRoles } from "../lib/switchyard.js";
import { h2, nginxBackends } from "./backends.js";
import type { Options } from "./options.js";
import type { ScenarioResult } from "./results.js";
import { runSystems } from "./run-systems.js";

/** Worker counts compared by scenario 9. */
const WORKER_COUNTS = [1, 2];

export async function scenarioWorkers(opts: Options): Promise<ScenarioResult> {
  if (!opts.systems.includes("switchyard")) throw new Error("scenario 9 measures switchyard, which is not in --systems");
  const clients = 8;
  const streams = 100;
  // All of the machine's cores: the bench's own affinity is one core once pinned.
  const cores = os.cpus().length;
  const setup = await nginxBackends(2);
  try {
    // The admin server (and with it request telemetry) runs in the first worker only, so it is off
    // for both counts: every worker then runs the same code and the comparison stays like for like.
    const specs = WORKER_COUNTS.map((n) => ({
      id: "switchyard" as const,
      label: `Switchyard --workers ${n}`,
      switchyard: { extraArgs: ["--admin", "off", "--workers", String(n)] },
    }));
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients, streams, durationSec: opts.durationSec }),
      {
        specs,
        beforeRuns: async (s, i) => {
          await waitForListeningWorkers(s.server!.process, WORKER_COUNTS[i]!);
          return [];
        },
        processRoles: (s) => switchyardProcessRoles(s.server!.pid),
      },
    );
    return {
      id: 9,
      key: "workers",
      title: "Switchyard --workers 1 vs --workers 2",
      description:
        `h2load -c ${clients} -m ${streams} -D ${opts.durationSec}; 2 nginx endpoints; run --to ... --balancer round-robin --admin off --workers N. ` +
        `CPU is summed over the whole process tree (node:cluster primary + workers); "CPU share" is each process's part of it, ` +
        `a proxy for its share of the requests (the primary only accepts connections and hands them to the workers in turn)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c ${clients} -m ${streams} -D ${opts.durationSec}`,
      systems: systems!,
      notes: [
        `This machine has ${cores} core${cores === 1 ? "" : "s"}, shared by h2load, nginx and Switchyard: the req/s ratio is capped by them ` +
          `(a scaling of 1.7x or more cannot show here). What the scenario can show: whether CPU per request rises with 2 workers ` +
          `(cross-worker overhead) and whether the load spreads over both workers.`,
        ...(opts.proxyPin
          ? [`Pinned: the whole tree runs on core ${opts.proxyPin.cpus}, so both workers share one core (--no-pin lets them spread).`]
          : []),
      ],
    };
  } finally {
    await setup.stop();
  }
}

