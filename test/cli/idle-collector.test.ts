import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import test from 'node:test';
import { startIdleCollector } from '../../src/cli/idle-collector.js';
import { waitFor } from '../helpers/wait.js';

/** Keeps the event loop busy for `ms`, in slices so that timers still run in between. */
function spin(ms: number): Promise<void> {
  const end = performance.now() + ms;
  return new Promise((resolve) => {
    const slice = (): void => {
      const until = Math.min(end, performance.now() + 10);
      while (performance.now() < until);
      if (performance.now() < end) setImmediate(slice);
      else resolve();
    };
    slice();
  });
}

function gcCounter(kind: number): { count: () => number; stop: () => void } {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === kind) n++;
  });
  obs.observe({ entryTypes: ['gc'] });
  return { count: () => n, stop: () => obs.disconnect() };
}

test('runs one full collection when the process goes quiet after activity, and none while it stays quiet', async () => {
  const gcs = gcCounter(constants.NODE_PERFORMANCE_GC_MAJOR);
  const c = startIdleCollector({ intervalMs: 40, minBusyMs: 20, quietUtilization: 0.2, shrinkAfterMs: 1e9 });
  try {
    // Start-up counts as activity: the first quiet check collects.
    await waitFor(() => c.collections === 1, 'the collection after start-up');
    await waitFor(() => gcs.count() >= 1, 'a major GC reported');
    // Quiet without activity: nothing more to collect over several checks.
    const checks = c.checks;
    await waitFor(() => c.checks >= checks + 5, 'five more checks');
    assert.equal(c.collections, 1);
    await spin(150);
    await waitFor(() => c.collections === 2, 'the collection after the busy period');
  } finally {
    c.stop();
    gcs.stop();
  }
});

test('after a longer quiet period, collects the young generation once', async () => {
  const minor = gcCounter(constants.NODE_PERFORMANCE_GC_MINOR);
  const c = startIdleCollector({ intervalMs: 40, minBusyMs: 20, quietUtilization: 0.2, shrinkAfterMs: 200 });
  try {
    await waitFor(() => c.collections === 2, 'the full and the young-generation collection');
    await waitFor(() => minor.count() >= 1, 'a minor GC reported');
    const checks = c.checks;
    await waitFor(() => c.checks >= checks + 8, 'eight more checks');
    assert.equal(c.collections, 2);
  } finally {
    c.stop();
    minor.stop();
  }
});

test('does not collect while the event loop stays busy', async () => {
  const c = startIdleCollector({ intervalMs: 40, minBusyMs: 20, quietUtilization: 0.2 });
  try {
    await spin(400);
    assert.equal(c.collections, 0);
  } finally {
    c.stop();
  }
});
