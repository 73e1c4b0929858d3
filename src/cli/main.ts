#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { runCheck } from './check.js';
import { runDemo } from './demo.js';
import { runDiagnose } from './diagnose.js';
import { runRun } from './run.js';
import { runSimulate } from './simulate.js';
import { runStat } from './stat.js';
import { runTap } from './tap.js';
import { runTop } from './top.js';

const USAGE = `switchyard — a per-request load balancer for gRPC, HTTP/2 and HTTP/1.1

Usage: switchyard <command> [options]

Commands:
  run        run the proxy (--config FILE, or --listen/--to quick mode)
  check      validate a configuration file
  simulate   compare balancing policies on a simulated scenario
  demo       per-connection vs per-request balancing, with three local gRPC replicas
  stat       success rate, RPS and latency per service, endpoint, route (from the admin server)
  top        live table of the busiest gRPC methods or paths
  tap        stream a summary of every request matching filters
  diagnose   tell whether any HTTP/2 target balances per connection or per request

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
  switch (command) {
    case 'run':
      return runRun(rest, out, err);
    case 'check':
      return runCheck(rest, out, err);
    case 'simulate':
      return runSimulate(rest, out, err);
    case 'demo':
      return runDemo(rest, out, err);
    case 'stat':
      return runStat(rest, out, err);
    case 'top':
      return runTop(rest, out, err);
    case 'tap':
      return runTap(rest, out, err);
    case 'diagnose':
      return runDiagnose(rest, out, err);
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
