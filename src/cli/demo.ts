import type * as grpc from '@grpc/grpc-js';
import { parseConfig } from '../config/index.js';
import { compute, squareClient, startSquareReplica, type SquareClient } from '../demo/square-app.js';
import { Proxy } from '../proxy/proxy.js';
import { defaultPolicies } from '../policy/index.js';
import { parseArgs } from './args.js';

export const DEMO_USAGE = `Usage: switchyard demo [--calls N] [--keep]

Starts three local gRPC replicas of a Square service and one Switchyard with
two listeners in front of them: a tcp listener (per-connection balancing, as
kube-proxy and L4 balancers do) and an http2 listener (per-request balancing).
One gRPC client connection sends N calls (default 300) through each and the
demo prints which replica answered them.
  --keep   stay up afterwards (Ctrl-C to stop) so you can try the listeners yourself`;

async function send(client: SquareClient, calls: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const batch = 20;
  for (let i = 0; i < calls; i += batch) {
    const replies = await Promise.all(
      Array.from({ length: Math.min(batch, calls - i) }, (_, k) => compute(client, i + k)),
    );
    for (const r of replies) counts.set(r.replica, (counts.get(r.replica) ?? 0) + 1);
  }
  return counts;
}

function table(replicas: string[], rows: [string, Map<string, number>][], calls: number): string {
  const w = 34;
  let s = `${'path'.padEnd(w)}${replicas.map((r) => r.padStart(10)).join('')}\n`;
  for (const [label, counts] of rows) {
    s += `${label.padEnd(w)}${replicas.map((r) => String(counts.get(r) ?? 0).padStart(10)).join('')}\n`;
  }
  s += `(${calls} calls over one client connection each)\n`;
  return s;
}

export async function runDemo(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const p = parseArgs(args, ['keep', 'help']);
  if (p.flags.has('help')) {
    out.write(`${DEMO_USAGE}\n`);
    return 0;
  }
  const calls = Number(p.flags.get('calls') ?? 300);
  if (!Number.isInteger(calls) || calls < 1) {
    err.write(`--calls must be a positive integer\n`);
    return 2;
  }
  const names = ['square-a', 'square-b', 'square-c'];
  const replicas: { server: grpc.Server; port: number }[] = [];
  for (const n of names) replicas.push(await startSquareReplica(n));
  const endpoints = replicas.map((r) => `127.0.0.1:${r.port}`);
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [
      { name: 'l4', listen: '127.0.0.1:0', protocol: 'tcp', service: 'square' },
      { name: 'l7', listen: '127.0.0.1:0', protocol: 'http2', service: 'square' },
    ],
    services: [{ name: 'square', balancer: 'round-robin', endpoints }],
  });
  const proxy = new Proxy(config, { policies: defaultPolicies });
  await proxy.start();
  const [l4, l7] = proxy.listeners as [typeof proxy.listeners[0], typeof proxy.listeners[0]];
  out.write(`Three replicas on ${endpoints.join(', ')}\n`);
  out.write(`tcp listener (per connection) on 127.0.0.1:${l4.address.port}, http2 listener (per request) on 127.0.0.1:${l7.address.port}\n\n`);

  const c4 = squareClient(`127.0.0.1:${l4.address.port}`);
  const c7 = squareClient(`127.0.0.1:${l7.address.port}`);
  let code = 0;
  try {
    const viaL4 = await send(c4, calls);
    const viaL7 = await send(c7, calls);
    out.write(table(names, [['L4 (tcp listener, like kube-proxy)', viaL4], ['Switchyard (per request)', viaL7]], calls));
    out.write(
      `\nL4: every call of the connection went to ${[...viaL4.keys()].join(', ')}.\n` +
        `Switchyard: calls spread over ${viaL7.size} replicas on the same single connection.\n`,
    );
  } catch (e) {
    err.write(`demo failed: ${(e as Error).message}\n`);
    code = 1;
  }
  c4.close();
  c7.close();
  if (p.flags.has('keep') && code === 0) {
    out.write(`\nStaying up. Try: switchyard diagnose or grpcurl against 127.0.0.1:${l7.address.port}. Ctrl-C to stop.\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await proxy.stop(1000);
  for (const r of replicas) r.server.forceShutdown();
  return code;
}
