/**
 * The real `switchyard run` as a child process: a configuration written to a
 * temporary file, the JSON log read line by line (so a test can wait for
 * "listening" or "draining"), and the exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const CLI = path.resolve('dist/src/cli/main.js');

export interface LogRecord {
  msg: string;
  [key: string]: unknown;
}

export interface CliProcess {
  child: ChildProcess;
  /** The configuration file (rewrite it to test reloads). */
  file: string;
  /** Port of the first listener. */
  port: number;
  /** Every log line so far. */
  log: LogRecord[];
  /** Resolves with the first log line whose msg is `msg` (already written or still to come). */
  waitLog(msg: string): Promise<LogRecord>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr(): string;
  /** SIGKILL if still running; removes the configuration file. */
  kill(): void;
}

/** Starts `switchyard run --config FILE` and resolves once every listener logged "listening". */
export async function startCli(config: Record<string, unknown>, args: readonly string[] = []): Promise<CliProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-cli-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ admin: { enabled: false }, ...config }));
  const child = spawn(process.execPath, [CLI, 'run', '--config', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const log: LogRecord[] = [];
  let waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      log.push(JSON.parse(line) as LogRecord);
    } catch {
      log.push({ msg: line });
    }
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const waitLog = (msg: string): Promise<LogRecord> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const rec = log.find((r) => r.msg === msg);
        if (rec !== undefined) return resolve(rec);
        if (exitCode !== undefined) return reject(new Error(`exited (${exitCode}) before logging "${msg}": ${stderr}`));
        waiters.push(check);
      };
      check();
    });
  void exited.then(() => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const proc: CliProcess = {
    child,
    file,
    port: 0,
    log,
    waitLog,
    exited,
    stderr: () => stderr,
    kill() {
      if (exitCode === undefined) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const listening = await waitLog('listening');
    proc.port = Number(String(listening.address).split(':').pop());
  } catch (e) {
    proc.kill();
    throw e;
  }
  return proc;
}

/** Runs a one-shot `switchyard …` command to its end: exit code and output (killed after `timeoutMs`). */
export function runCli(args: readonly string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
