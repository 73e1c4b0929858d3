/**
 * One soak run: start the environment, drive seeded random scenarios from a
 * fixed number of concurrent workers against one long-lived proxy, and at
 * checkpoints (after the warm-up, every `checkpointEveryMs`, at the end) let
 * the load drain and check that the proxy is at rest: nothing in flight,
 * no open streams, all HTTP/2 flow-control credit back, the backends'
 * streams closed, memory near its baseline.
 *
 * Reproducible from the seed: worker w's k-th scenario of phase p is chosen,
 * and draws all its sizes and choices, from a generator seeded by (seed, p,
 * w, k). Timing (which requests overlap) is not reproducible; the choices are.
 */
import { mulberry32 } from '../helpers/engine-frames.js';
import { startEnvironment } from './environment.js';
import { parseMetrics, readQuiescence, sumOf, type Quiescence } from './metrics.js';
import { KNOWN_BUGS } from './known-bugs.js';
import { nginxBinary } from './nginx.js';
import { OutcomeTable } from './outcomes.js';
import type { Outcome, Scenario, ScenarioContext, SoakLimits } from './scenario.js';
import { allGrpcScenarios } from './scenarios-grpc.js';
import { allHttpScenarios } from './scenarios-http.js';

export interface SoakOptions {
  seed: number;
  /** Load time in all, warm-up included. */
  durationMs: number;
  /** Load before the baseline checkpoint (RSS baseline). */
  warmupMs: number;
  /** A checkpoint every this long after the warm-up (0: only at the end). */
  checkpointEveryMs: number;
  workers: number;
  limits: SoakLimits;
  /** A scenario still running after this long is a hang. */
  scenarioTimeoutMs: number;
  /** How long a checkpoint waits for the proxy to come to rest. */
  quiesceTimeoutMs: number;
  /** Allowed RSS growth from the warm-up baseline to the end. */
  rssSlackBytes: number;
  /**
   * Diagnosis: one worker, and after every scenario a rest check; the run
   * stops at the first scenario that leaves the proxy not at rest, naming it.
   */
  checkEach?: boolean;
  /** Run the scenarios of known, unfixed bugs too (known-bugs.ts). */
  includeKnownBugs?: boolean;
  /** Only scenarios whose kind contains one of these strings. */
  only?: readonly string[];
  /** Use nginx: true (required), false, or 'auto' (when installed). */
  nginx: boolean | 'auto';
  /** The command that replays this run, printed at the start and with failures. */
  replay: string;
  log(line: string): void;
}

export interface Checkpoint {
  name: string;
  atMs: number;
  waitedMs: number;
  rss: number;
  quiescence: Quiescence;
  backendOpen: Record<string, number>;
  problems: string[];
}

export interface SoakResult {
  ok: boolean;
  failures: string[];
  report: string;
  requests: number;
  downBytes: number;
  upBytes: number;
  loadMs: number;
  rssBaseline: number;
  rssEnd: number;
  checkpoints: Checkpoint[];
  proxyExit: number | string;
}

const MiB = 2 ** 20;
const fmtMiB = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;

/** Deterministic 32-bit mix of several integers (for per-worker, per-scenario seeds). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return h >>> 0;
}

function pickWeighted(rng: () => number, scenarios: readonly Scenario[], total: number): Scenario {
  let x = rng() * total;
  for (const s of scenarios) {
    x -= s.weight;
    if (x < 0) return s;
  }
  return scenarios[scenarios.length - 1]!;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or undefined after `ms` (the timer is cleared either way). */
