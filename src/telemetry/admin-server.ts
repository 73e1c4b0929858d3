import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A route of the admin server: gets the request, writes the response. */
export type AdminHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

/**
 * The admin listener (never the data port): /live and /ready now, metrics,
 * stats, tap and the dashboard register more routes.
 */
export class AdminServer {
  private readonly routes = new Map<string, AdminHandler>();
  readonly server: http.Server;

  constructor(isReady: () => boolean) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.route('/live', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('live\n');
    });
    this.route('/ready', (_req, res) => {
      const ready = isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ready ? 'ready\n' : 'not ready: a service has no available endpoint\n');
    });
  }

  route(path: string, handler: AdminHandler): void {
    this.routes.set(path, handler);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const h = this.routes.get(url.pathname);
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
