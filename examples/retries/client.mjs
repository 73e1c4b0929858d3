// A gRPC client (@grpc/grpc-js): N calls of echo.Echo/Say, one after the
// other over one connection, each with a 5 s deadline; prints each call's
// outcome, then the totals.
//
//   node client.mjs HOST:PORT [N]   (N defaults to 20)
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [target, n = '20'] = process.argv.slice(2);
const calls = Number(n);
if (target === undefined || !Number.isInteger(calls) || calls < 1) {
  console.error('usage: node client.mjs HOST:PORT [N]');
  process.exit(2);
}

const proto = fileURLToPath(new URL('echo.proto', import.meta.url));
const { echo } = grpc.loadPackageDefinition(protoLoader.loadSync(proto));
const client = new echo.Echo(target, grpc.credentials.createInsecure());
const statusName = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

const outcomes = new Map();
for (let i = 1; i <= calls; i++) {
  const start = Date.now();
  const outcome = await new Promise((resolve) =>
    client.Say({ text: `call ${i}` }, { deadline: Date.now() + 5000 }, (err, reply) =>
      resolve(err ? { code: statusName[err.code], detail: err.details } : { code: 'OK', detail: reply.server }),
    ),
  );
  console.log(`call ${i}: ${outcome.code} (${outcome.detail}) ${Date.now() - start} ms`);
  outcomes.set(outcome.code, (outcomes.get(outcome.code) ?? 0) + 1);
}
client.close();
const ordered = [...outcomes].sort(([a], [b]) => (a === 'OK' ? -1 : b === 'OK' ? 1 : 0));
console.log(`\n${calls} calls: ${ordered.map(([code, count]) => `${count} ${code}`).join(', ')}`);
