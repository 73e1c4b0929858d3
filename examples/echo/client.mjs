// A gRPC client (@grpc/grpc-js) that makes N calls of echo.Echo/Say, one
// after the other, over the one HTTP/2 connection a grpc-js client keeps per
// target, and prints which server answered each call, then a count per server.
//
//   node client.mjs HOST:PORT [N]   (N defaults to 10)
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [target, n = '10'] = process.argv.slice(2);
const calls = Number(n);
if (target === undefined || !Number.isInteger(calls) || calls < 1) {
  console.error('usage: node client.mjs HOST:PORT [N]');
  process.exit(2);
}

const proto = fileURLToPath(new URL('echo.proto', import.meta.url));
const { echo } = grpc.loadPackageDefinition(protoLoader.loadSync(proto));
const client = new echo.Echo(target, grpc.credentials.createInsecure());

function say(text) {
  return new Promise((resolve, reject) =>
    client.Say({ text }, { deadline: Date.now() + 5000 }, (err, reply) => (err ? reject(err) : resolve(reply))),
  );
}

const counts = new Map();
try {
  for (let i = 1; i <= calls; i++) {
    const reply = await say(`hello ${i}`);
    console.log(`call ${i}: ${reply.server}`);
    counts.set(reply.server, (counts.get(reply.server) ?? 0) + 1);
  }
} catch (err) {
  console.error(`call failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
console.log('');
for (const [server, count] of [...counts].sort()) console.log(`${server}: ${count} of ${calls} calls`);
