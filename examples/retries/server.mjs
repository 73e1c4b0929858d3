// A gRPC echo server (@grpc/grpc-js) that misbehaves on purpose, the same
// way every time so that a run can be repeated:
//
//   node server.mjs PORT [--fail PCT] [--slow PCT]
//
//   --fail PCT   PCT % of the calls (the 1st, then evenly spread) send their
//                response headers, then end with UNAVAILABLE in the trailers:
//                the shape of a server that fails after it started answering
//   --slow PCT   PCT % of the calls (the 1st, then evenly spread) answer
//                after one second
//
// The server is named work-<port> in its answers.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const args = process.argv.slice(2);
const port = Number(args[0]);
const flag = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? 0 : Number(args[i + 1]);
};
const failPct = flag('--fail');
const slowPct = flag('--slow');
if (!Number.isInteger(port) || port <= 0 || port > 65535 || [failPct, slowPct].some((p) => !(p >= 0 && p <= 100))) {
  console.error('usage: node server.mjs PORT [--fail PCT] [--slow PCT]');
  process.exit(2);
}

/** Whether call n (from 0) is one of the pct % picked: n·pct mod 100 < pct spreads them evenly, the first included. */
const picked = (n, pct) => (n * pct) % 100 < pct;

const proto = fileURLToPath(new URL('echo.proto', import.meta.url));
const { echo } = grpc.loadPackageDefinition(protoLoader.loadSync(proto));
const name = `work-${port}`;
let calls = 0;
const server = new grpc.Server();
server.addService(echo.Echo.service, {
  Say(call, callback) {
    const n = calls++;
    if (picked(n, failPct)) {
      // Headers first, so the status can only travel in the trailers.
      call.sendMetadata(new grpc.Metadata());
      callback({ code: grpc.status.UNAVAILABLE, details: `${name} is failing this call on purpose` });
      return;
    }
    const reply = () => callback(null, { text: call.request.text, server: name });
    if (picked(n, slowPct)) setTimeout(reply, 1000);
    else reply();
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(`${name}: ${err.message}`);
    process.exit(1);
  }
  console.log(`${name} listening on 127.0.0.1:${port}`);
});
