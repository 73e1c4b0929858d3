import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { RULES } from '../../src/balancing/index.js';
import { runTap } from '../../src/cli/tap.js';
import { closeSession, connect, h2Request, startH2Backend, waitReady } from '../helpers/proxy-harness.js';
import { startTelemetryProxy, tap, until, type TelemetryProxy } from './harness.js';
import type { TelemetryOptions } from '../../src/telemetry/telemetry.js';

/** Two backends, `fast` and `slow` (answers after 25 ms), behind `api` (the default policy) and `rr` (round robin). */
async function setup(t: TestContext, options: TelemetryOptions = {}): Promise<{ p: TelemetryProxy; fast: string; slow: string }> {
  const backends = await Promise.all([0, 25].map((delay, i) => startH2Backend(i === 0 ? 'fast' : 'slow', {
    handler: (stream) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        setTimeout(() => {
          if (stream.destroyed) return;
          stream.respond({ ':status': 200 });
          stream.end('ok\n');
        }, delay);
      });
    },
  })));
  const eps = backends.map((b) => `127.0.0.1:${b.port}`);
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', routes: [
      { name: 'rr', match: { pathPrefix: '/rr' }, service: 'rr' },
      { name: 'api', match: { pathPrefix: '/' }, service: 'api' },
    ] }],
    services: [
      { name: 'api', endpoints: eps },
      { name: 'rr', balancer: 'round-robin', endpoints: eps },
    ],
  }, options);
  t.after(async () => {
    await p.stop();
    for (const b of backends) await b.close();
  });
  await waitReady({ proxy: p.proxy } as never);
  return { p, fast: eps[0]!, slow: eps[1]! };
}

const P2C_RULES: string[] = [RULES.nearEqualFewer, RULES.nearEqualLeastRecent, RULES.latencyCost];

test('tap --decisions: each request carries the decision that picked its endpoint; recording stops when the subscriber goes', async (t) => {
  const { p, fast, slow } = await setup(t);
  const api = p.proxy.services.get('api')!;
  assert.equal(api.recordDecisions, false, 'nobody asked: no records');
  // rate=10000: a round of requests must never meet the default 100 events/s limit and be dropped.
  const plain = await tap(p.adminUrl, 'service=api&rate=10000');
  assert.equal(api.recordDecisions, false, 'a subscriber without decisions changes nothing');
  const why = await tap(p.adminUrl, 'decisions=1&rate=10000');
  assert.equal(api.recordDecisions, true);
  const apiEvents = (): Record<string, any>[] => why.events.filter((e) => e.service === 'api');
  const fastByCost = (): number => apiEvents().filter((e) => e.decision.rule === RULES.latencyCost && e.endpoint === fast).length;
  const s = await connect(p.port());
  // Rounds of 10 until latency cost has picked the fast endpoint 5 times: on a busy machine the
  // fast one's samples are noisy and the two stay "near-equal" for longer (bounded: 300 requests).
  let n = 0;
  while (n < 300 && fastByCost() < 5) {
    for (let i = 0; i < 10; i++) await h2Request(s, { ':path': `/x/${n++}` });
    await why.waitFor(n);
  }
  for (let i = 0; i < 4; i++) await h2Request(s, { ':path': `/rr/${i}` });
  await closeSession(s);
  await why.waitFor(n + 4);
  await plain.waitFor(n);
  assert.equal(plain.events.length, n);
  assert.ok(plain.events.every((e) => e.decision === undefined), 'only subscribers that asked get decisions');
  assert.equal(apiEvents().length, n);
  for (const e of apiEvents()) {
    const d = e.decision;
    assert.equal(d.policy, 'peak-ewma');
    assert.equal(d.chosen, e.endpoint, 'the decision names the endpoint the request went to');
    assert.ok(P2C_RULES.includes(d.rule), d.rule);
    assert.equal(d.candidates.length, 2);
    assert.deepEqual(d.candidates.map((c: { id: string }) => c.id).sort(), [fast, slow].sort());
    for (const c of d.candidates) assert.ok(typeof c.latencyMs === 'number' && typeof c.pending === 'number' && typeof c.cost === 'number');
    if (d.rule !== RULES.latencyCost) continue;
    // Latency cost picks the cheaper candidate, by the figures the decision shows.
    const [chosen, other] = [...d.candidates].sort((a: { id: string }, b: { id: string }) => (a.id === d.chosen ? -1 : b.id === d.chosen ? 1 : 0));
    assert.ok(chosen.cost <= other.cost, JSON.stringify(d));
  }
  // Once both are measured, the 25 ms endpoint is told apart: latency cost picks the fast one.
  assert.ok(fastByCost() >= 5, `${fastByCost()} latency-cost decisions for the fast endpoint in ${n} requests`);
  const rr = why.events.filter((e) => e.service === 'rr');
  assert.deepEqual(rr.map((e) => e.decision.rule), new Array(4).fill(RULES.roundRobin));
  assert.ok(rr.every((e) => e.decision.candidates.length === 1 && e.decision.chosen === e.endpoint));
  why.close();
  await until(() => !api.recordDecisions, 'decisions off');
  assert.equal(p.proxy.services.get('rr')!.recordDecisions, false);
  plain.close();
});

test('switchyard tap --decisions prints the decision under each request line', async (t) => {
  const { p, fast, slow } = await setup(t);
  const out: string[] = [];
  const sink = new Writable({ write(c: Buffer, _e, cb) { out.push(c.toString()); cb(); } });
  const done = runTap(['--admin', p.adminUrl.slice('http://'.length), '--service', 'rr', '--decisions', '--max', '2'], sink, sink);
  await until(() => p.proxy.services.get('rr')!.recordDecisions, 'the CLI subscribed');
  const s = await connect(p.port());
  for (let i = 0; i < 2; i++) await h2Request(s, { ':path': `/rr/${i}` });
  await closeSession(s);
  assert.equal(await done, 0);
  const lines = out.join('').trimEnd().split('\n');
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.match(lines[0]!, /edge\/rr rr GET \/rr\/0 -> 127\.0\.0\.1:\d+ status=200/);
  assert.match(lines[1]!, /^ {4}why: round-robin \| \*127\.0\.0\.1:\d+ lat=[\d.]+±[\d.]+ms q=0 w=1$/);
  const picked = [lines[1]!, lines[3]!].map((l) => /\*(\S+)/.exec(l)![1]);
  assert.deepEqual(picked.sort(), [fast, slow].sort(), 'round robin alternates');
  await until(() => !p.proxy.services.get('rr')!.recordDecisions, 'decisions off after the CLI left');
});

test('access log with accessLogDecisions: every line carries its decision', async (t) => {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  const { p } = await setup(t, { accessLog: pino({ base: null }, sink), accessLogDecisions: true });
  assert.equal(p.proxy.services.get('api')!.recordDecisions, true);
  const s = await connect(p.port());
  for (let i = 0; i < 3; i++) await h2Request(s, { ':path': `/rr/${i}` });
  await closeSession(s);
  await until(() => lines.length >= 3, 'three access log lines');
  for (const l of lines) {
    assert.equal(l.decision.rule, RULES.roundRobin);
    assert.equal(l.decision.chosen, l.endpoint);
    assert.equal(l.decision.summary, RULES.roundRobin);
  }
});
