/**
 * What the TLS benchmark needs around the proxies: certificates made with the
 * openssl command line, Switchyard's configuration with TLS listeners, a
 * TLS-originating relay for clients that h2load cannot be (client
 * certificates), the TLS parameters h2load reports, a probe of the session
 * tickets a server issues, and Switchyard's connection counters.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { testPki, type PemPair } from "../../test/helpers/test-pki.js";
import { haproxyBinary } from "./haproxy.js";
import { makeTempDir, readyServer, startProcess, type RunningServer } from "./processes.js";

export interface BenchCertificates {
  /** CA that signed both leaves (the mTLS trust anchor). */
  ca: PemPair;
  /** Server certificate (ECDSA P-256, SANs localhost and 127.0.0.1). */
  server: PemPair;
  /** Client certificate (ECDSA P-256, URI SAN spiffe://bench.local/client). */
  client: PemPair;
  /** Certificate and key in one file, as HAProxy's `crt` takes them. */
  serverPem: string;
  clientPem: string;
  cleanup(): void;
}

/** One CA and a server and a client certificate, ECDSA P-256 / SHA-256, in a temp directory. */
export function makeBenchCertificates(): BenchCertificates {
  const pki = testPki();
  try {
    const ca = pki.ca("bench-ca");
    const server = ca.issue("server", { dns: ["localhost"], ip: ["127.0.0.1"] });
    const client = ca.issue("client", { uri: ["spiffe://bench.local/client"] });
    const serverPem = path.join(pki.dir, "server-with-key.pem");
    const clientPem = path.join(pki.dir, "client-with-key.pem");
    writeFileSync(serverPem, server.certPem + server.keyPem);
    writeFileSync(clientPem, client.certPem + client.keyPem);
    return { ca, server, client, serverPem, clientPem, cleanup: () => pki.cleanup() };
  } catch (e) {
    pki.cleanup();
    throw e;
  }
}

export interface SwitchyardListenerSpec {
  name: string;
  port: number;
  tls?: { cert: string; key: string; clientCa?: string; minVersion?: "TLSv1.2" | "TLSv1.3"; alpn?: readonly string[] };
  /** Default http2. */
  protocol?: "http1" | "http2";
}

/** YAML for `run --config`: the given listeners (`protocol: http2` unless said otherwise) in front of one round-robin service. */
export function switchyardTlsConfigYaml(opts: {
  adminPort: number;
  listeners: readonly SwitchyardListenerSpec[];
  backends: ReadonlyArray<{ host: string; port: number }>;
}): string {
  const lines = ["admin:", `  listen: "127.0.0.1:${opts.adminPort}"`, "listeners:"];
  for (const l of opts.listeners) {
    lines.push(`  - name: ${l.name}`, `    listen: "127.0.0.1:${l.port}"`, `    protocol: ${l.protocol ?? "http2"}`, "    service: s");
    if (l.tls) {
      lines.push("    tls:", `      cert: "${l.tls.cert}"`, `      key: "${l.tls.key}"`);
      if (l.tls.clientCa) lines.push(`      clientCa: "${l.tls.clientCa}"`);
      if (l.tls.minVersion) lines.push(`      minVersion: ${l.tls.minVersion}`);
      if (l.tls.alpn) lines.push(`      alpn: [${l.tls.alpn.join(", ")}]`);
    }
  }
  lines.push("services:", "  - name: s", "    balancer: round-robin", "    endpoints:");
  for (const b of opts.backends) lines.push(`      - "${b.host}:${b.port}"`);
  lines.push("");
  return lines.join("\n");
}

export interface RelayRoute {
  /** h2c port the relay listens on. */
  port: number;
  /** TLS server it opens one connection to per client connection. */
  target: { host: string; port: number };
  /** Present this certificate (PEM with key) to the target. */
  clientPem?: string;
  ciphersuites?: string;
}

/**
 * HAProxy as a TLS client: it accepts h2c and opens, for each client
 * connection, its own TLS connection to the target (`http-reuse never`, no
 * idle pool), with a full handshake each time (`no-ssl-reuse`). h2load
 * cannot present a client certificate; through the relay, every connection
 * h2load makes becomes one mTLS handshake on the proxy under test. The
 * target's certificate is not verified: that cost would be the client's.
 */
