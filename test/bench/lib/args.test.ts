import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs as churnArgs } from '../../../bench/discovery-churn/options.js';
import { parseArgs as tlsArgs } from '../../../bench/tls/options.js';

test('the run shape flags read alike in the TLS and discovery churn benches, each with its own defaults and --quick defaults', () => {
  const tls = tlsArgs([]);
  const churn = churnArgs([]);
  assert.deepEqual([tls.rounds, tls.seconds, tls.connections, tls.clients, tls.streams], [5, 3, 1200, 10, 10]);
  assert.deepEqual([churn.rounds, churn.seconds, churn.clients, churn.streams], [5, 8, 10, 10]);
  const quickTls = tlsArgs(['--quick']);
  const quickChurn = churnArgs(['--quick']);
  assert.deepEqual([quickTls.rounds, quickTls.seconds, quickTls.connections], [2, 2, 500]);
  assert.deepEqual([quickChurn.rounds, quickChurn.seconds], [3, 4]);
  for (const parse of [tlsArgs, churnArgs]) {
    const o = parse(['--runs=7', '--duration', '9', '--clients', '-4', '--streams', 'x', '--quick', '--rounds', '4']);
    assert.deepEqual([o.rounds, o.seconds, o.clients, o.streams], [4, 9, 1, 1], 'given values win over --quick; nonsense is the minimum');
    const m = parse(['--no-pin', '--max-foreign', '25', '--retries', '0', '--quiet-wait', '3', '--cpu-prof', 'prof', '--no-write']);
    assert.deepEqual([m.pin, m.maxForeign, m.retries, m.quietWaitSec, m.write], [false, 0.25, 0, 3, false]);
    assert.ok(m.cpuProfDir!.endsWith('/prof') && m.cpuProfDir!.startsWith('/'));
  }
  assert.deepEqual(tlsArgs(['--scenario', 'handshakes,requests', '--connections', '3', '--no-mtls']).scenarios, ['handshakes', 'requests']);
  assert.equal(tlsArgs(['--connections', '3']).connections, 10);
  const c = churnArgs(['--mix', 'conditions', '--rate', '0', '--endpoints', '5', '--no-load']);
  assert.deepEqual([c.mix, c.rate, c.endpoints, c.load], ['conditions', 0, 20, false]);
});
