/**
 * The soak, standalone: one long-lived proxy under seeded random load for
 * --minutes, with checkpoints that require it to come back to rest (see
 * test/soak/run-soak.ts and docs/soak.md).
 *
 *   npm run soak -- --minutes 10 [--seed 1234] [--workers 12]
 *
 * Exit status 0 when every scenario ended as expected and every checkpoint
 * found the proxy at rest; 1 otherwise, with the seed and the command that
 * replays the run.
 */
import { parseBenchArgs } from './lib/args.js';
import { runSoak } from '../test/soak/run-soak.js';

const USAGE = `Usage: npm run soak -- [options]
  --minutes N                  load time in minutes, fractions allowed (default 10)
  --seed S                     seed of every random choice (default: picked and printed)
  --workers N                  concurrent scenarios (default 12)
  --max-body BYTES             largest HTTP body (default 16777216)
  --checkpoint-minutes N       a rest check every N minutes (default 5)
  --rss-slack-mib N            allowed RSS growth from warm-up to end (default 96)
  --no-nginx                   skip the nginx backend
  --only A,B                   only the scenarios whose kind contains A or B (e.g. "h2→h1 echo")
  --include-known-bugs         also run the scenarios of known, unfixed proxy bugs
                               (test/soak/known-bugs.ts), which the run otherwise skips
  --check-each                 diagnosis: one worker, a rest check after every scenario, stop at
                               the first scenario that leaves the proxy not at rest
`;

let minutes = 10;
let seed = Math.floor(Math.random() * 2 ** 31);
let workers = 12;
let maxBody = 16 << 20;
let checkpointMinutes = 5;
let rssSlackMiB = 96;
let nginx = 'auto' as boolean | 'auto';
let checkEach = false;
let includeKnownBugs = false;
let only: string[] | undefined;
const num = (flag: string, v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`${flag}: not a number: ${v}\n`);
    process.exit(64);
  }
  return n;
};
parseBenchArgs(process.argv.slice(2), USAGE, (flag, value) => {
  switch (flag) {
    case '--minutes': minutes = num(flag, value()); return true;
    case '--seed': seed = num(flag, value()) >>> 0; return true;
    case '--workers': workers = Math.max(1, Math.floor(num(flag, value()))); return true;
    case '--max-body': maxBody = Math.floor(num(flag, value())); return true;
    case '--checkpoint-minutes': checkpointMinutes = num(flag, value()); return true;
    case '--rss-slack-mib': rssSlackMiB = num(flag, value()); return true;
    case '--no-nginx': nginx = false; return true;
    case '--check-each': checkEach = true; return true;
    case '--include-known-bugs': includeKnownBugs = true; return true;
    case '--only': only = value().split(',').map((x) => x.trim()).filter(Boolean); return true;
    default: return false;
  }
});

const durationMs = Math.round(minutes * 60_000);
const replay = [
  'npm run soak --',
  `--minutes ${minutes}`,
  `--seed ${seed}`,
  `--workers ${workers}`,
  ...(maxBody !== 16 << 20 ? [`--max-body ${maxBody}`] : []),
  // Phases are seeded by their index: the checkpoint interval is part of the replay.
  ...(checkpointMinutes !== 5 ? [`--checkpoint-minutes ${checkpointMinutes}`] : []),
  ...(rssSlackMiB !== 96 ? [`--rss-slack-mib ${rssSlackMiB}`] : []),
  ...(nginx === false ? ['--no-nginx'] : []),
  ...(checkEach ? ['--check-each'] : []),
  ...(includeKnownBugs ? ['--include-known-bugs'] : []),
  ...(only ? [`--only '${only.join(',')}'`] : []),
].join(' ');

runSoak({
  seed,
  durationMs,
  warmupMs: Math.min(30_000, Math.round(durationMs / 6)),
  checkpointEveryMs: Math.round(checkpointMinutes * 60_000),
  workers,
  limits: { maxBody, maxMessage: 1 << 20 },
  scenarioTimeoutMs: 60_000,
  quiesceTimeoutMs: checkEach ? 3_000 : 15_000,
  rssSlackBytes: rssSlackMiB * 2 ** 20,
  checkEach,
  includeKnownBugs,
  only,
  nginx,
  replay,
  log: (line) => process.stdout.write(`${line}\n`),
}).then(
  (r) => {
    process.stdout.write(`${r.report}\n`);
    process.exit(r.ok ? 0 : 1);
  },
  (e: unknown) => {
    process.stderr.write(`soak failed to run (seed ${seed}): ${(e as Error).stack ?? String(e)}\nreplay with: ${replay}\n`);
    process.exit(1);
  },
);
