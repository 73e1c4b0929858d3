import { claimsText, phaseText } from '../demo/report.js';
import { CONCURRENCY } from '../demo/phases.js';
import { Stage } from '../demo/stage.js';
import { runStory } from '../demo/story.js';
import { parseArgs, stringFlag } from './args.js';

export const DEMO_USAGE = `Usage: switchyard demo [--json] [--keep] [--seed N] [--admin HOST:PORT]

Starts three local gRPC replicas of a Square service (each answers with its
name) and one Switchyard with the default balancer in front of them, then
tells the story over one client connection, in five phases:
  l4           through a tcp listener (per connection, like kube-proxy): one replica gets it all
  per-request  through Switchyard: spread evenly
  slow         square-b becomes 20x slower: traffic moves away from it
  kill         square-c is killed while calls flow: no call fails
  scale-out    square-d and square-e join through the endpoints file: they take their share at once
Each phase checks its claim; the exit code is 1 when one does not hold (named on stderr).
  --json          print one JSON line with every phase and claim instead of the tables
  --keep          stay up afterwards (Ctrl-C to stop): dashboard, listeners and endpoints file to try
  --seed N        the balancer's random seed (default 1)
  --admin H:P     admin server (dashboard) address (default 127.0.0.1:0, any free port)`;

export async function runDemo(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let seed: number;
  let json: boolean;
  let keep: boolean;
  let adminListen: string;
  try {
    const p = parseArgs(args, ['keep', 'help', 'json']);
    if (p.flags.has('help')) {
      out.write(`${DEMO_USAGE}\n`);
      return 0;
    }
    seed = Number(stringFlag(p, 'seed') ?? 1);
    if (!Number.isInteger(seed) || seed < 0) throw new Error('--seed must be a non-negative integer');
    json = p.flags.has('json');
    keep = p.flags.has('keep');
    adminListen = stringFlag(p, 'admin') ?? '127.0.0.1:0';
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${DEMO_USAGE}\n`);
    return 2;
  }

  const stage = new Stage(seed);
  const result = await runStory(stage, {
    seed,
    adminListen,
    started: (s) => {
      if (json) return;
      out.write(`Three square replicas (${[...s.replicas.values()].map((r) => `${r.name} 127.0.0.1:${r.port}`).join(', ')}),\n`);
      out.write(`listed in ${s.endpointsFile}, behind one Switchyard (default balancer).\n`);
      out.write(`Each path below is one client connection with ${CONCURRENCY} calls in flight.\n\n`);
    },
    phaseDone: (p) => {
      if (!json) out.write(phaseText(p));
    },
  });
  if (json) out.write(`${JSON.stringify(result)}\n`);
  else out.write(result.ok ? claimsText(result.claims) : '');
  if (!result.ok) err.write(claimsText(result.claims));

  if (keep && result.ok) {
    const l7 = stage.listenerAddress('grpc');
    out.write(
      `\nStaying up (Ctrl-C to stop).\n` +
        `  dashboard       http://${stage.adminAddress}/dashboard   (switchyard stat --admin ${stage.adminAddress})\n` +
        `  per request     ${l7} (gRPC square.Square/Compute)\n` +
        `  per connection  ${stage.listenerAddress('l4')}\n` +
        `  endpoints file  ${stage.endpointsFile} (edit it: Switchyard follows)\n` +
        `Try a few calls (each curl is a new connection; the reply names its replica):\n` +
        `  for i in $(seq 20); do printf '\\0\\0\\0\\0\\2\\10\\7' | curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- http://${l7}/square.Square/Compute | grep -ao 'square-.'; done | sort | uniq -c\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await stage.stop();
  return result.ok ? 0 : 1;
}
