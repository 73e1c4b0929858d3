/**
 * What the demo runs on: square replicas on loopback, the endpoints file a
 * user (or an orchestrator) writes, and one Switchyard built from a
 * configuration as a user would write it: a tcp listener (per-connection
 * balancing, as kube-proxy and L4 balancers do) and an HTTP/2 listener whose
 * gRPC route retries what a killed replica never answered. The balancer is
 * the default one: nothing is set.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SeededRandom } from '../balancing/index.js';
import { parseConfigText } from '../config/index.js';
import { defaultPolicies } from '../policy/index.js';
import { Proxy } from '../proxy/proxy.js';
import { AdminServer, servicesReadiness, servicesWarnings } from '../telemetry/admin-server.js';
import { Telemetry } from '../telemetry/telemetry.js';
import { squareClient, startSquareReplica, type SquareClient, type SquareReplica } from './square-app.js';

/** Time a call takes at a healthy replica: enough that a 20× slower one is plainly slower, not noise. */
export const SERVICE_TIME_MS = 5;
/** Longest wait for the proxy to follow the endpoints file. */
const DISCOVERY_WAIT_MS = 10_000;

export function configText(endpointsFile: string, adminListen: string): string {
  return `admin: { listen: "${adminListen}" }
listeners:
  - name: l4
    listen: 127.0.0.1:0
    protocol: tcp               # one backend per connection, as kube-proxy does
    service: square-l4
  - name: grpc
    listen: 127.0.0.1:0
    protocol: http2
    service: square
    routes:
      - match: { grpcService: square.Square }
        service: square
        # Compute has no side effect: a call cut off by a dying replica may be sent again.
        retry: { on: [unavailable, reset], attempts: 3 }
services:
  - name: square                # balancer: the default (peak-ewma)
    discovery: { file: "${endpointsFile}" }
  # The same replicas for the tcp listener: an open tcp connection counts as a
  # request in flight, which would weigh on the per-request listener's picks.
  - name: square-l4
    discovery: { file: "${endpointsFile}" }
`;
}

export class Stage {
  readonly replicas = new Map<string, SquareReplica>();
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'switchyard-demo-'));
  readonly endpointsFile = path.join(this.dir, 'square-endpoints.yaml');
  proxy: Proxy | undefined;
  private telemetry: Telemetry | undefined;
  private admin: AdminServer | undefined;
  adminAddress = '';
  private readonly clients = new Map<string, SquareClient>();

  constructor(readonly seed: number) {}

  /** Starts replicas `names` (in order) and the proxy following the endpoints file that lists them. */
  async start(names: readonly string[], adminListen: string): Promise<void> {
    for (const n of names) await this.addReplica(n);
    this.writeEndpoints(names);
    const config = parseConfigText(configText(this.endpointsFile, adminListen), 'demo');
    this.telemetry = new Telemetry({ processMetrics: false });
    this.proxy = new Proxy(config, { observer: this.telemetry, policies: defaultPolicies, random: new SeededRandom(this.seed) });
    this.telemetry.attach(this.proxy);
    await this.proxy.start();
    this.admin = new AdminServer(servicesReadiness(this.proxy), servicesWarnings(this.proxy));
    this.telemetry.routes(this.admin);
    const a = await this.admin.listen(config.admin.listen.host, config.admin.listen.port);
    this.adminAddress = `${a.address}:${a.port}`;
    await this.waitForEndpoints(names);
  }

  async addReplica(name: string): Promise<SquareReplica> {
    const r = await startSquareReplica(name, 0, { serviceTimeMs: SERVICE_TIME_MS });
    this.replicas.set(name, r);
    return r;
  }

  replica(name: string): SquareReplica {
    const r = this.replicas.get(name);
    if (r === undefined) throw new Error(`no replica ${name}`);
    return r;
  }

  /** Writes the endpoints file as a deployment tool would: a new file renamed over the old one. */
  writeEndpoints(names: readonly string[]): void {
    const text = names.map((n) => `- 127.0.0.1:${this.replica(n).port}   # ${n}\n`).join('');
    const tmp = `${this.endpointsFile}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.endpointsFile);
  }

  /** Resolves once the service's endpoints are exactly those of `names`; rejects after DISCOVERY_WAIT_MS. */
  async waitForEndpoints(names: readonly string[]): Promise<void> {
    const want = names.map((n) => `127.0.0.1:${this.replica(n).port}`).sort().join(',');
    const services = [...this.proxy!.services.values()];
    const until = Date.now() + DISCOVERY_WAIT_MS;
    while (services.some((s) => s.endpoints.map((e) => e.id).sort().join(',') !== want)) {
      if (Date.now() > until) throw new Error(`the proxy did not follow ${this.endpointsFile} within ${DISCOVERY_WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  listenerAddress(name: string): string {
    const l = this.proxy!.listeners.find((x) => x.config.name === name)!;
    return `127.0.0.1:${l.address.port}`;
  }

  /** The client of listener `name`: one connection, kept from phase to phase (closed by `stop`). */
  client(name: string): SquareClient {
    let c = this.clients.get(name);
    if (c === undefined) {
      c = squareClient(this.listenerAddress(name));
      this.clients.set(name, c);
    }
    return c;
  }

  async stop(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.telemetry?.close();
    await this.admin?.close();
    await this.proxy?.stop(0);
    for (const r of this.replicas.values()) r.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
