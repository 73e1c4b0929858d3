import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Logger } from '../telemetry/json-log.js';
import { workerTicketEnv } from '../security/session-tickets.js';
import type { WorkerMessage } from '../telemetry/cluster-export.js';

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

export const isPrimaryProcess = (): boolean => cluster.isPrimary;

/** A running worker process; a replacement keeps the index of the worker it replaces. */
export interface WorkerSlot {
  index: number;
  worker: Worker;
  pid: number;
  startedAt: number;
  /** Set once the worker reported that it serves. */
  up: boolean;
  /** Its private admin socket, for routes the primary relays. */
  admin: string | undefined;
}

export interface SuperviseOptions {
  count: number;
  log: Logger;
  /** Environment added for every worker. */
  env?: Record<string, string>;
  /** A worker reported that it serves (a replacement included). */
  up?: (slot: WorkerSlot) => void;
  exited?: (slot: WorkerSlot) => void;
}

/** A worker that lived this long restarts after the shortest delay again. */
const STABLE_MS = 10_000;

/**
 * Runs `count` worker processes that share the listening ports (node:cluster:
 * the primary holds the listening sockets and hands connections to workers in
 * turn, so a dying worker does not close a port while another one serves it).
 * A worker that dies is replaced after a short delay that grows while
 * replacements keep dying young. A worker of the first start that exits with
 * an error before serving (a port taken, a certificate unusable) stops the
 * whole process with exit code 1. SIGTERM / SIGINT are passed on and
 * `stopped` resolves with 0 once every worker has drained and exited; SIGHUP
 * is passed on to every worker (configuration reload) and never ends the
 * primary.
 */
export class WorkerSupervisor {
  /** Running workers by index. */
  readonly slots = new Map<number, WorkerSlot>();
  restarts = 0;
  readonly stopped: Promise<number>;
  private stopping = false;
  private code = 0;
  private resolve!: (code: number) => void;
  private readonly streak = new Map<number, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly onSignal = (signal: NodeJS.Signals): void => this.signal(signal);

  constructor(private readonly o: SuperviseOptions) {
    this.stopped = new Promise((r) => (this.resolve = r));
    for (let i = 0; i < o.count; i++) this.fork(i, true);
    o.log.info({ workers: o.count }, 'workers started');
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
    process.on('SIGHUP', this.onSignal);
  }

  private fork(index: number, first: boolean): void {
    if (this.stopping) return;
    // One TLS session ticket secret for all workers: a ticket resumes whichever worker the client lands on.
    const worker = cluster.fork({ ...workerTicketEnv(), ...this.o.env, SWITCHYARD_WORKER: String(index) });
    const slot: WorkerSlot = { index, worker, pid: worker.process.pid ?? 0, startedAt: Date.now(), up: false, admin: undefined };
    this.slots.set(index, slot);
    worker.on('message', (m: WorkerMessage | null) => {
      if (m?.swy !== 'up') return;
      slot.up = true;
      slot.admin = m.admin;
      this.o.up?.(slot);
    });
    worker.on('exit', (code, signal) => {
      if (this.slots.get(index) === slot) this.slots.delete(index);
      this.o.exited?.(slot);
      if (this.stopping) {
        if (this.slots.size === 0) this.finish(0);
        return;
      }
      if (first && !slot.up && signal === null && code !== 0) {
        this.o.log.error({ worker: index, code }, 'worker could not start; stopping');
        this.stop('SIGTERM', 1);
        return;
      }
      const lived = Date.now() - slot.startedAt;
      const streak = lived >= STABLE_MS ? 0 : (this.streak.get(index) ?? 0) + 1;
      this.streak.set(index, streak);
      const delay = Math.min(10_000, 100 * 2 ** Math.min(streak, 10));
      this.o.log.error({ worker: index, pid: slot.pid, code, signal, restartInMs: delay }, 'worker exited; starting another');
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.restarts++;
        this.fork(index, false);
      }, delay);
      this.timers.add(timer);
    });
  }

  private signal(signal: NodeJS.Signals): void {
    if (signal !== 'SIGHUP') {
      this.stop(signal, 0);
      return;
    }
    // Workers still starting read the configuration file as they start.
    const serving = [...this.slots.values()].filter((s) => s.up);
    this.o.log.info({ signal, workers: serving.map((s) => s.pid) }, 'passing the signal to the workers');
    for (const s of serving) s.worker.process.kill('SIGHUP');
  }

  private stop(signal: NodeJS.Signals, code: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.code = code;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.o.log.info({ signal }, 'stopping workers');
    for (const s of this.slots.values()) s.worker.process.kill(signal);
    if (this.slots.size === 0) this.finish(code);
  }

  private finish(code: number): void {
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
    process.off('SIGHUP', this.onSignal);
    this.resolve(Math.max(code, this.code));
  }
}
