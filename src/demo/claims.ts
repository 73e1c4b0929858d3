/**
 * What the demo claims, checked against what it measured: a demo that only
 * printed numbers could quietly stop telling the truth.
 */
import { ADDED_REPLICAS, type PhaseResult } from './phases.js';

export interface Claim {
  phase: PhaseResult['name'];
  claim: string;
  holds: boolean;
  /** What was measured. */
  measured: string;
}

/** Largest distance of a replica's share from an even share, relative to it. */
export const EVEN_TOLERANCE = 0.08;
export const SLOW_MAX_SHARE = 0.05;
export const ADDED_MIN_SHARE = 0.1;

const pct = (n: number, of: number): string => `${((100 * n) / of).toFixed(1)}%`;

function phase(phases: readonly PhaseResult[], name: PhaseResult['name']): PhaseResult | undefined {
  return phases.find((p) => p.name === name);
}

export function checkClaims(phases: readonly PhaseResult[]): Claim[] {
  const claims: Claim[] = [];
  const l4 = phase(phases, 'l4');
  if (l4 !== undefined) {
    const top = Math.max(...Object.values(l4.counts));
    claims.push({ phase: 'l4', claim: 'one replica answers every call of the connection', holds: top === l4.calls, measured: Object.entries(l4.counts).map(([r, n]) => `${r} ${n}`).join(', ') });
  }
  const even = phase(phases, 'per-request');
  if (even !== undefined) {
    const fair = even.calls / Object.keys(even.counts).length;
    const off = Math.max(...Object.values(even.counts).map((n) => Math.abs(n - fair) / fair));
    claims.push({
      phase: 'per-request',
      claim: `each replica within ±${EVEN_TOLERANCE * 100}% of an even share`,
      holds: off <= EVEN_TOLERANCE,
      measured: `${Object.entries(even.counts).map(([r, n]) => `${r} ${n}`).join(', ')} (even: ${fair.toFixed(0)}; farthest ${(off * 100).toFixed(1)}% off)`,
    });
  }
  const slow = phase(phases, 'slow');
  if (slow !== undefined) {
    const n = slow.counts[slow.slowReplica!] ?? 0;
    claims.push({ phase: 'slow', claim: `the slowed replica gets under ${SLOW_MAX_SHARE * 100}% of calls`, holds: n < SLOW_MAX_SHARE * slow.calls, measured: `${slow.slowReplica} ${n} of ${slow.calls} (${pct(n, slow.calls)})` });
  }
  const kill = phase(phases, 'kill');
  if (kill !== undefined) {
    claims.push({ phase: 'kill', claim: 'no call fails when a replica is killed', holds: kill.failed === 0, measured: `${kill.failed} of ${kill.calls} failed${kill.errors === undefined ? '' : `: ${Object.keys(kill.errors).join('; ')}`}` });
  }
  const out = phase(phases, 'scale-out');
  if (out !== undefined) {
    const shares = ADDED_REPLICAS.map((r) => out.counts[r] ?? 0);
    claims.push({
      phase: 'scale-out',
      claim: `each new replica takes at least ${ADDED_MIN_SHARE * 100}% of calls`,
      holds: shares.every((n) => n >= ADDED_MIN_SHARE * out.calls),
      measured: ADDED_REPLICAS.map((r, i) => `${r} ${pct(shares[i]!, out.calls)}`).join(', '),
    });
  }
  return claims;
}
