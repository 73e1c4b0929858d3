import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtSpread, median, spreadFootnote, spreadOf, SPREAD_MARK } from '../../../bench/lib/stats.js';
import { table } from '../../../bench/lib/report.js';

test('median of an odd and an even count, non-finite values left out', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([NaN, 5, Infinity, 1]), 3);
  assert.ok(Number.isNaN(median([])));
});

test('spread is (max - min) / median and flags above 20% only', () => {
  const calm = spreadOf([10, 11, 12, 10.5, 11.5]);
  assert.deepEqual(
    { median: calm.median, min: calm.min, max: calm.max, n: calm.n, flagged: calm.flagged },
    { median: 11, min: 10, max: 12, n: 5, flagged: false },
  );
  assert.ok(Math.abs(calm.spread - 2 / 11) < 1e-12);
  // Exactly 20% is not flagged; just above is.
  assert.equal(spreadOf([9, 10, 11]).flagged, false);
  assert.equal(spreadOf([9, 10, 11.01]).flagged, true);
  const noisy = spreadOf([100, 80, 130, NaN]);
  assert.equal(noisy.n, 3);
  assert.equal(noisy.flagged, true);
});

test('a figure without finite values is empty and never flagged', () => {
  const s = spreadOf([NaN, NaN]);
  assert.equal(s.n, 0);
  assert.equal(s.flagged, false);
  assert.equal(fmtSpread(s, String), '-');
  assert.equal(fmtSpread(undefined, String), '-');
});

test('a figure prints as median (min-max), marked when flagged, the median alone for one run', () => {
  const fmt = (n: number) => n.toFixed(1);
  assert.equal(fmtSpread(spreadOf([10, 11, 12]), fmt), '11.0 (10.0-12.0)');
  assert.equal(fmtSpread(spreadOf([10, 15, 20]), fmt), `15.0 (10.0-20.0)${SPREAD_MARK}`);
  assert.equal(fmtSpread(spreadOf([7]), fmt), '7.0');
  assert.equal(fmtSpread(spreadOf([7, 7]), fmt), '7.0');
});

test('the footnote appears only when a flagged figure is shown', () => {
  assert.equal(spreadFootnote(false), '');
  const note = spreadFootnote(true);
  assert.ok(note.startsWith(SPREAD_MARK));
  assert.match(note, /20%/);
});

test('table cells holding median (min-max) keep every row the same width', () => {
  const rows = [
    ['HAProxy tuned', fmtSpread(spreadOf([13.1, 13.4, 13.7]), (n) => n.toFixed(1))],
    ['Switchyard', fmtSpread(spreadOf([15, 18.6, 22.2]), (n) => n.toFixed(1))],
  ];
  const lines = table(['system', 'CPU us/req'], rows).split('\n');
  assert.equal(lines.length, 4);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1);
  assert.ok(lines[3]!.includes(`18.6 (15.0-22.2)${SPREAD_MARK}`));
});
