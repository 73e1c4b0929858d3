import type { MemoryBudget } from './memory-budget.js';

/** Why a client connection was refused, by index: the `reason` label of switchyard_listener_connections_rejected_total. */
export const REJECT_REASONS = ['max-connections', 'listener-max-connections', 'memory-budget'] as const;
export const RejectReason = { MAX_CONNECTIONS: 0, LISTENER_MAX_CONNECTIONS: 1, MEMORY_BUDGET: 2 } as const;

/**
 * Admission of client connections for the whole process: `limits.maxConnections`
 * over all listeners, each listener's own limit, and the memory budget.
 *
 * A refused connection is closed at once, before a byte is read (Envoy's
 * listener limits do the same; HAProxy instead stops accepting and leaves
 * connections in the kernel's backlog, where they wait without a timeout of
 * ours). Nothing is answered: which protocol the client speaks is not known
 * before reading, and reading is the work being refused. The client sees a
 * closed (or reset) connection and no request was processed, so any client
 * may retry it elsewhere.
 */
export class ConnectionLimits {
  /** Admitted connections still open, all listeners. */
  open = 0;

  constructor(
    readonly maxConnections: number,
    readonly memory: MemoryBudget | null = null,
  ) {}

  /**
   * -1 when the connection is admitted (then counted: call release() once
   * when it closes), else its RejectReason.
   */
  admit(listenerOpen: number, listenerMax: number): number {
    if (this.memory !== null && this.memory.over) return RejectReason.MEMORY_BUDGET;
    if (this.maxConnections > 0 && this.open >= this.maxConnections) return RejectReason.MAX_CONNECTIONS;
    if (listenerMax > 0 && listenerOpen >= listenerMax) return RejectReason.LISTENER_MAX_CONNECTIONS;
    this.open++;
    return -1;
  }

  release(): void {
    this.open--;
  }
}
