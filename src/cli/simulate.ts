import { readFile } from 'node:fs/promises';
import { parseScenarioYaml, ScenarioError, type Scenario } from '../balancing/simulation/scenario.js';
import { simulate, type PolicyResult, type SimulationResult } from '../balancing/simulation/simulator.js';
import { normalizePolicyName, POLICY_NAMES, type PolicyName } from '../balancing/registry.js';
import { parseRecording, RecordingError, type Recording } from '../balancing/simulation/replay-recording.js';
import { planReplay, ReplayError, runReplay, type ReplayPlan, type ReplayResult } from '../balancing/simulation/replay.js';
import type { LoopMode } from '../balancing/simulation/replay-load.js';

const USAGE = `Usage: switchyard simulate SCENARIO.yaml [--policies a,b,c] [--seed N] [--json]
       switchyard simulate --replay RECORDING [--service S] [--loop open|closed] [--policies a,b,c] [--seed N] [--json]

Replays a load scenario (endpoints with latency distributions, error rates,
failures) through the balancing policies and reports, per policy, the share of
requests each endpoint group received, latency percentiles and errors.

Options:
  --policies LIST  comma-separated policies (default: the scenario's list, else all:
                   ${POLICY_NAMES.join(', ')})
  --seed N         override the scenario's random seed
  --json           print the results as JSON
  --replay FILE    replay a recording of \`switchyard tap --record\` instead of a scenario:
                   each endpoint's recorded latencies and failures, the recorded arrivals,
                   the live shares beside the simulated ones of the policy that served it
  --service S      with --replay: the recorded service to replay (default: the busiest)
  --loop MODE      with --replay: open (arrivals at the recorded times) or closed (the
                   recorded concurrency); default: what the recording shows
  -h, --help       show this help

Exit codes: 0 ok, 1 scenario error, 2 usage error.
`;

interface Args {
  file: string;
  policies?: PolicyName[];
  seed?: number;
  json: boolean;
  replay?: boolean;
  service?: string;
  loop?: LoopMode;
}

class UsageError extends Error {}

function parseArgs(args: string[]): Args | 'help' {
  let file: string | undefined;
  let policies: PolicyName[] | undefined;
  let seed: number | undefined;
  let json = false;
  let replay = false;
  let service: string | undefined;
  let loop: LoopMode | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--json':
        json = true;
        break;
      case '--replay':
        if (file !== undefined) throw new UsageError(`unexpected argument ${a}`);
        file = value();
        replay = true;
        break;
      case '--service':
        service = value();
        break;
      case '--loop': {
        const v = value();
        if (v !== 'open' && v !== 'closed') throw new UsageError(`--loop must be open or closed, got "${v}"`);
        loop = v;
        break;
      }
      case '--policies': {
        policies = [];
        for (const name of value().split(',')) {
          if (name.trim() === '') continue;
          const p = normalizePolicyName(name);
          if (p === undefined) throw new UsageError(`unknown policy "${name}" (known: ${POLICY_NAMES.join(', ')})`);
          policies.push(p);
        }
        if (policies.length === 0) throw new UsageError('--policies needs at least one policy');
        break;
      }
      case '--seed': {
        const v = value();
        const n = Number(v);
        if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`--seed must be an integer, got "${v}"`);
        seed = n;
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
        if (file !== undefined) throw new UsageError(`unexpected argument ${a}`);
        file = a;
    }
  }
  if (file === undefined) throw new UsageError('missing SCENARIO.yaml');
  if (!replay && (service !== undefined || loop !== undefined)) throw new UsageError('--service and --loop go with --replay');
  return {
    file,
    json,
    ...(policies ? { policies } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(replay ? { replay, ...(service !== undefined ? { service } : {}), ...(loop !== undefined ? { loop } : {}) } : {}),
  };
}

