/**
 * Every example under examples/ (but the simulator scenarios) run from its
 * README: the marked blocks' commands as real processes on loopback (see
 * readme-runner.ts for the convention and the port substitution), then what
 * the README claims, checked on their output. The examples run one after the
 * other (tests of one file run in sequence).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { countMatches, parseReadme, runExample, statTotals } from './readme-runner.js';

const EXAMPLES = ['vote', 'echo', 'square', 'canary', 'retries', 'kubernetes'];

test('every example folder has a README with tested blocks, and is tested here', () => {
  const dirs = readdirSync('examples', { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'simulate')
    .map((d) => d.name)
    .sort();
  assert.deepEqual(dirs, [...EXAMPLES].sort());
  for (const d of dirs) {
    const readme = path.join('examples', d, 'README.md');
    assert.ok(existsSync(readme), readme);
    assert.ok(parseReadme(readFileSync(readme, 'utf8')).length > 0, `${readme} has no <!-- test: … --> block`);
  }
});

test('vote: thirty sequential curls spread about a third per replica, in the answers and in switchyard stat', async () => {
  await runExample('vote', [7001, 7002, 7003, 8080, 9990], (run) => {
    assert.match(run.outputs.get('check')!, /valid/);
    const replicas = countMatches(run.outputs.get('votes')!, /"replica":"(vote-\d)","vote":"👍"/);
    assert.equal([...replicas.values()].reduce((a, b) => a + b, 0), 30, run.outputs.get('votes'));
    assert.deepEqual([...replicas.keys()].sort(), ['vote-1', 'vote-2', 'vote-3']);
    for (const [r, n] of replicas) assert.ok(n >= 4 && n <= 16, `${r} counted ${n} of 30`);
    const totals = statTotals(run.outputs.get('stat')!);
    assert.equal(totals.get('vote'), 30, run.outputs.get('stat'));
    for (const [i, p] of [7001, 7002, 7003].entries()) {
      assert.equal(totals.get(`127.0.0.1:${run.port(p)}`), replicas.get(`vote-${i + 1}`), run.outputs.get('stat'));
    }
  });
});

test('echo: twenty gRPC calls over one client connection reach both servers, in the client output and in switchyard stat', async () => {
  await runExample('echo', [7001, 7002, 8080, 9990], (run) => {
    assert.match(run.outputs.get('check')!, /valid/);
    const out = run.outputs.get('calls')!;
    const servers = countMatches(out, /^call \d+: (echo-\d+)$/m);
    assert.equal([...servers.values()].reduce((a, b) => a + b, 0), 20, out);
    const totals = statTotals(run.outputs.get('stat')!);
    assert.equal(totals.get('echo'), 20, run.outputs.get('stat'));
    for (const p of [7001, 7002]) {
      const n = servers.get(`echo-${run.port(p)}`) ?? 0;
      assert.ok(n >= 4, `echo-${p} answered ${n} of 20\n${out}`);
      assert.match(out, new RegExp(`^echo-${run.port(p)}: ${n} of 20 calls$`, 'm'));
      assert.equal(totals.get(`127.0.0.1:${run.port(p)}`), n, run.outputs.get('stat'));
    }
  });
});

test('square: one keep-alive connection is pinned to one replica through a tcp listener and spread per request through Switchyard', async () => {
  await runExample('square', [7001, 7002, 7003, 8080, 8081, 9990], (run) => {
    assert.match(run.outputs.get('check')!, /valid/);
    assert.match(run.outputs.get('one')!, /^\{"input":3,"result":9,"hostname":"square-app-[123]"\}\n$/);
    const table = (name: string): Map<string, number> => {
      const m = new Map<string, number>();
      for (const [, n, h] of run.outputs.get(name)!.matchAll(/^\s*(\d+) "hostname":"(square-app-\d)"$/gm)) m.set(h!, Number(n));
      return m;
    };
    const pinned = table('pinned');
    assert.equal(pinned.size, 1, run.outputs.get('pinned'));
    assert.equal([...pinned.values()][0], 30);
    const spread = table('spread');
    assert.equal(spread.size, 3, run.outputs.get('spread'));
    for (const [h, n] of spread) assert.ok(n >= 4, `${h} answered ${n} of 30`);
    assert.equal([...spread.values()].reduce((a, b) => a + b, 0), 30);
    assert.equal(statTotals(run.outputs.get('stat')!).get('square'), 31, run.outputs.get('stat'));
  });
});

test('canary: a hundred requests split about 90/10 between v1 and v2, counted per service by switchyard stat', async () => {
  await runExample('canary', [7001, 7002, 7003, 8080, 9990], (run) => {
    assert.match(run.outputs.get('check')!, /valid/);
    const out = run.outputs.get('split')!;
    const versions = new Map<string, number>();
    for (const [, n, v] of out.matchAll(/^\s*(\d+) "version":"(v[12])"$/gm)) versions.set(v!, Number(n));
    const v1 = versions.get('v1') ?? 0;
    const v2 = versions.get('v2') ?? 0;
    assert.equal(v1 + v2, 100, out);
    assert.ok(v2 >= 1 && v2 <= 30, `v2 took ${v2} of 100`);
    const totals = statTotals(run.outputs.get('stat')!);
    assert.equal(totals.get('web-v1'), v1, run.outputs.get('stat'));
    assert.equal(totals.get('web-v2'), v2, run.outputs.get('stat'));
    assert.match(run.outputs.get('forced')!, /^\{"version":"v2","replica":"v2-1","path":"\/checkout"\}\n$/);
  });
});

test('retries: UNAVAILABLE in trailers and slow calls reach the client without retries, none with them, some past a tight budget', async () => {
  await runExample('retries', [7001, 7002, 7003, 8080, 8081, 8082, 9990], (run) => {
    assert.match(run.outputs.get('check')!, /valid/);
    const summary = (name: string): Map<string, number> => {
      const out = run.outputs.get(name)!;
      const line = /^20 calls: (.*)$/m.exec(out)?.[1];
      assert.ok(line !== undefined, out);
      return new Map(line.split(', ').map((s) => [s.split(' ')[1]!, Number(s.split(' ')[0])]));
    };
    const plain = summary('plain');
    assert.ok((plain.get('UNAVAILABLE') ?? 0) >= 1, run.outputs.get('plain'));
    assert.ok((plain.get('DEADLINE_EXCEEDED') ?? 0) >= 1, run.outputs.get('plain'));
    assert.match(run.outputs.get('plain')!, new RegExp(`UNAVAILABLE \\(work-${run.port(7001)} is failing this call on purpose\\)`));
    assert.deepEqual([...summary('retrying')], [['OK', 20]], run.outputs.get('retrying'));
    const tight = summary('tight');
    assert.ok(20 - (tight.get('OK') ?? 0) >= 1, run.outputs.get('tight'));
    const retried = [...run.outputs.get('metrics')!.matchAll(/route="retrying"[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    assert.ok(retried >= 1, run.outputs.get('metrics'));
  });
});

test('kubernetes: the deploy configurations the README checks are valid, and every file under deploy/ it names exists', async () => {
  await runExample('kubernetes', [], (run) => {
    assert.equal(run.outputs.get('check')!.match(/: valid \(/g)?.length, 3, run.outputs.get('check'));
    const readme = readFileSync('examples/kubernetes/README.md', 'utf8');
    const paths = new Set([...readme.matchAll(/\bdeploy\/(?:kubernetes|Dockerfile)[\w./-]*\w/g)].map((m) => m[0]));
    assert.ok(paths.size >= 5);
    for (const p of paths) assert.ok(existsSync(p), `${p} does not exist`);
  });
});
