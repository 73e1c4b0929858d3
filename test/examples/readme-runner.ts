/**
 * Runs the commands of an example's README the way a reader would, so that
 * the README cannot drift from what the example really does.
 *
 * A ```sh block is run only when an HTML comment marks it (invisible on a
 * rendered page):
 *
 *   <!-- test: start, ready "TEXT" ['TEXT' …] -->   runs in the background (a
 *       terminal left open: backends, the proxy) until the example ends; the
 *       next block waits until its output holds every TEXT (in double or
 *       single quotes).
 *   <!-- test: run as NAME -->   runs to its end; it must exit 0, and its
 *       standard output is kept under NAME for the test's assertions.
 *
 * Blocks run in the README's order, from the repository root, with bash.
 * Two substitutions, and only these, are made in the commands, the `ready`
 * texts and the example's YAML files:
 *
 * - every fixed port of the example (8080, 7001, …; listed by the test) becomes
 *   a free port, so the examples can run beside anything else on the machine
 *   (the YAML files are copied to a temporary folder for this, and their paths
 *   in the commands point at the copies);
 * - `npx switchyard` becomes `node dist/src/cli/main.js` (the file npx runs,
 *   without npm's start-up time), and `stat`, `top` and `tap` get the admin
 *   port with `--admin` when the example's admin server has moved off 9990.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../bench/lib/processes.js';

export interface Block {
  kind: 'start' | 'run';
  /** `run as NAME` */
  name: string | undefined;
  /** `ready "…"` texts of a start block. */
  ready: string[];
  script: string;
  /** 1-based line of the block in the README, for messages. */
  line: number;
}

const MARKER = /<!--\s*test:\s*(start|run)\b([^>]*?)-->\s*\n```sh\n([\s\S]*?)```/g;
const ADMIN_DEFAULT_PORT = 9990;

/** The marked blocks of a README, in order. */
export function parseReadme(text: string): Block[] {
  const blocks: Block[] = [];
  for (const m of text.matchAll(MARKER)) {
    const rest = m[2]!;
    const name = /\bas\s+([\w-]+)/.exec(rest)?.[1];
    const ready = [...rest.matchAll(/"([^"]*)"|'([^']*)'/g)].map((r) => (r[1] ?? r[2])!);
    const line = text.slice(0, m.index).split('\n').length;
    blocks.push({ kind: m[1] as Block['kind'], name, ready, script: m[3]!, line });
  }
  return blocks;
}

export interface ExampleRun {
  /** Standard output of each `run as NAME` block. */
  outputs: Map<string, string>;
  /** The port the test used for one of the README's ports. */
  port(readmePort: number): number;
  /** Everything the background blocks printed, for failure messages. */
  backgroundOutput(): string;
}

interface Background {
  child: ChildProcess;
  out: string;
  exited: boolean;
}

const CLI = path.resolve('dist/src/cli/main.js');

/**
 * Runs examples/NAME/README.md's marked blocks with `ports` (the README's
 * fixed ports) moved to free ones, then stops every background block.
 * `check` gets the outputs while the background blocks still run.
 */