function ms(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1000) return `${(x / 1000).toFixed(2)}s`;
  if (x >= 100) return `${x.toFixed(0)}ms`;
  if (x >= 10) return `${x.toFixed(1)}ms`;
  return `${x.toFixed(2)}ms`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 && x > 0 ? 2 : 1)}%`;
}

/** The most uneven group's per-endpoint range, e.g. "0.97–1.04×" (groups of one endpoint do not count). */
function spread(p: PolicyResult): string {
  let min = 1;
  let max = 1;
  for (const g of p.groups) {
    if (g.endpoints < 2 || g.picks === 0) continue;
    if (g.spread.min < min) min = g.spread.min;
    if (g.spread.max > max) max = g.spread.max;
  }
  return `${min.toFixed(2)}–${max.toFixed(2)}×`;
}

/** Text table: one row per policy. */
export function formatTable(r: SimulationResult, s: Scenario): string {
  const groups = s.groups.map((g) => `${g.name}×${g.count}`);
  const header = ['policy', ...groups, 'spread', 'p50', 'p99', 'p99.9', 'errors'];
  const rows = r.results.map((p: PolicyResult) => [
    p.policy,
    ...p.groups.map((g) => pct(g.share)),
    spread(p),
    ms(p.latency.p50),
    ms(p.latency.p99),
    ms(p.latency.p999),
    `${p.errors} (${pct(p.errorRate)})`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const load = r.clients !== undefined
    ? `${r.clients} client${r.clients === 1 ? '' : 's'} one request at a time${s.thinkTime > 0 ? ` (think ${ms(s.thinkTime)})` : ''}`
    : `at ${r.rate}/s`;
  const title = `${r.scenario}: ${r.endpoints} endpoints, ${r.requests} requests ${load}, seed ${r.seed}`;
  const share = 'group columns: share of requests sent to the group; spread: fewest–most picks of one endpoint vs an even split within its group';
  return [title, share, '', line(header), ...rows.map(line), ''].join('\n');
}

/** `switchyard simulate …`. Returns the process exit code. */
export async function runSimulate(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let parsed: Args | 'help';
  try {
    parsed = parseArgs(args);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`simulate: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (parsed === 'help') {
    out.write(USAGE);
    return 0;
  }
  if (parsed.replay === true) return await runReplayCli(parsed, out, err);
  let text: string;
  try {
    text = await readFile(parsed.file, 'utf8');
  } catch (e) {
    err.write(`simulate: cannot read ${parsed.file}: ${(e as Error).message}\n`);
    return 1;
  }
  let scenario: Scenario;
  try {
    scenario = parseScenarioYaml(text);
  } catch (e) {
    if (e instanceof ScenarioError) {
      err.write(`simulate: ${parsed.file}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const result = simulate(scenario, {
    ...(parsed.policies ? { policies: parsed.policies } : {}),
    ...(parsed.seed !== undefined ? { seed: parsed.seed } : {}),
  });
  out.write(parsed.json ? `${JSON.stringify(result, null, 2)}\n` : formatTable(result, scenario));
  return 0;
}

/**
 * Replay table: one row per policy with each endpoint's share, then p50 / p99
 * and failures; the policy that served the recording is marked `*` and
 * followed by a `live` row with the recorded shares.
 */
export function formatReplayTable(r: ReplayResult): string {
  const { plan, simulation } = r;
  const header = ['policy', ...plan.endpoints.map((e) => e.id), 'p50', 'p99', 'failures'];
  const rows: string[][] = [];
  for (const p of simulation.results) {
    const live = p.policy === plan.livePolicy;
    rows.push([
      live ? `${p.policy} *` : p.policy,
      ...p.groups.map((g) => pct(g.share)),
      ms(p.latency.p50),
      ms(p.latency.p99),
      `${p.errors} (${pct(p.errorRate)})`,
    ]);
    if (live) {
      rows.push([
        '  live',
        ...plan.endpoints.map((e) => pct(e.share)),
        ms(plan.live.p50),
        ms(plan.live.p99),
        `${plan.live.failures} (${pct(plan.live.failures / plan.live.requests)})`,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const l = plan.load;
  const load = l.mode === 'closed'
    ? `closed loop: ${l.clients} client${l.clients === 1 ? '' : 's'}, think ${ms(l.thinkMs)} (${l.reason})`
    : `open loop at the recorded arrival times, ${l.rate.toFixed(0)}/s (${l.reason})`;
  const endpoints = plan.endpoints.map((e) => `  ${e.id}: live ${e.requests} requests, p50 ${ms(e.p50)}, p99 ${ms(e.p99)}, ${e.failures} failed${e.pooled ? ' (no recorded request: samples the whole service)' : ''}`);
  const lines = [
    `replay of ${plan.service}: ${plan.endpoints.length} endpoints, ${plan.live.requests} requests, seed ${simulation.seed}`,
    load,
    ...endpoints,
  ];
  if (plan.excluded > 0) lines.push(`${plan.excluded} recorded requests left out (no endpoint picked, or an endpoint outside the recorded set)`);
  lines.push(
    plan.livePolicy === null
      ? 'the recording does not say which policy served it'
      : `* served the recording (${plan.livePolicy}); "live" shows the recorded shares, p50/p99 and failures`,
    'endpoint columns: share of requests sent to the endpoint; p50/p99: latency of successful requests',
    '',
    line(header),
    ...rows.map(line),
    '',
  );
  return lines.join('\n');
}

/** `switchyard simulate --replay FILE`. */
async function runReplayCli(a: Args, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let rec: Recording;
  try {
    rec = parseRecording(await readFile(a.file, 'utf8'));
  } catch (e) {
    err.write(`simulate: ${a.file}: ${(e as Error).message}\n`);
    if (e instanceof RecordingError || (e as NodeJS.ErrnoException).code !== undefined) return 1;
    throw e;
  }
  if (rec.end === undefined) err.write(`simulate: ${a.file}: no end line (the recording was cut short); replaying what it has\n`);
  else if (rec.end.dropped > 0) err.write(`simulate: ${a.file}: the tap dropped ${rec.end.dropped} events while recording: the replay under-counts the traffic\n`);
  let plan: ReplayPlan;
  try {
    plan = planReplay(rec, { ...(a.service !== undefined ? { service: a.service } : {}), ...(a.loop !== undefined ? { loop: a.loop } : {}), ...(a.seed !== undefined ? { seed: a.seed } : {}) });
  } catch (e) {
    if (e instanceof ReplayError) {
      err.write(`simulate: ${a.file}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const result = runReplay(plan, a.policies, a.seed);
  if (a.json) {
    const { scenario: _s, arrivals: _a, distributions: _d, ...planView } = plan;
    out.write(`${JSON.stringify({ ...planView, results: result.simulation.results }, null, 2)}\n`);
  } else {
    out.write(formatReplayTable(result));
  }
  return 0;
}
