// The demo's Square gRPC service (src/demo/square-app.ts) for a cluster, run
// from the Switchyard image:
//
//   node square.mjs serve     one replica on $LISTEN (default 0.0.0.0:50051),
//                             answering with its name ($REPLICA, default the
//                             pod's host name)
//   node square.mjs compare   $CALLS calls (default 300) over one connection
//                             to $DIRECT (the ClusterIP Service), then over
//                             one connection to $VIA (Switchyard); prints how
//                             many calls each replica answered
//
// `compare` first calls through $VIA until it has seen $EXPECT_REPLICAS
// (default 3) replicas answer, so the table is not measured while pods or
// EndpointSlices are still catching up.
//
// $SWITCHYARD_HOME (default /app, the image's) is where the built project and
// its node_modules are.
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';

const home = process.env.SWITCHYARD_HOME ?? '/app';
const require = createRequire(`${home}/package.json`);
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const demo = await import(pathToFileURL(`${home}/dist/src/demo/square-app.js`).href);

function env(name, fallback) {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

function positive(name, fallback) {
  const n = Number(env(name, String(fallback)));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

async function serve() {
  const listen = env('LISTEN', '0.0.0.0:50051');
  const replica = env('REPLICA', hostname());
  const def = protoLoader.loadSync(demo.SQUARE_PROTO, { longs: String, defaults: true });
  const square = grpc.loadPackageDefinition(def).square;
  const server = new grpc.Server();
  server.addService(square.Square.service, {
    Compute(call, cb) {
      const v = BigInt(call.request.value);
      cb(null, { result: String(v * v), replica });
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  console.log(`square replica ${replica} listening on ${listen.replace(/:\d+$/, '')}:${port}`);
  // Kubernetes sends SIGTERM once the pod is leaving its Service: finish the
  // calls in flight, then exit.
  process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

function call(client, value, waitForReady) {
  return new Promise((resolve, reject) => {
    client.Compute({ value }, new grpc.Metadata(), { deadline: Date.now() + 5000, waitForReady }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

async function countReplicas(client, calls) {
  const counts = new Map();
  for (let i = 1; i <= calls; i++) {
    const r = await call(client, i, false);
    counts.set(r.replica, (counts.get(r.replica) ?? 0) + 1);
  }
  return counts;
}

async function compare() {
  const direct = env('DIRECT', 'square-app:50051');
  const via = env('VIA', 'switchyard:8080');
  const calls = positive('CALLS', 300);
  const expect = positive('EXPECT_REPLICAS', 3);
  const deadline = Date.now() + positive('WAIT_SECONDS', 180) * 1000;
  // One connection per client, as most gRPC clients hold one per target.
  const viaClient = demo.squareClient(via);
  const directClient = demo.squareClient(direct);
  try {
    const recent = [];
    while (new Set(recent).size < expect) {
      if (Date.now() > deadline) throw new Error(`only ${[...new Set(recent)].join(', ') || 'no replica'} answered through ${via}; expected ${expect} replicas`);
      try {
        recent.push((await call(viaClient, 1, true)).replica);
        if (recent.length > 4 * expect) recent.shift();
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await call(directClient, 1, true);
    const viaDirect = await countReplicas(directClient, calls);
    const viaSwitchyard = await countReplicas(viaClient, calls);
    const names = [...new Set([...viaSwitchyard.keys(), ...viaDirect.keys()])].sort();
    const width = Math.max(7, ...names.map((n) => n.length));
    const heads = ['ClusterIP Service', 'Switchyard'];
    console.log(`${calls} calls over one connection each, ${direct} and ${via}:\n`);
    console.log(`${'replica'.padEnd(width)}  ${heads.map((h) => h.padStart(17)).join('  ')}`);
    for (const n of names) {
      console.log(`${n.padEnd(width)}  ${[viaDirect, viaSwitchyard].map((m) => String(m.get(n) ?? 0).padStart(17)).join('  ')}`);
    }
    console.log(`\nClusterIP Service: the connection's calls went to ${viaDirect.size} replica(s).`);
    console.log(`Switchyard: the connection's calls went to ${viaSwitchyard.size} replicas.`);
  } finally {
    viaClient.close();
    directClient.close();
  }
}

const command = process.argv[2];
if (command === 'serve') await serve();
else if (command === 'compare') await compare();
else {
  console.error('usage: node square.mjs serve | compare');
  process.exit(2);
}
