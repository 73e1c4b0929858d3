#!/bin/sh
//usr/bin/env true; exec /usr/bin/env node --max-semi-space-size=4 "$0" "$@"
// The two lines above are a shell prologue that is also valid JavaScript: run
// as a program, sh executes line 2 (`//usr/bin/env` is a path) and replaces
// itself with Node; Node strips line 1 and reads line 2 as a comment. It exists
// to pass V8 flags a shebang cannot carry portably. --max-semi-space-size=4
// caps V8's young generation at 4 MiB per semi-space: by default it grows to
// 16 MiB under load, resident memory the proxy does not need (docs/benchmarks.md,
// "Memory"). `node main.js` skips the prologue and runs with Node's defaults.
import { readFileSync } from 'node:fs';

type Command = (args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream) => Promise<number>;

/**
 * Commands are loaded on demand: `run` does not carry the demo's gRPC library
 * or the simulator, which keeps the proxy's resident memory down.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.js')).runRun,
  check: async () => (await import('./check.js')).runCheck,
  simulate: async () => (await import('./simulate.js')).runSimulate,
  demo: async () => (await import('./demo.js')).runDemo,
  stat: async () => (await import('./stat.js')).runStat,
  top: async () => (await import('./top.js')).runTop,
  tap: async () => (await import('./tap.js')).runTap,
  diagnose: async () => (await import('./diagnose.js')).runDiagnose,
  identity: async () => (await import('./identity.js')).runIdentity,
  reload: async () => (await import('./reload.js')).runReload,
};

const USAGE = `switchyard — a per-request load balancer for gRPC, HTTP/2 and HTTP/1.1

Usage: switchyard <command> [options]

Commands:
  run        run the proxy (--config FILE, or --listen/--to quick mode)
  check      validate a configuration file
  reload     make a running proxy read its configuration file again
  simulate   compare balancing policies on a scenario, or on traffic recorded with tap --record
  demo       the story with local gRPC replicas: per connection vs per request, a slow replica, a killed one, scale-out
  stat       success rate, RPS and latency per service, endpoint, route (from the admin server)
  top        live table of the busiest gRPC methods or paths
  tap        stream a summary of every request matching filters (--record FILE: for simulate --replay)
  diagnose   tell whether any HTTP/2 target balances per connection or per request
  identity   make a trust anchor and issuer (init), workload certificates (issue)

Run "switchyard <command> --help" for a command's options.
Options: --help, --version`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = process.stdout;
  const err = process.stderr;
  const load = command === undefined ? undefined : COMMANDS[command];
  if (load !== undefined) return (await load())(rest, out, err);
  switch (command) {
    case '--version':
    case '-v':
    case 'version':
      out.write(`${version()}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      out.write(`${USAGE}\n`);
      return 0;
    default:
      err.write(`unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  // Every command has closed what it opened by now; exit without waiting for idle handles.
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
