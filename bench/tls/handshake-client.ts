/**
 * A TLS client that only makes handshakes: `n` connections, `concurrency` at
 * a time, each closed as soon as the server's first session ticket arrived
 * (TLS 1.3 servers send them right after the handshake, and closing before
 * would spare the server part of its work), or at once when resumed. With `--resume`
 * every connection offers the newest ticket received, as browsers and gRPC
 * clients do; h2load keeps no sessions, and `openssl s_time -reuse` reads no
 * TLS 1.3 ticket unless it also makes a request. Prints one JSON line.
 *
 *   node dist/bench/tls/handshake-client.js --port P [--host H] [--n N] [--concurrency C]
 *        [--resume] [--alpn h2] [--ciphers TLS_AES_128_GCM_SHA256]
 */
import tls from "node:tls";

export interface HandshakeClientResult {
  done: number;
  resumed: number;
  failed: number;
  firstError?: string;
  wallMs: number;
}

interface Args {
  host: string;
  port: number;
  n: number;
  concurrency: number;
  resume: boolean;
  alpn: string;
  ciphers: string | undefined;
}

function parse(argv: readonly string[]): Args {
  const a: Args = { host: "127.0.0.1", port: 0, n: 1000, concurrency: 4, resume: false, alpn: "h2", ciphers: undefined };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i] ?? "";
    switch (argv[i]) {
      case "--host": a.host = v(); break;
      case "--port": a.port = Number(v()); break;
      case "--n": a.n = Number(v()); break;
      case "--concurrency": a.concurrency = Number(v()); break;
      case "--resume": a.resume = true; break;
      case "--alpn": a.alpn = v(); break;
      case "--ciphers": a.ciphers = v(); break;
      default: throw new Error(`handshake-client: unknown argument ${argv[i]}`);
    }
  }
  if (!a.port) throw new Error("handshake-client: --port is required");
  return a;
}

function run(a: Args): Promise<HandshakeClientResult> {
  const r: HandshakeClientResult = { done: 0, resumed: 0, failed: 0, wallMs: 0 };
  let started = 0;
  let session: Buffer | undefined;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const next = (): void => {
      if (started >= a.n) {
        if (r.done + r.failed === a.n) {
          r.wallMs = performance.now() - t0;
          resolve(r);
        }
        return;
      }
      started++;
      let settled = false;
      const sock = tls.connect({
        host: a.host,
        port: a.port,
        servername: "localhost",
        ALPNProtocols: [a.alpn],
        rejectUnauthorized: false,
        minVersion: "TLSv1.3",
        ciphers: a.ciphers,
        session: a.resume ? session : undefined,
      });
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        if (err) {
          r.failed++;
          r.firstError ??= err.message;
          sock.destroy();
        } else {
          r.done++;
          if (sock.isSessionReused()) r.resumed++;
          sock.end();
        }
        next();
      };
      const guard = setTimeout(() => finish(new Error("no session ticket within 5 s")), 5000);
      sock.on("session", (s: Buffer) => {
        session = s;
        finish();
      });
      // A server may send no new ticket on a resumed connection (Node's does not): the handshake is all there is to wait for.
      sock.on("secureConnect", () => {
        if (sock.isSessionReused()) finish();
      });
      sock.on("data", () => {});
      sock.on("error", (e) => finish(e));
    };
    for (let i = 0; i < Math.min(a.concurrency, a.n); i++) next();
  });
}

run(parse(process.argv.slice(2))).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  },
);
