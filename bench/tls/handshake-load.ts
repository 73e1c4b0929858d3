/** Runs handshake-client.ts as a child process (on the load core: it inherits the bench's affinity). */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runToCompletion } from "../lib/processes.js";
import type { HandshakeClientResult } from "./handshake-client.js";

const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), "handshake-client.js");

export interface HandshakeLoad {
  port: number;
  connections: number;
  concurrency: number;
  resume: boolean;
  ciphers?: string;
}

export type HandshakeLoadResult = HandshakeClientResult & { ok: boolean; error?: string };

export async function runHandshakeLoad(l: HandshakeLoad): Promise<HandshakeLoadResult> {
  const args = [CLIENT, "--port", String(l.port), "--n", String(l.connections), "--concurrency", String(l.concurrency)];
  if (l.resume) args.push("--resume");
  if (l.ciphers) args.push("--ciphers", l.ciphers);
  const out = await runToCompletion("handshake-client", process.execPath, args, 60_000 + l.connections * 20);
  const line = out.stdout.trim().split("\n").pop() ?? "";
  if (out.code !== 0 || !line.startsWith("{")) {
    return { ok: false, error: out.timedOut ? "timed out" : (out.stderr.trim() || `exit ${out.code}`).slice(0, 200), done: 0, resumed: 0, failed: 0, wallMs: 0 };
  }
  const r = JSON.parse(line) as HandshakeClientResult;
  const error = r.failed > 0 ? `${r.failed} handshakes failed: ${r.firstError}` : l.resume && r.resumed < r.done - l.concurrency ? `only ${r.resumed} of ${r.done} resumed` : undefined;
  return { ...r, ok: error === undefined, error };
}
