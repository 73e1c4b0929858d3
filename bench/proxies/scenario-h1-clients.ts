/**
 * Scenarios 10 and 11: HTTP/1.1 clients (h2load --h1, keep-alive, one
 * request at a time per connection) over 10 and 100 connections, to
 * HTTP/1.1 backends (10) and to h2c backends (11). The two connection counts
 * are measured in one interleaving.
 */
import type { Endpoint, Wire } from "../lib/systems.js";
import { h2, nginxBackends } from "./backends.js";
import type { Options } from "./options.js";
import type { ScenarioResult } from "./results.js";
import { runSystems } from "./run-systems.js";

const CONNECTIONS = [10, 100];

export async function scenarioH1Clients(opts: Options, id: number, upstream: Wire["upstream"]): Promise<ScenarioResult> {
  const setup = await nginxBackends(2, undefined, upstream === "http1");
  // At most 2 s: the two loads double the runs of this scenario.
  const duration = Math.min(opts.durationSec, 2);
  const loadFor = (clients: number) => (t: Endpoint) => ({
    url: h2(t),
    clients,
    streams: 1,
    durationSec: duration,
    extraArgs: ["--h1"],
  });
  try {
    const results = await runSystems(opts, setup, loadFor(CONNECTIONS[0]!), {
      loads: CONNECTIONS.map(loadFor),
      wire: { client: "http1", upstream },
      maxConnections: 4096,
    });
    const backend = upstream === "http1" ? "HTTP/1.1 (keep-alive)" : "h2c";
    return {
      id,
      key: `h1-clients-to-${upstream === "http1" ? "h1" : "h2c"}`,
      title: `HTTP/1.1 clients, keep-alive, to ${backend} backends`,
      description:
        `h2load --h1 -c C -m 1 -D ${duration} for C in ${CONNECTIONS.join(", ")} (one request at a time per connection); ` +
        `GET / answered "ok" by nginx (2 ${backend} endpoints). HAProxy: HTTP/1.1 frontend, ${upstream === "http1" ? "HTTP/1.1" : "proto h2"} servers; ` +
        (upstream === "http1"
          ? `nginx: proxy_pass with proxy_http_version 1.1 and an upstream keepalive pool; `
          : `nginx: not measured (it speaks h2c to upstreams only through grpc_pass, which takes HTTP/2 clients); `) +
        `Switchyard: run --protocol http1${upstream === "http1" ? " --upstream-protocol http1" : ""}`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `--h1 -c C -m 1 -D ${duration}`,
      loads: CONNECTIONS.map((c, i) => ({ load: `-c ${c}`, systems: results[i]! })),
      systems: results[results.length - 1]!,
    };
  } finally {
    await setup.stop();
  }
}
