/**
 * Child processes of the soak (the proxy, nginx): spawned with their output
 * kept in a bounded tail, stopped with SIGTERM then SIGKILL, and killed
 * when this process exits, whatever the reason, so none outlives a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const TAIL_LINES = 200;
const live = new Set<ChildProcess>();
let exitHook = false;

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Exit code, or the signal's name. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
  /** Calls `fn` for each stdout line from now on. */
  onLine(fn: (line: string) => void): void;
  /** Last lines of stdout and stderr. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
  stop(graceMs?: number): Promise<number | string>;
}

export function spawnChild(name: string, cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const keep = (prefix: string) => (line: string) => {
    lines.push(prefix + line);
    if (lines.length > TAIL_LINES) lines.shift();
  };
  const listeners: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    keep('')(line);
    for (const l of listeners) l(line);
  });
  createInterface({ input: child.stderr! }).on('line', keep('stderr: '));
  let status: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (e) => {
      status ??= `spawn error: ${e.message}`;
      live.delete(child);
      resolve(status);
    });
    child.once('exit', (code, signal) => {
      status ??= code ?? signal ?? 'unknown';
      live.delete(child);
      resolve(status);
    });
  });
  return {
    name,
    pid: child.pid ?? -1,
    process: child,
    exited,
    hasExited: () => status !== undefined,
    onLine: (fn) => listeners.push(fn),
    tail: () => lines.join('\n'),
    async stop(graceMs = 5_000) {
      if (status !== undefined) return status;
      child.kill('SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') child.kill('SIGKILL');
      return exited;
    },
  };
}
