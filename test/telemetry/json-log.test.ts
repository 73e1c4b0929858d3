import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import test from 'node:test';
import type pinoType from 'pino';
import { jsonLogger, type Logger } from '../../src/telemetry/json-log.js';

const pino = createRequire(import.meta.url)('pino') as typeof pinoType;

/** The same calls on any logger: every shape of line the proxy writes, and pino's edge cases. */
function exercise(l: Logger): void {
  l.info('plain');
  l.info({ a: 1, b: 'x', u: undefined, n: null, nested: { k: [1, 2] } }, 'with fields');
  l.child({ component: 'identity' }).warn({ x: 1 }, 'child');
  l.child({ component: 'c' }).child({ d: 2 }).error('grandchild');
  const e = Object.assign(new Error('boom'), { code: 'E1', stack: 'S1' });
  l.error({ err: e }, 'start failed');
  const outer = new Error('outer', { cause: Object.assign(new Error('inner'), { stack: 'S2' }) });
  outer.stack = 'S0';
  l.warn({ err: outer }, 'with a cause');
  const t = Object.assign(new TypeError('t'), { stack: 'S3' });
  l.error(t, 'an error first');
  l.error(t);
  const agg = new AggregateError([Object.assign(new Error('x'), { stack: 'S5' })], 'agg');
  agg.stack = 'S4';
  l.error({ err: agg }, 'aggregate');
  const c: Record<string, unknown> = { a: 1 };
  c.self = c;
  l.info({ c }, 'circular');
  l.info({ b: 10n, d: new Date(0) }, 'bigint and date');
  l.info({ s: 'quote"\n\u2028' }, 'q"uote');
  l.info({ a: 1 });
  l.debug('below the level');
  l.level = 'debug';
  l.debug('at the level');
  l.level = 'silent';
  l.fatal('silent');
  l.level = 'info';
  l.info({ err: 'not an error' }, 'done');
}

test('the process log writes the lines pino writes: fields, children, levels, errors with causes', () => {
  const ours: string[] = [];
  const theirs: string[] = [];
  exercise(jsonLogger({ level: 'info', base: { name: 'switchyard' }, write: (s) => ours.push(s) }));
  exercise(pino({ level: 'info', base: { name: 'switchyard' } }, { write: (s: string) => theirs.push(s) }) as unknown as Logger);
  const noTime = (s: string): string => s.replace(/"time":\d+/, '"time":0');
  assert.equal(ours.length, 15);
  assert.deepEqual(ours.map(noTime), theirs.map(noTime));
  for (const line of ours) assert.ok(line.endsWith('}\n') && JSON.parse(line).level >= 20);
});

test('the log level: changed at run time, silent writes nothing, an unknown one is refused', () => {
  const lines: string[] = [];
  const log = jsonLogger({ level: 'warn', base: { name: 'switchyard' }, write: (s) => lines.push(s) });
  log.info('dropped');
  log.warn('kept');
  log.level = 'silent';
  log.fatal('dropped');
  assert.equal(log.level, 'silent');
  assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ['kept']);
  assert.throws(() => (log.level = 'verbose'), /unknown log level "verbose"/);
  assert.throws(() => jsonLogger({ level: 'loud', base: {} }), /unknown log level/);
});