export async function runExample(name: string, ports: readonly number[], check: (run: ExampleRun) => Promise<void> | void): Promise<void> {
  const dir = path.join('examples', name);
  const blocks = parseReadme(readFileSync(path.join(dir, 'README.md'), 'utf8'));
  if (blocks.length === 0) throw new Error(`${dir}/README.md has no block marked <!-- test: … -->`);
  const map = new Map<number, number>();
  for (const p of ports) map.set(p, await freePort());
  const subst = (s: string): string =>
    s.replace(/(?<!\d)(\d{4,5})(?!\d)/g, (d: string) => String(map.get(Number(d)) ?? d));

  const tmp = mkdtempSync(path.join(tmpdir(), `swy-example-${name}-`));
  const copies: Array<[string, string]> = [];
  for (const f of readdirSync(dir)) {
    if (!/\.ya?ml$/.test(f)) continue;
    const to = path.join(tmp, f);
    writeFileSync(to, subst(readFileSync(path.join(dir, f), 'utf8')));
    copies.push([`${dir}/${f}`, to]);
  }
  const admin = map.get(ADMIN_DEFAULT_PORT);
  const prepare = (script: string): string => {
    let s = subst(script);
    for (const [from, to] of copies) s = s.split(from).join(to);
    s = s.replace(/npx switchyard(\s+(stat|top|tap)\b)?/g, (_m, sub: string | undefined, cmd: string | undefined) =>
      sub === undefined ? `node ${CLI}` : `node ${CLI} ${cmd}${admin === undefined ? '' : ` --admin 127.0.0.1:${admin}`}`,
    );
    return s;
  };

  const background: Background[] = [];
  const run: ExampleRun = {
    outputs: new Map(),
    port: (p) => {
      const v = map.get(p);
      if (v === undefined) throw new Error(`port ${p} is not one of the example's ports`);
      return v;
    },
    backgroundOutput: () => background.map((b) => b.out).join('\n---\n'),
  };
  try {
    for (const b of blocks) {
      const script = prepare(b.script);
      const where = `${dir}/README.md:${b.line}`;
      if (b.kind === 'start') {
        const bg = startBackground(script);
        background.push(bg);
        await waitOutput(bg, b.ready.map(subst), where);
      } else {
        const r = await runToEnd(script, 20_000);
        if (r.code !== 0) throw new Error(`${where}: exited ${r.code}\n${script}\nstdout: ${r.out}\nstderr: ${r.err}\nbackground: ${run.backgroundOutput()}`);
        if (b.name !== undefined) run.outputs.set(b.name, r.out);
      }
    }
    await check(run);
  } finally {
    for (const bg of background) stopBackground(bg);
    rmSync(tmp, { recursive: true, force: true });
  }
}

function startBackground(script: string): Background {
  // Its own process group: the block's shell and everything it started stop together.
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const bg: Background = { child, out: '', exited: false };
  const add = (d: Buffer): void => {
    bg.out += d.toString();
    child.emit('output');
  };
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  child.once('exit', () => {
    bg.exited = true;
    child.emit('output');
  });
  return bg;
}

function stopBackground(bg: Background): void {
  if (bg.exited || bg.child.pid === undefined) return;
  try {
    process.kill(-bg.child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Resolves once the block's output holds every text; rejects when it exits first or after 15 s. */
function waitOutput(bg: Background, texts: string[], where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${where}: no ${JSON.stringify(texts)} within 15 s; output:\n${bg.out}`)), 15_000);
    const finish = (e?: Error): void => {
      clearTimeout(timer);
      bg.child.off('output', check);
      if (e === undefined) resolve();
      else reject(e);
    };
    const check = (): void => {
      if (texts.every((t) => bg.out.includes(t))) return finish();
      if (bg.exited) finish(new Error(`${where}: exited before printing ${JSON.stringify(texts)} (a port in use?); output:\n${bg.out}`));
    };
    bg.child.on('output', check);
    check();
  });
}

function runToEnd(script: string, timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      err += `\n(killed after ${timeoutMs} ms)`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** Counts of each distinct line matching `re` (its first group, or the whole match). */
export function countMatches(text: string, re: RegExp): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`))) {
    const k = m[1] ?? m[0];
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** Rows of a `switchyard stat` table: first column → TOTAL column (as numbers). */
export function statTotals(table: string): Map<string, number> {
  const lines = table.split('\n');
  const head = lines.find((l) => l.startsWith('NAME'));
  if (head === undefined) throw new Error(`not a stat table:\n${table}`);
  const col = head.split(/\s+/).indexOf('TOTAL');
  const totals = new Map<string, number>();
  for (const l of lines.slice(lines.indexOf(head) + 1)) {
    const cells = l.trim().split(/\s+/);
    if (cells.length <= col || !/^\d+$/.test(cells[col] ?? '')) continue;
    totals.set(cells[0]!, Number(cells[col]));
  }
  return totals;
}