async function within<T>(p: Promise<T> | T, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log;
  const withNginx = opts.nginx === 'auto' ? nginxBinary() !== undefined : opts.nginx;
  log(`soak: seed ${opts.seed}, ${opts.workers} workers, ${(opts.durationMs / 1000).toFixed(0)} s of load, bodies up to ${fmtMiB(opts.limits.maxBody)}, gRPC messages up to ${fmtMiB(opts.limits.maxMessage)}`);
  log(`soak: replay with: ${opts.replay}`);
  if (!withNginx) log('soak: nginx not found (package nginx-light); the nginx scenarios are skipped');
  const known = opts.includeKnownBugs ? [] : KNOWN_BUGS;
  const skipped = new Set(known.flatMap((b) => b.skipKinds));
  const scenarios = [...allHttpScenarios(withNginx), ...allGrpcScenarios()].filter(
    (s) => !skipped.has(s.kind) && (opts.only === undefined || opts.only.some((o) => s.kind.includes(o))),
  );
  for (const b of known) log(`soak: skipping ${b.skipKinds.join(', ')}: known bug ${b.id}: ${b.title}`);
  if (scenarios.length === 0) throw new Error(`no scenario matches ${opts.only?.join(', ')}`);
  const totalWeight = scenarios.reduce((a, s) => a + s.weight, 0);
  const table = new OutcomeTable(scenarios);
  const failures: string[] = [];
  const checkpoints: Checkpoint[] = [];
  const env = await startEnvironment({ nginx: withNginx, maxFileBytes: opts.limits.maxBody });
  log(`soak: proxy pid ${env.proxy.pid}, listeners edge :${env.port('edge')} tight :${env.port('tight')}, admin :${env.proxy.adminPort}, RSS at start ${fmtMiB(env.proxy.rssBytes())}`);
  const startedAt = Date.now();
  let loadMs = 0;
  let proxyExit: number | string = 'not stopped';

  let stopped = false;
  const runOne = async (s: Scenario, seed: number, id: string): Promise<void> => {
    const ac = new AbortController();
    const defers: Array<() => unknown> = [];
    const ctx: ScenarioContext = {
      env,
      rng: mulberry32(seed),
      seed,
      id,
      limits: opts.limits,
      signal: ac.signal,
      defer: (fn) => defers.push(fn),
    };
    const watchdog = setTimeout(() => ac.abort(), opts.scenarioTimeoutMs);
    let outcome: Outcome;
    try {
      // After the watchdog fires, the scenario gets a few seconds to notice before it is left behind.
      const stuck = new Promise<Outcome>((resolve) =>
        ac.signal.addEventListener('abort', () => setTimeout(() => resolve({ label: 'stuck', down: 0, up: 0, detail: 'did not end after being aborted' }), 5_000).unref()),
      );
      outcome = await Promise.race([s.run(ctx), stuck]);
    } catch (e) {
      outcome = { label: `threw:${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, down: 0, up: 0, detail: (e as Error).stack ?? String(e) };
    } finally {
      clearTimeout(watchdog);
    }
    if (ac.signal.aborted) outcome = { ...outcome, label: 'hang', detail: `still running after ${opts.scenarioTimeoutMs} ms; ${outcome.detail}` };
    for (const d of defers.reverse()) {
      try {
        await within(d(), 6_000);
      } catch {
        // a failed cleanup shows up in the checkpoint
      }
    }
    table.record(s, outcome, `${id} (scenario seed ${seed})`);
    if (opts.checkEach) {
      const c = await checkpoint(`after ${id}`, true);
      if (c.problems.length > 0) {
        stopped = true;
        failures.push(`the first scenario that left the proxy not at rest: ${s.kind} ${id} (scenario seed ${seed}) ended ${outcome.label}: ${outcome.detail}`);
      }
    }
  };

  const runLoad = async (phase: number, ms: number): Promise<void> => {
    const until = Date.now() + ms;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: opts.checkEach ? 1 : opts.workers }, async (_, w) => {
        const rng = mulberry32(mixSeed(opts.seed, phase, w));
        for (let k = 0; Date.now() < until && !stopped; k++) {
          const s = pickWeighted(rng, scenarios, totalWeight);
          await runOne(s, mixSeed(opts.seed, phase, w, k), `p${phase}-w${w}-${k}`);
        }
      }),
    );
    loadMs += Date.now() - t0;
  };

  const checkpoint = async (name: string, quiet = false): Promise<Checkpoint> => {
    const t0 = Date.now();
    const deadline = t0 + opts.quiesceTimeoutMs;
    let q: Quiescence;
    let backendOpen: Record<string, number>;
    // Poll until at rest or out of time: the last WINDOW_UPDATEs and RST_STREAMs are on their way.
    for (;;) {
      if (env.proxy.child.hasExited()) {
        throw new Error(`the proxy exited (${await env.proxy.child.exited}) during the run (seed ${opts.seed}; replay with: ${opts.replay}); its last output:\n${env.proxy.child.tail()}`);
      }
      q = readQuiescence(parseMetrics(await env.proxy.metricsText()));
      backendOpen = env.backendOpenStreams();
      if (q.problems.length === 0 && Object.keys(backendOpen).length === 0) break;
      if (Date.now() > deadline) break;
      await delay(100);
    }
    const problems = [...q.problems];
    for (const [b, n] of Object.entries(backendOpen)) problems.push(`backend ${b} still has ${n} open stream(s)`);
    for (const m of q.missing) problems.push(`the proxy does not export ${m}`);
    for (const l of env.longH2) if (l.lost !== undefined) problems.push(`long-lived HTTP/2 client ${l.label} lost its connection: ${l.lost}`);
    const c: Checkpoint = { name, atMs: Date.now() - startedAt, waitedMs: Date.now() - t0, rss: env.proxy.rssBytes(), quiescence: q, backendOpen, problems };
    if (quiet && problems.length === 0) return c;
    checkpoints.push(c);
    log(`soak: checkpoint ${name} at ${(c.atMs / 1000).toFixed(0)} s: ${problems.length === 0 ? 'at rest' : `${problems.length} problem(s)`} after ${c.waitedMs} ms, RSS ${fmtMiB(c.rss)}, ${table.total} scenarios so far`);
    for (const p of problems) failures.push(`checkpoint ${name}: ${p}`);
    return c;
  };

  let rssBaseline = 0;
  let rssEnd = 0;
  try {
    await runLoad(0, Math.min(opts.warmupMs, opts.durationMs));
    rssBaseline = (await checkpoint('warm-up')).rss;
    let left = opts.durationMs - opts.warmupMs;
    for (let phase = 1; left > 0 && !stopped; phase++) {
      const ms = opts.checkpointEveryMs > 0 ? Math.min(left, opts.checkpointEveryMs) : left;
      await runLoad(phase, ms);
      left -= ms;
      await checkpoint(left > 0 ? `${phase}` : 'end');
    }
    rssEnd = checkpoints[checkpoints.length - 1]!.rss;
    if (rssEnd - rssBaseline > opts.rssSlackBytes) {
      failures.push(`proxy RSS grew from ${fmtMiB(rssBaseline)} after the warm-up to ${fmtMiB(rssEnd)} at the end (allowed: +${fmtMiB(opts.rssSlackBytes)})`);
    }
    // Every client connection the soak opened must be gone from the proxy once closed.
    await env.closeClients();
    const deadline = Date.now() + opts.quiesceTimeoutMs;
    let open: number | undefined;
    for (;;) {
      open = sumOf(parseMetrics(await env.proxy.metricsText()), 'switchyard_client_connections');
      if (open === 0 || Date.now() > deadline) break;
      await delay(100);
    }
    if (open !== 0) failures.push(`switchyard_client_connections = ${open} after every client closed (want 0)`);
  } finally {
    proxyExit = (await env.stop()).proxyExit;
  }
  if (proxyExit !== 0) failures.push(`the proxy exited with ${proxyExit} on SIGTERM (want 0)`);
  if (table.unexpectedCount > 0) failures.unshift(`${table.unexpectedCount} of ${table.total} scenarios ended unexpectedly`);

  const minutes = loadMs / 60_000;
  const lines: string[] = [];
  lines.push(table.format());
  lines.push('');
  lines.push(`requests: ${table.total} in ${(loadMs / 1000).toFixed(0)} s of load (${Math.round(table.total / minutes)}/min); verified ${fmtMiB(table.down)} down, ${fmtMiB(table.up)} up (${fmtMiB(table.down / minutes)}/min, ${fmtMiB(table.up / minutes)}/min)`);
  lines.push(`proxy RSS: ${fmtMiB(rssBaseline)} after the warm-up, ${fmtMiB(rssEnd)} at the end (${rssEnd >= rssBaseline ? '+' : ''}${fmtMiB(rssEnd - rssBaseline)}; allowed +${fmtMiB(opts.rssSlackBytes)})`);
  for (const c of checkpoints) {
    const q = c.quiescence;
    const credit = q.credit === undefined ? 'flow-credit gauges absent' : Object.entries(q.credit).map(([side, k]) => `${side} ${Object.entries(k).map(([n, v]) => `${n}=${v}`).join(' ')}`).join('; ');
    const streams = q.openStreams === undefined ? 'open-stream gauges absent' : `open streams ${JSON.stringify(q.openStreams)}`;
    lines.push(`checkpoint ${c.name}: in flight ${q.inFlight}, ${streams}, ${credit}, RSS ${fmtMiB(c.rss)}, at rest after ${c.waitedMs} ms`);
  }
  lines.push(`proxy exit status on SIGTERM: ${proxyExit}`);
  const never = table.neverRan();
  if (never.length > 0) lines.push(`never ran (short run): ${never.join(', ')}`);
  if (table.unexpected.length > 0) {
    lines.push('');
    lines.push(`unexpected outcomes (first ${table.unexpected.length} of ${table.unexpectedCount}):`);
    for (const u of table.unexpected) lines.push(`  ${u.kind}: ${u.label} at ${u.where}: ${u.detail}`);
  }
  if (failures.length > 0) {
    lines.push('');
    lines.push(`SOAK FAILED (seed ${opts.seed}):`);
    for (const f of failures) lines.push(`  - ${f}`);
    lines.push(`replay with: ${opts.replay}`);
  }
  const report = lines.join('\n');
  return {
    ok: failures.length === 0,
    failures,
    report,
    requests: table.total,
    downBytes: table.down,
    upBytes: table.up,
    loadMs,
    rssBaseline,
    rssEnd,
    checkpoints,
    proxyExit,
  };
}

