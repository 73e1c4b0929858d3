/**
 * The story the demo tells, phase by phase, on one client connection: an L4
 * hop pins it to one replica; Switchyard spreads it evenly, moves away from a
 * replica that slows down, loses no call when one is killed, and gives new
 * replicas their share the moment the endpoints file lists them.
 */
import { performance } from 'node:perf_hooks';
import { checkClaims, type Claim } from './claims.js';
import { killPhase, l4Phase, perRequestPhase, REPLICAS, scaleOutPhase, slowPhase, type PhaseResult } from './phases.js';
import { Stage } from './stage.js';

/** The whole story must end well within a minute; past this it is a failure, not a slow run. */
export const STORY_LIMIT_MS = 80_000;

export interface StoryOptions {
  seed: number;
  /** Admin server address ("127.0.0.1:0" = any free port). */
  adminListen: string;
  /** Told when the stage is up, and after each phase (the live text output). */
  started?(stage: Stage): void;
  phaseDone?(phase: PhaseResult): void;
}

export interface StoryResult {
  phases: PhaseResult[];
  claims: Claim[];
  ok: boolean;
  seed: number;
  durationMs: number;
}

async function phases(stage: Stage, o: StoryOptions, done: PhaseResult[]): Promise<void> {
  const step = async (p: Promise<PhaseResult>): Promise<PhaseResult> => {
    const r = await p;
    done.push(r);
    o.phaseDone?.(r);
    return r;
  };
  await step(l4Phase(stage));
  const even = await step(perRequestPhase(stage));
  await step(slowPhase(stage, even));
  await step(killPhase(stage));
  await step(scaleOutPhase(stage));
}

/**
 * Runs the story on `stage` (started here; the caller stops it, so that
 * `--keep` can leave it running). A phase that throws, or a story past
 * STORY_LIMIT_MS, ends it with the claims of the phases done so far and a
 * failed claim naming what went wrong.
 */
export async function runStory(stage: Stage, o: StoryOptions): Promise<StoryResult> {
  const t0 = performance.now();
  const done: PhaseResult[] = [];
  let problem: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the demo did not finish within ${STORY_LIMIT_MS / 1000} s`)), STORY_LIMIT_MS);
  });
  try {
    await Promise.race([
      (async () => {
        await stage.start(REPLICAS, o.adminListen);
        o.started?.(stage);
        await phases(stage, o, done);
      })(),
      limit,
    ]);
  } catch (e) {
    problem = (e as Error).message;
  } finally {
    clearTimeout(timer);
  }
  const claims = checkClaims(done);
  if (problem !== undefined) claims.push({ phase: ['l4', 'per-request', 'slow', 'kill', 'scale-out'][done.length] as PhaseResult['name'], claim: 'the phase runs to its end', holds: false, measured: problem });
  return { phases: done, claims, ok: claims.every((c) => c.holds), seed: o.seed, durationMs: Math.round(performance.now() - t0) };
}
