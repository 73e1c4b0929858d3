/**
 * `npm run bench:http1` — CPU per request of Switchyard's HTTP/1.1 server
 * codec against a bare node:http server, both answering 200 "ok", under the
 * same h2load --h1 load (10 keep-alive connections), interleaved.
 *
 *   node dist/bench/http1-engine.js [--runs N] [--requests N] [--no-pin]
 *
 * The server runs on core 1 (taskset -c 1), h2load on core 0. CPU is the
 * server's utime+stime from /proc (never wall-clock): µs per request.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { h2loadBinary, parseH2loadSummary } from './lib/h2load.js';
import { processCpuMs, processRssKb } from './lib/proc-cpu.js';
import { freePort, requireTools, startProcess, stopProcess, waitForPort } from './lib/processes.js';
import { parseBenchArgs } from './lib/args.js';
import { median } from './lib/report.js';

interface Options {
  runs: number;
  requests: number;
  pin: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { runs: 5, requests: 100_000, pin: true };
  parseBenchArgs(argv, 'usage: node dist/bench/http1-engine.js [--runs N] [--requests N] [--no-pin]\n', (flag, value) => {
    switch (flag) {
      case '--runs': o.runs = Number(value()); return true;
      case '--requests': o.requests = Number(value()); return true;
      case '--no-pin': o.pin = false; return true;
      default: return false;
    }
  });
  return o;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(here, 'servers', 'http1-server.js');

function pinned(core: number, pin: boolean, cmd: string, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

/** One measured load against a fresh server of `mode`: µs CPU per request and RSS after. */
async function measure(mode: 'codec' | 'node', o: Options): Promise<{ us: number; rssMiB: number; done: number }> {
  const port = await freePort();
  const [cmd, args] = pinned(1, o.pin, process.execPath, [SERVER, mode, String(port)]);
  const server = startProcess(`http1-${mode}`, cmd, args);
  try {
    await waitForPort('127.0.0.1', port, 10_000, server);
    // Warm-up, not measured: the JIT settles before the CPU is read.
    const h2load = h2loadBinary();
    const url = `http://127.0.0.1:${port}/`;
    const [wc, wa] = pinned(0, o.pin, h2load, ['--h1', '-c', '10', '-n', String(Math.floor(o.requests / 5)), url]);
    spawnSync(wc, wa, { encoding: 'utf8', timeout: 60_000 });
    const before = processCpuMs(server.pid);
    const [lc, la] = pinned(0, o.pin, h2load, ['--h1', '-c', '10', '-n', String(o.requests), url]);
    const r = spawnSync(lc, la, { encoding: 'utf8', timeout: 120_000 });
    const cpu = processCpuMs(server.pid) - before;
    const s = parseH2loadSummary(r.stdout);
    const done = s.requests.succeeded;
    return { us: done > 0 ? (cpu * 1000) / done : NaN, rssMiB: processRssKb(server.pid) / 1024, done };
  } finally {
    await stopProcess(server);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  requireTools([{ name: 'h2load', pkg: 'nghttp2-client' }, ...(o.pin ? [{ name: 'taskset', pkg: 'util-linux' }] : [])]);
  const codec: number[] = [];
  const node: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const a = await measure('node', o);
    const b = await measure('codec', o);
    node.push(a.us);
    codec.push(b.us);
    ratios.push(a.us / b.us);
    console.log(`run ${i + 1}: node:http ${a.us.toFixed(2)} µs/req (${a.done} ok, ${a.rssMiB.toFixed(1)} MiB), codec ${b.us.toFixed(2)} µs/req (${b.done} ok, ${b.rssMiB.toFixed(1)} MiB), node/codec ${(a.us / b.us).toFixed(2)}x`);
  }
  const fmt = (xs: number[]): string => `min ${Math.min(...xs).toFixed(2)} / median ${median(xs).toFixed(2)} / max ${Math.max(...xs).toFixed(2)}`;
  console.log(`node:http  µs/req ${fmt(node)}`);
  console.log(`codec      µs/req ${fmt(codec)}`);
  console.log(`node/codec ratio  ${fmt(ratios)}`);
  const spread = (xs: number[]): number => (Math.max(...xs) - Math.min(...xs)) / median(xs);
  for (const [name, xs] of [['node:http', node], ['codec', codec]] as const) {
    if (spread(xs) > 0.2) console.log(`note: ${name} spread ${(spread(xs) * 100).toFixed(0)}% > 20%: the machine was busy`);
  }
}

void main();
