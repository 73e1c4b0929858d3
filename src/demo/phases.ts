/**
 * The demo's five phases. Each sends calls over one client connection and
 * returns what happened: who answered, what failed, the p99 and what the
 * phase did to the replicas.
 */
import type { Stage } from './stage.js';
import { quantile, sendCalls, type TrafficResult } from './traffic.js';

export const REPLICAS = ['square-a', 'square-b', 'square-c'] as const;
export const SLOW_REPLICA = 'square-b';
export const SLOWDOWN = 20;
export const KILLED_REPLICA = 'square-c';
export const ADDED_REPLICAS = ['square-d', 'square-e'] as const;

/** Calls in flight through Switchyard: a modest, steady load. */
export const CONCURRENCY = 6;

export interface PhaseResult {
  name: 'l4' | 'per-request' | 'slow' | 'kill' | 'scale-out';
  calls: number;
  /** Answers per replica, every replica started so far included (0 when it answered none). */
  counts: Record<string, number>;
  failed: number;
  p99Ms: number;
  /** slow: the slowed replica, the p99 of the phase before and of its second half. */
  slowReplica?: string;
  p99BeforeMs?: number;
  p99AfterMs?: number;
  /** slow: the median latency of the calls the slowed replica answered. */
  slowReplicaP50Ms?: number;
  /** kill: the killed replica and the calls it had received and not answered when it died. */
  killed?: string;
  inFlightAtKill?: number;
  /** scale-out: the replicas added, and how long the proxy took to follow the file. */
  added?: string[];
  discoveredAfterMs?: number;
  /** Failure messages (none expected). */
  errors?: Record<string, number>;
}

const ms = (v: number): number => Math.round(v * 10) / 10;

function result(stage: Stage, name: PhaseResult['name'], calls: number, t: TrafficResult): PhaseResult {
  const counts: Record<string, number> = {};
  for (const r of stage.replicas.keys()) counts[r] = t.counts.get(r) ?? 0;
  const out: PhaseResult = { name, calls, counts, failed: t.failed, p99Ms: ms(quantile(t.latencies, 0.99)) };
  if (t.errors.size > 0) out.errors = Object.fromEntries(t.errors);
  return out;
}

/** 1. One connection through the tcp listener: balanced once, when it was opened. */
export async function l4Phase(stage: Stage): Promise<PhaseResult> {
  const calls = 300;
  return result(stage, 'l4', calls, await sendCalls(stage.client('l4'), { calls, concurrency: CONCURRENCY }));
}

/** 2. The same through Switchyard: every call is balanced on its own. */
export async function perRequestPhase(stage: Stage): Promise<PhaseResult> {
  const calls = 900;
  return result(stage, 'per-request', calls, await sendCalls(stage.client('grpc'), { calls, concurrency: CONCURRENCY }));
}

/** 3. One replica becomes 20× slower; it is made healthy again at the end of the phase. */
export async function slowPhase(stage: Stage, before: PhaseResult): Promise<PhaseResult> {
  const calls = 1500;
  const slow = stage.replica(SLOW_REPLICA);
  slow.slowDown(SLOWDOWN);
  const t = await sendCalls(stage.client('grpc'), { calls, concurrency: CONCURRENCY });
  slow.slowDown(1);
  const out = result(stage, 'slow', calls, t);
  out.slowReplica = SLOW_REPLICA;
  out.p99BeforeMs = before.p99Ms;
  out.p99AfterMs = ms(quantile(t.latencies.slice(t.latencies.length >> 1), 0.99));
  out.slowReplicaP50Ms = ms(quantile(t.latencies.filter((_, i) => t.answeredBy[i] === SLOW_REPLICA), 0.5));
  return out;
}

/** Longest wait, once the kill is due, for the victim to hold calls (it is killed then anyway). */
const KILL_WAIT_MS = 1_000;

/**
 * 4. One replica is killed while calls flow: a third into the phase, at a
 * moment it holds calls, its connections close with those calls unanswered.
 */
export async function killPhase(stage: Stage): Promise<PhaseResult> {
  const calls = 900;
  const victim = stage.replica(KILLED_REPLICA);
  let inFlight = 0;
  const arm = (): void => {
    const due = Date.now() + KILL_WAIT_MS;
    const poll = setInterval(() => {
      if (victim.inFlight === 0 && Date.now() < due) return;
      clearInterval(poll);
      inFlight = victim.inFlight;
      victim.kill();
    }, 1);
  };
  const t = await sendCalls(stage.client('grpc'), { calls, concurrency: CONCURRENCY, at: { completed: calls / 3, run: arm } });
  const out = result(stage, 'kill', calls, t);
  out.killed = KILLED_REPLICA;
  out.inFlightAtKill = inFlight;
  return out;
}

/**
 * 5. Two replicas start and the endpoints file is rewritten as a deployment
 * tool would: the new ones listed, the killed one gone.
 */
export async function scaleOutPhase(stage: Stage): Promise<PhaseResult> {
  const calls = 1000;
  for (const n of ADDED_REPLICAS) await stage.addReplica(n);
  const members = [...stage.replicas.keys()].filter((n) => n !== KILLED_REPLICA);
  const t0 = Date.now();
  stage.writeEndpoints(members);
  await stage.waitForEndpoints(members);
  const discoveredAfterMs = Date.now() - t0;
  const out = result(stage, 'scale-out', calls, await sendCalls(stage.client('grpc'), { calls, concurrency: CONCURRENCY }));
  out.added = [...ADDED_REPLICAS];
  out.discoveredAfterMs = discoveredAfterMs;
  return out;
}
