/**
 * The soak, short: 40 seconds of seeded random HTTP/1.1, HTTP/2 and gRPC
 * scenarios against ONE proxy process, with rest checks after the warm-up and
 * at the end (test/soak/run-soak.ts, docs/soak.md). The seed is fixed so a
 * CI failure replays locally; SOAK_SEED=N picks another:
 *
 *   npm run build && SOAK_SEED=N node scripts/run-tests.mjs soak/soak
 *
 * `npm run soak -- --minutes N` runs the long version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from './run-soak.js';

const DEFAULT_SEED = 20261130;

test('soak: one proxy under 40 s of mixed traffic ends at rest, every byte verified', async (t) => {
  const seed = process.env.SOAK_SEED !== undefined ? Number(process.env.SOAK_SEED) >>> 0 : DEFAULT_SEED;
  const r = await runSoak({
    seed,
    durationMs: 40_000,
    // RSS climbs for the first tens of seconds of load before it levels off
    // (V8's old generation finding its size): the baseline is taken after that.
    warmupMs: 20_000,
    checkpointEveryMs: 0,
    // Few enough for a loaded 2-core machine running other test files beside this one.
    workers: 6,
    limits: { maxBody: 4 << 20, maxMessage: 1 << 20 },
    scenarioTimeoutMs: 30_000,
    quiesceTimeoutMs: 10_000,
    rssSlackBytes: 64 << 20,
    nginx: 'auto',
    replay: `npm run build && SOAK_SEED=${seed} node scripts/run-tests.mjs soak/soak`,
    log: (line) => t.diagnostic(line),
  });
  for (const line of r.report.split('\n')) t.diagnostic(line);
  assert.ok(r.ok, `soak failed (seed ${seed}):\n${r.failures.join('\n')}\n\n${r.report}`);
  assert.ok(r.requests > 0);
});
