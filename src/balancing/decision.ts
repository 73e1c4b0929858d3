/**
 * "Why this endpoint?": the record a policy fills when asked to explain a
 * pick. The proxy passes one only while somebody wants to see decisions (a
 * tap subscriber asked for them, or the access log logs them); otherwise
 * `pick` gets none and does no extra work. Policies write plain numbers and
 * constant rule strings into it; text is made only when it is shown
 * (describeDecision), off the pick path.
 */
import type { Balanceable } from './types.js';

/** One endpoint the policy looked at, with the inputs of its cost. NaN = not used by this policy. */
export class DecisionCandidate {
  id = '';
  /** The latency the policy compared (ms): smoothed mean, or the failure penalty when higher. */
  latencyMs = Number.NaN;
  /** Mean absolute deviation of the latency samples (ms). */
  deviationMs = Number.NaN;
  /** Requests in flight when it was picked. */
  pending = 0;
  /** The weight the policy used (configured × slow start, or an ORCA weight). */
  weight = Number.NaN;
  /** The endpoint's own utilization report (ORCA), 0–1. */
  utilization = Number.NaN;
  /** The policy's cost (lower wins). */
  cost = Number.NaN;
  /** Topology zone ('' when unknown). */
  zone = '';
}

/** How a zone-aware balancer chose between the local zone and all zones. */
export type ZoneChoice = '' | 'local' | 'spill' | 'local-empty';

export class PickDecision {
  /** The policy that picked (`peak-ewma`, `ring-hash`…). */
  policy = '';
  /** The rule that decided, a constant such as `p2c: latency cost` (see RULES). */
  rule = '';
  /** Candidates[0..count) are this pick's. The array only grows, so a reused record stops allocating. */
  readonly candidates: DecisionCandidate[] = [];
  count = 0;
  /** Index in `candidates` of the one picked, -1 when none. */
  chosen = -1;
  /** The hash key a hash policy used, undefined when none. */
  hashKey: string | undefined = undefined;
  /** Zone-aware: which subset the request went to, the local zone's load, the threshold and the spill probability. */
  zone: ZoneChoice = '';
  zoneLoad = Number.NaN;
  zoneThreshold = Number.NaN;
  spill = Number.NaN;
  /** The service was in panic mode: health and ejection were ignored. */
  panic = false;
  /** The endpoint a retry avoided ('' when none). */
  avoided = '';

  /** Forgets the previous pick (a retry reuses the record). */
  reset(): void {
    this.policy = '';
    this.rule = '';
    this.count = 0;
    this.chosen = -1;
    this.hashKey = undefined;
    this.zone = '';
    this.zoneLoad = Number.NaN;
    this.zoneThreshold = Number.NaN;
    this.spill = Number.NaN;
    this.panic = false;
    this.avoided = '';
  }

  /** Drops the candidates of a pick that was superseded (a re-pick after avoiding an endpoint). */
  clearCandidates(): void {
    this.count = 0;
    this.chosen = -1;
    this.hashKey = undefined;
  }

  /** Appends a candidate filled with what every policy can read of an endpoint; returns it for the policy's own figures. */
  add(e: Balanceable): DecisionCandidate {
    let c = this.candidates[this.count];
    if (c === undefined) {
      c = new DecisionCandidate();
      this.candidates.push(c);
    }
    this.count++;
    const load = e.load;
    c.id = e.id;
    c.latencyMs = load.rttMean;
    c.deviationMs = load.rttDeviation;
    c.pending = load.pending;
    c.weight = e.weight;
    const u = load.utilization;
    c.utilization = u === undefined ? Number.NaN : u;
    c.cost = Number.NaN;
    const z = (e as { zone?: unknown }).zone;
    c.zone = typeof z === 'string' ? z : '';
    return c;
  }

  /** Marks the candidate with this id as the one picked. */
  choose(id: string): void {
    for (let i = 0; i < this.count; i++) {
      if (this.candidates[i]!.id === id) {
        this.chosen = i;
        return;
      }
    }
  }
}

/** Records a pick that compared nothing: the one endpoint taken, with the weight the policy used (NaN: the configured one). */
export function explainSingle(d: PickDecision, policy: string, rule: string, e: Balanceable, weight: number): void {
  d.policy = policy;
  d.rule = rule;
  const c = d.add(e);
  if (!Number.isNaN(weight)) c.weight = weight;
  d.chosen = d.count - 1;
}

/** Records a hash policy's pick: the key's owner, whatever its load. */
export function explainHash(d: PickDecision, policy: string, hashKey: string, e: Balanceable): void {
  explainSingle(d, policy, RULES.hash, e, Number.NaN);
  d.hashKey = hashKey;
}

