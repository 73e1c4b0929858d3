import { readFile } from 'node:fs/promises';
import { parseScenarioYaml, ScenarioError, type Scenario } from '../balancing/simulation/scenario.js';
import { simulate, type PolicyResult, type SimulationResult } from '../balancing/simulation/simulator.js';
import { normalizePolicyName, POLICY_NAMES, type PolicyName } from '../balancing/registry.js';

const USAGE = `Usage: switchyard simulate SCENARIO.yaml [--policies a,b,c] [--seed N] [--json]

Replays a load scenario (endpoints with latency distributions, error rates,
failures) through the balancing policies and reports, per policy, the share of
requests each endpoint group received, latency percentiles and errors.

Options:
  --policies LIST  comma-separated policies (default: the scenario's list, else all:
                   ${POLICY_NAMES.join(', ')})
  --seed N         override the scenario's random seed
  --json           print the results as JSON
  -h, --help       show this help

Exit codes: 0 ok, 1 scenario error, 2 usage error.
`;

interface Args {
  file: string;
  policies?: PolicyName[];
  seed?: number;
  json: boolean;
}

class UsageError extends Error {}

function parseArgs(args: string[]): Args | 'help' {
  let file: string | undefined;
  let policies: PolicyName[] | undefined;
  let seed: number | undefined;
  let json = false;
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
  return { file, json, ...(policies ? { policies } : {}), ...(seed !== undefined ? { seed } : {}) };
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
