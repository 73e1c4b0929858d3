import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceRuntime } from '../proxy/service-runtime.js';

/** A route of the admin server: gets the request, writes the response. */
export type AdminHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

/**
 * Readiness for /ready: true or '' when ready; false, or why not (one line
 * per problem), when not.
 */
export type Readiness = () => boolean | string;

/**
 * The proxy is ready when every service has an endpoint a request can go
 * to; otherwise each service without one is named with what keeps each of
 * its endpoints out (`no available endpoint for service "api" (127.0.0.1:1:
 * connection refused (ECONNREFUSED))`).
 */
export function servicesReadiness(proxy: { readonly services: ReadonlyMap<string, ServiceRuntime> }): Readiness {
  return () => {
    let why = '';
    for (const s of proxy.services.values()) {
      const r = s.unavailableReason();
      if (r !== '') why += why === '' ? r : `\n${r}`;
    }
    return why;
  };
}

/**
 * What /ready adds below "ready" while it is ready: services whose discovery
 * source fails and which run on their last good endpoint set (a probe reads
 * the status; a person reads why).
 */
export function servicesWarnings(proxy: { readonly services: ReadonlyMap<string, ServiceRuntime> }): () => string {
  return () => {
    let out = '';
    for (const s of proxy.services.values()) {
      const d = s.discovery;
      if (d === undefined || d.healthy) continue;
      const line = `service "${s.name}": ${d.description} failed, keeping the last endpoint set: ${d.lastError}`;
      out += out === '' ? line : `\n${line}`;
    }
    return out;
  };
}

/**
 * The admin listener (never the data port): /live and /ready now, metrics,
 * stats, tap and the dashboard register more routes.
 */
export class AdminServer {
  private readonly routes = new Map<string, AdminHandler>();
  readonly server: http.Server;
  /** Answers paths without a route (worker mode: the primary relays them to the workers); default 404. */
  fallback: AdminHandler | undefined;

  constructor(
    private readonly readiness: Readiness,
    private readonly warnings?: () => string,
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.route('/live', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('live\n');
    });
    this.route('/ready', (_req, res) => {
      const r = this.readyAnswer();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(r.text);
    });
  }

  /** What /ready answers: "ready" (with warnings) or one "not ready: …" line per problem. */
  readyAnswer(): { ready: boolean; text: string } {
    const r = this.readiness();
    const ready = r === true || r === '';
    const w = ready && this.warnings !== undefined ? this.warnings() : '';
    if (ready) return { ready, text: w === '' ? 'ready\n' : `ready\n${w.split('\n').map((line) => `warning: ${line}`).join('\n')}\n` };
    if (r === false) return { ready, text: 'not ready: a service has no available endpoint\n' };
    return { ready, text: `${r.split('\n').map((line) => `not ready: ${line}`).join('\n')}\n` };
  }

  route(path: string, handler: AdminHandler): void {
    this.routes.set(path, handler);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const h = this.routes.get(url.pathname) ?? this.fallback;
    if (h === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found; try ${[...this.routes.keys()].join(', ')}\n`);
      return;
    }
    try {
      h(req, res, url);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${(err as Error).message}\n`);
    }
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