/** The rules policies report. One place, so that the docs and tests name the same strings. */
export const RULES = {
  only: 'only candidate',
  nearEqualFewer: 'p2c: near-equal → fewer in flight',
  nearEqualLeastRecent: 'p2c: near-equal → least recently picked',
  nearEqualWeighted: 'p2c: near-equal → weighted draw',
  nearEqualUtilization: 'p2c: near-equal → draw by 1 / (1 + utilization)',
  latencyCost: 'p2c: latency cost',
  fewerInFlight: 'least-request: fewer in flight',
  leastRequestWeighted: 'least-request: weight / (in flight + 1)',
  roundRobin: 'round-robin',
  weightedRoundRobin: 'weighted-round-robin',
  weightedRoundRobinOrca: 'weighted-round-robin: ORCA weights',
  random: 'random',
  randomWeighted: 'random: weighted',
  hash: 'hash: key → endpoint',
  none: 'no endpoint',
} as const;

/** A decision as JSON (tap events, access log). */
export interface DecisionJson {
  policy: string;
  rule: string;
  /** The rule in one line, with the zone, panic and retry notes: what `switchyard tap --decisions` prints. */
  summary: string;
  chosen: string;
  hashKey?: string;
  zone?: { choice: string; load: number; threshold: number; spill: number };
  panic?: boolean;
  avoided?: string;
  candidates: { id: string; latencyMs?: number; deviationMs?: number; pending: number; weight?: number; utilization?: number; cost?: number; zone?: string }[];
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The zone, panic and retry notes and the rule, e.g. `zone: local (load 0.42 < 0.7); p2c: latency cost`. */
export function decisionSummary(d: PickDecision): string {
  const parts: string[] = [];
  if (d.panic) parts.push('panic');
  if (d.zone === 'local') {
    parts.push(d.spill > 0 ? `zone: local (load ${round(d.zoneLoad)} > ${d.zoneThreshold}, spill p=${round(d.spill)} not drawn)` : `zone: local (load ${round(d.zoneLoad)} ≤ ${d.zoneThreshold})`);
  }
  else if (d.zone === 'spill') parts.push(`zone: spill (p=${round(d.spill)})`);
  else if (d.zone === 'local-empty') parts.push('zone: no local endpoint → all');
  if (d.avoided !== '') parts.push(`retry avoided ${d.avoided}`);
  parts.push(d.rule === '' ? RULES.none : d.rule);
  return parts.join('; ');
}

export function decisionJson(d: PickDecision): DecisionJson {
  const out: DecisionJson = {
    policy: d.policy,
    rule: d.rule,
    summary: decisionSummary(d),
    chosen: d.chosen >= 0 ? d.candidates[d.chosen]!.id : '',
    candidates: [],
  };
  if (d.hashKey !== undefined) out.hashKey = d.hashKey;
  if (d.zone !== '') out.zone = { choice: d.zone, load: round(d.zoneLoad), threshold: d.zoneThreshold, spill: round(d.spill) };
  if (d.panic) out.panic = true;
  if (d.avoided !== '') out.avoided = d.avoided;
  for (let i = 0; i < d.count; i++) {
    const c = d.candidates[i]!;
    const j: DecisionJson['candidates'][number] = { id: c.id, pending: c.pending };
    if (!Number.isNaN(c.latencyMs)) j.latencyMs = round(c.latencyMs);
    if (!Number.isNaN(c.deviationMs)) j.deviationMs = round(c.deviationMs);
    if (!Number.isNaN(c.weight)) j.weight = round(c.weight);
    if (!Number.isNaN(c.utilization)) j.utilization = round(c.utilization);
    if (!Number.isNaN(c.cost)) j.cost = round(c.cost);
    if (c.zone !== '') j.zone = c.zone;
    out.candidates.push(j);
  }
  return out;
}

/**
 * One compact line: the summary, then each candidate with its inputs, the
 * picked one marked `*`. E.g.
 * `p2c: latency cost | *10.0.0.1:80 lat=4.1±0.3ms q=0 w=1 cost=4.1 | 10.0.0.2:80 lat=9.8±0.5ms q=1 w=1 cost=19.6`
 */
export function formatDecision(d: DecisionJson): string {
  const parts = [d.hashKey === undefined ? d.summary : `${d.summary} (key ${JSON.stringify(d.hashKey)})`];
  for (const c of d.candidates) {
    let s = `${c.id === d.chosen ? '*' : ''}${c.id}`;
    if (c.latencyMs !== undefined) s += ` lat=${c.latencyMs}${c.deviationMs !== undefined ? `±${c.deviationMs}` : ''}ms`;
    s += ` q=${c.pending}`;
    if (c.weight !== undefined) s += ` w=${c.weight}`;
    if (c.utilization !== undefined) s += ` util=${c.utilization}`;
    if (c.zone !== undefined) s += ` zone=${c.zone}`;
    if (c.cost !== undefined) s += ` cost=${c.cost}`;
    parts.push(s);
  }
  return parts.join(' | ');
}
