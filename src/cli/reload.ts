import { readFile } from 'node:fs/promises';
import { DEFAULT_ADMIN_LISTEN } from '../config/index.js';
import { parseArgs, stringFlag, UsageError } from './args.js';
import { adminBase } from './stat.js';

export const RELOAD_USAGE = `Usage:
  switchyard reload [--admin HOST:PORT] [--json]
  switchyard reload --pid-file FILE

Makes a running proxy read its --config file again and apply it without
dropping connections. Through the admin server (default ${DEFAULT_ADMIN_LISTEN}) it
waits for the result and prints what changed, or every error of a rejected
file (the running configuration then stays). With --pid-file (the file given
to \`switchyard run --pid-file\`) it sends SIGHUP to that process instead and
returns at once: the proxy logs the result ("config reloaded" or "config
reload failed").

Exit codes: 0 reloaded (or signal sent), 1 rejected or proxy unreachable, 2 usage error.`;

interface ReloadAnswer {
  result: 'success' | 'failure';
  errors?: string[];
  version?: { hash: string; loadedAt: string };
  changes?: {
    listeners: Record<string, string[]>;
    services: { added: string[]; removed: string[]; replaced: string[]; changed: Record<string, string[]> };
    endpoints: { added: number; removed: number };
  };
  needsRestart?: string[];
}

export async function runReload(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let p: ReturnType<typeof parseArgs>;
  let pidFile: string | undefined;
  let base: string;
  try {
    p = parseArgs(args, ['help', 'json']);
    if (p.flags.has('help')) {
      out.write(`${RELOAD_USAGE}\n`);
      return 0;
    }
    pidFile = stringFlag(p, 'pid-file');
    if (pidFile !== undefined && p.flags.has('admin')) throw new UsageError('give either --admin or --pid-file');
    if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    base = adminBase(p);
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${RELOAD_USAGE}\n`);
    return 2;
  }
  if (pidFile !== undefined) return signal(pidFile, out, err);
  let status: number;
  let answer: ReloadAnswer;
  try {
    const r = await fetch(`${base}/api/v1/config/reload`, { method: 'POST' });
    status = r.status;
    answer = (await r.json()) as ReloadAnswer;
  } catch (e) {
    err.write(`cannot reach the admin server at ${base}: ${(e as Error).message}\n`);
    return 1;
  }
  if (p.flags.has('json')) out.write(`${JSON.stringify(answer, null, 2)}\n`);
  if (status === 200 && answer.result === 'success') {
    if (!p.flags.has('json')) out.write(render(answer));
    return 0;
  }
  err.write(`reload rejected; the running configuration stays:\n${(answer.errors ?? [`answered ${status}`]).map((e) => `  ${e}`).join('\n')}\n`);
  return 1;
}

async function signal(pidFile: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch (e) {
    err.write(`cannot read ${pidFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is the proxy running with --pid-file?)' : (e as Error).message}\n`);
    return 1;
  }
  if (!Number.isInteger(pid) || pid <= 0) {
    err.write(`${pidFile} does not hold a process id\n`);
    return 1;
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    err.write(`cannot signal pid ${pid}: ${(e as NodeJS.ErrnoException).code === 'ESRCH' ? 'no such process (a stale pid file?)' : (e as Error).message}\n`);
    return 1;
  }
  out.write(`sent SIGHUP to pid ${pid}; the proxy logs "config reloaded" or "config reload failed"\n`);
  return 0;
}

/** What changed, one line per kind. */
function render(a: ReloadAnswer): string {
  const lines = [`reloaded: version ${a.version?.hash.slice(0, 12) ?? '?'}`];
  const c = a.changes;
  if (c !== undefined) {
    for (const [kind, names] of Object.entries(c.listeners)) if (names.length > 0) lines.push(`  listeners ${kind}: ${names.join(', ')}`);
    for (const kind of ['added', 'removed', 'replaced'] as const) if (c.services[kind].length > 0) lines.push(`  services ${kind}: ${c.services[kind].join(', ')}`);
    for (const [name, keys] of Object.entries(c.services.changed)) lines.push(`  service ${name} changed: ${keys.join(', ')}`);
    if (c.endpoints.added + c.endpoints.removed > 0) lines.push(`  endpoints: +${c.endpoints.added} -${c.endpoints.removed}`);
    if (lines.length === 1) lines.push('  no change');
  }
  if (a.needsRestart !== undefined && a.needsRestart.length > 0) lines.push(`  needs a restart (running values kept): ${a.needsRestart.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
