/** The demo's words: a compact table and one sentence per phase. */
import type { Claim } from './claims.js';
import { SERVICE_TIME_MS } from './stage.js';
import { ADDED_REPLICAS, KILLED_REPLICA, SLOWDOWN, type PhaseResult } from './phases.js';

const TITLES: Record<PhaseResult['name'], string> = {
  l4: '1. l4 — one client connection through a tcp listener (as kube-proxy and L4 balancers do)',
  'per-request': '2. per-request — the same single connection through Switchyard',
  slow: `3. slow — one replica becomes ${SLOWDOWN}× slower`,
  kill: '4. kill — one replica is killed while calls flow',
  'scale-out': '5. scale-out — two replicas join through the endpoints file',
};

const pct = (n: number, of: number): string => `${Math.round((100 * n) / of)}%`;

function table(p: PhaseResult): string {
  const names = Object.keys(p.counts);
  const w = Math.max(9, ...names.map((n) => n.length + 2));
  const head = `   ${names.map((n) => n.padStart(w)).join('')}${'failed'.padStart(8)}${'p99'.padStart(10)}\n`;
  const row = `   ${names.map((n) => String(p.counts[n]).padStart(w)).join('')}${String(p.failed).padStart(8)}${`${p.p99Ms} ms`.padStart(10)}\n`;
  return head + row;
}

function sentence(p: PhaseResult): string {
  const c = p.counts;
  switch (p.name) {
    case 'l4': {
      const [top] = Object.entries(c).sort((x, y) => y[1] - x[1]);
      return `The connection was balanced once, when it opened: ${top![1]} of ${p.calls} calls went to ${top![0]}.`;
    }
    case 'per-request':
      return `Switchyard balances every call: the same kind of single connection is spread evenly (${Object.values(c).map((n) => pct(n, p.calls)).join(' / ')}).`;
    case 'slow': {
      const n = c[p.slowReplica!] ?? 0;
      return `${p.slowReplica} took ${p.slowReplicaP50Ms} ms a call instead of ~${SERVICE_TIME_MS} and got ${n} of ${p.calls} calls (${((100 * n) / p.calls).toFixed(1)}%), where an L4 or round-robin balancer keeps giving it a third and every caller's p99 ≥ ${p.slowReplicaP50Ms} ms; p99 ${p.p99BeforeMs} ms before, ${p.p99AfterMs} ms once traffic had moved. ${p.slowReplica} is back to normal speed now.`;
    }
    case 'kill':
      return `${p.killed} died with ${p.inFlightAtKill} call${p.inFlightAtKill === 1 ? '' : 's'} in flight; ${p.failed} of ${p.calls} calls failed: Switchyard sent again what ${p.killed} never answered (the route retries unavailable and reset).`;
    case 'scale-out':
      return `The endpoints file now lists ${ADDED_REPLICAS.join(' and ')} (and no longer ${KILLED_REPLICA}); Switchyard followed it in ${p.discoveredAfterMs} ms and the new replicas took ${ADDED_REPLICAS.map((r) => pct(c[r] ?? 0, p.calls)).join(' and ')} of the next ${p.calls} calls at once.`;
  }
}

export function phaseText(p: PhaseResult): string {
  let s = `${TITLES[p.name]}\n${table(p)}   ${sentence(p)}\n`;
  if (p.errors !== undefined) s += `   failures: ${Object.entries(p.errors).map(([m, n]) => `${n}× ${m}`).join('; ')}\n`;
  return `${s}\n`;
}

export function claimsText(claims: readonly Claim[]): string {
  const failed = claims.filter((c) => !c.holds);
  if (failed.length === 0) return `All ${claims.length} claims hold.\n`;
  return failed.map((c) => `claim failed: ${c.phase}: ${c.claim} — measured ${c.measured}\n`).join('');
}