export function tlsRelayConfig(routes: readonly RelayRoute[], maxconn = 4096): string {
  const parts = [
    `global
    nbthread 1
    maxconn ${maxconn}

defaults
    mode http
    http-reuse never
    timeout connect 5s
    timeout client 60s
    timeout server 60s
`,
  ];
  routes.forEach((r, i) => {
    const server = [
      `server t ${r.target.host}:${r.target.port} ssl verify none alpn h2 ssl-min-ver TLSv1.3 no-ssl-reuse pool-max-conn 0`,
      r.ciphersuites ? `ciphersuites ${r.ciphersuites}` : "",
      r.clientPem ? `crt ${r.clientPem}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    parts.push(`
frontend in${i}
    bind 127.0.0.1:${r.port} proto h2
    default_backend out${i}

backend out${i}
    ${server}
`);
  });
  return parts.join("");
}

export async function startTlsRelay(routes: readonly RelayRoute[]): Promise<RunningServer> {
  const bin = haproxyBinary();
  if (!bin) throw new Error("haproxy not found (install haproxy)");
  const dir = makeTempDir("tls-relay");
  const cfg = path.join(dir, "relay.cfg");
  writeFileSync(cfg, tlsRelayConfig(routes));
  const proc = startProcess("tls-relay", bin, ["-db", "-f", cfg], { cwd: dir });
  return readyServer(proc, { host: "127.0.0.1", ports: routes.map((r) => r.port), timeoutMs: 15_000, dir });
}

export interface TlsParams {
  protocol?: string;
  cipher?: string;
  /** Key exchange group, e.g. "X25519 253 bits". */
  tempKey?: string;
  alpn?: string;
}

/** The TLS lines of h2load's summary (printed for https URLs). */
export function parseH2loadTls(stdout: string): TlsParams {
  const get = (label: string) => new RegExp(`^${label}:\\s*(.+)$`, "m").exec(stdout)?.[1]?.trim();
  return {
    protocol: get("TLS Protocol"),
    cipher: get("Cipher"),
    tempKey: get("Server Temp Key"),
    alpn: get("Application protocol"),
  };
}

export interface TicketProbe {
  ok: boolean;
  error?: string;
  protocol?: string;
  cipher?: string;
  group?: string;
  alpn?: string;
  /** NewSessionTicket messages received on one connection (TLS 1.3 servers send them after the handshake). */
  tickets: number;
}

/**
 * One TLS connection to a server: the parameters negotiated with
 * `ciphers` offered, and how many session tickets the server sends (work
 * it does on every full handshake, whether or not clients resume).
 */
export function probeTls(
  host: string,
  port: number,
  opts: { ciphers?: string; cert?: string; key?: string; waitMs?: number } = {},
): Promise<TicketProbe> {
  return new Promise((resolve) => {
    let tickets = 0;
    let settled = false;
    const sock = tls.connect({
      host,
      port,
      servername: "localhost",
      ALPNProtocols: ["h2"],
      rejectUnauthorized: false,
      ciphers: opts.ciphers,
      cert: opts.cert,
      key: opts.key,
      minVersion: "TLSv1.3",
    });
    const finish = (r: TicketProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      sock.destroy();
      resolve(r);
    };
    const guard = setTimeout(() => finish({ ok: false, error: "no handshake within 5 s", tickets }), 5000);
    sock.on("session", () => tickets++);
    sock.on("data", () => {});
    sock.on("error", (e) => finish({ ok: false, error: e.message, tickets }));
    sock.on("secureConnect", () => {
      const key = sock.getEphemeralKeyInfo();
      const group = key && "name" in key && key.name ? `${key.name} ${key.size} bits` : undefined;
      // Tickets follow the handshake; give them time to arrive.
      setTimeout(
        () =>
          finish({
            ok: true,
            protocol: sock.getProtocol() ?? undefined,
            cipher: sock.getCipher()?.standardName,
            group,
            alpn: sock.alpnProtocol || undefined,
            tickets,
          }),
        opts.waitMs ?? 300,
      );
    });
  });
}

/** A labelled counter of Switchyard's /metrics, summed over the series that carry `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf("}");
    const labelText = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

export async function switchyardMetrics(adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}
