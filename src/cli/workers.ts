import cluster from 'node:cluster';
import os from 'node:os';
import type { Logger } from 'pino';

/** `--workers N|auto`: the number of proxy processes (auto = one per core). */
export function resolveWorkerCount(value: string | number | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return Math.max(1, os.availableParallelism());
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new RangeError(`--workers must be a positive integer or "auto", got "${value}"`);
  return n;
}

/** Index of this worker process (0 for the first, or for a single-process run). */
export function workerIndex(): number {
  return Number(process.env.SWITCHYARD_WORKER ?? 0);
}

/**
 * Runs `count` worker processes that share the listening ports (node:cluster:
 * the primary accepts and hands connections to workers in turn). A worker that
 * dies is replaced after a short, growing delay. SIGTERM / SIGINT are passed on;
 * the primary exits 0 once every worker has drained and exited.
 */
export function superviseWorkers(count: number, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    let restarts = 0;
    const alive = new Set<number>();
    const fork = (index: number): void => {
      const w = cluster.fork({ SWITCHYARD_WORKER: String(index) });
      alive.add(w.id);
      w.on('exit', (code, signal) => {
        alive.delete(w.id);
        if (stopping) {
          if (alive.size === 0) resolve(0);
          return;
        }
        log.error({ worker: index, code, signal }, 'worker exited; starting another');
        const delay = Math.min(10_000, 100 * 2 ** Math.min(restarts++, 10));
        setTimeout(() => fork(index), delay).unref();
      });
    };
    for (let i = 0; i < count; i++) fork(i);
    log.info({ workers: count }, 'workers started');
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping workers');
      for (const id in cluster.workers) cluster.workers[id]?.process.kill(signal);
      if (alive.size === 0) resolve(0);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

export const isPrimaryProcess = (): boolean => cluster.isPrimary;
