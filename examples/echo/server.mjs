// gRPC echo servers (@grpc/grpc-js): echo.Echo/Say answers with the text it
// was sent and the server's name, echo-<port>.
//
//   node server.mjs PORT [PORT ...]   one server per port on 127.0.0.1
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
  console.error('usage: node server.mjs PORT [PORT ...]');
  process.exit(2);
}

const proto = fileURLToPath(new URL('echo.proto', import.meta.url));
const { echo } = grpc.loadPackageDefinition(protoLoader.loadSync(proto));

for (const port of ports) {
  const name = `echo-${port}`;
  const server = new grpc.Server();
  server.addService(echo.Echo.service, {
    Say(call, callback) {
      callback(null, { text: call.request.text, server: name });
    },
  });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      console.error(`${name}: ${err.message}`);
      process.exit(1);
    }
    console.log(`${name} listening on 127.0.0.1:${port}`);
  });
}
