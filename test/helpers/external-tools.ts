/**
 * Running the real command-line peers the interop tests use (curl, nghttp,
 * h2load) and checking whether they are installed.
 */
import { execFile } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs `cmd` to completion (bounded by `timeout` ms); rejects only when it is not installed. */
export function run(cmd: string, args: string[], timeout = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 << 20, timeout }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
      if (e !== null && e.code === 'ENOENT') return reject(e);
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout, stderr: stderr.toString() });
    });
  });
}

const available = new Map<string, boolean>();

/** Whether `cmd` is installed (asked once per process). */
export async function have(cmd: string): Promise<boolean> {
  if (!available.has(cmd)) {
    try {
      await run(cmd, ['--version'], 10_000);
      available.set(cmd, true);
    } catch {
      available.set(cmd, false);
    }
  }
  return available.get(cmd)!;
}
