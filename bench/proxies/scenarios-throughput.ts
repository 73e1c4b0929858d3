/**
 * Scenarios 1, 2 and 4-7: one load each on every system, h2c on both sides
 * (concurrency, gRPC unary, large responses, idle connections, many
 * endpoints).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { openIdleClients, type IdleClients } from "../lib/idle-clients.js";
import { makeTempDir } from "../lib/processes.js";
import { fmtMiB } from "../lib/report.js";
import { grpcBackends, h2, nginxBackends } from "./backends.js";
import { GRPC_PATH, grpcCheck, grpcPingFrame } from "./grpc-ping.js";
import type { Options } from "./options.js";
import type { ScenarioResult } from "./results.js";
import { runSystems, selectedSystems } from "./run-systems.js";

export async function scenarioConcurrency(
  opts: Options,
  id: number,
  clients: number,
): Promise<ScenarioResult> {
  const setup = await nginxBackends(2);
  try {
    const [systems] = await runSystems(opts, setup, (t) => ({
      url: h2(t),
      clients,
      streams: 100,
      durationSec: opts.durationSec,
    }));
    return {
      id,
      key: `c${clients}m100`,
      title: `${clients} connection${clients > 1 ? "s" : ""} x 100 streams, tiny responses`,
      description: `h2load -c ${clients} -m 100 -D ${opts.durationSec}; GET / answered "ok" by nginx (2 h2c endpoints)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c ${clients} -m 100 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

export async function scenarioGrpc(opts: Options): Promise<ScenarioResult> {
  const setup = await grpcBackends(2);
  const dir = makeTempDir("grpc-body");
  const frame = grpcPingFrame(16);
  const bodyFile = path.join(dir, "ping.bin");
  writeFileSync(bodyFile, frame);
  try {
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({
        url: h2(t, GRPC_PATH),
        clients: 4,
        streams: 50,
        durationSec: opts.durationSec,
        dataFile: bodyFile,
        headers: ["content-type: application/grpc", "te: trailers"],
      }),
      {
        beforeRuns: async (s) => {
          const r = await grpcCheck(s.target!, frame);
          if (!r.startsWith("grpc-status 0")) throw new Error(`gRPC check failed: ${r}`);
          return [`check: ${r}`];
        },
      },
    );
    return {
      id: 4,
      key: "grpc-unary",
      title: "gRPC unary calls (grpc-js backend)",
      description: `h2load -c 4 -m 50 -D ${opts.durationSec} -d <5-byte-prefixed PingRequest> -H 'content-type: application/grpc' -H 'te: trailers' ${GRPC_PATH}; backend: @grpc/grpc-js echo server (2 ports, one process)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 4 -m 50 -D ${opts.durationSec} -d ping.bin`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

export async function scenarioLarge(opts: Options): Promise<ScenarioResult> {
  const setup = await nginxBackends(2, 1024 * 1024);
  try {
    const [systems] = await runSystems(opts, setup, (t) => ({
      url: h2(t, "/big"),
      clients: 4,
      streams: 4,
      durationSec: opts.durationSec,
    }));
    return {
      id: 5,
      key: "large-responses",
      title: "1 MiB responses: throughput and CPU per MiB",
      description: `h2load -c 4 -m 4 -D ${opts.durationSec} GET /big (1 MiB static file from nginx)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 4 -m 4 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

export async function scenarioIdle(opts: Options): Promise<ScenarioResult> {
  const idleCount = 1000;
  const setup = await nginxBackends(2);
  const idle: IdleClients[] = [];
  try {
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients: 100, streams: 10, durationSec: opts.durationSec }),
      {
        maxConnections: 16_384,
        beforeRuns: async (s) => {
          const c = await openIdleClients(s.target!.host, s.target!.port, idleCount);
          idle.push(c);
          if (c.failed > idleCount * 0.01) throw new Error(`only ${c.open} of ${idleCount} idle connections opened`);
          return [`${c.open} idle connections, RSS with them ${fmtMiB(s.rssKb())}`];
        },
        afterRuns: async () => {
          for (const c of idle) await c.close();
        },
      },
    );
    return {
      id: 6,
      key: "idle-connections",
      title: "1,000 idle client connections + 100 active",
      description: `${idleCount} idle h2 connections held open (one request each) per system, then h2load -c 100 -m 10 -D ${opts.durationSec}`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 100 -m 10 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    for (const c of idle) await c.close();
    await setup.stop();
  }
}

export async function scenarioManyEndpoints(opts: Options): Promise<ScenarioResult> {
  const count = 1000;
  const setup = await nginxBackends(count);
  try {
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients: 8, streams: 100, durationSec: opts.durationSec }),
      { maxConnections: 16_384, specs: selectedSystems(opts, { useConfig: true }) },
    );
    return {
      id: 7,
      key: "many-endpoints",
      title: "1,000 endpoints behind one service",
      description: `one nginx process listening on ${count} loopback ports = ${count} endpoints; round-robin; Switchyard via run --config with ${count} endpoints; h2load -c 8 -m 100 -D ${opts.durationSec}`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 8 -m 100 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

