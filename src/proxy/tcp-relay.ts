import net from 'node:net';
import type { Endpoint } from './endpoint.js';
import type { ServiceRuntime } from './service-runtime.js';

const MAX_CONNECT_ATTEMPTS = 3;

/**
 * An opaque L4 relay for `protocol: tcp` listeners: one endpoint per client
 * connection, bytes piped both ways with stream back-pressure. This is what
 * kube-proxy and L4 balancers do, kept for non-HTTP traffic and as the
 * "before" picture of per-connection balancing.
 */
export class TcpRelay {
  private attempts = 0;
  private endpoint: Endpoint | null = null;
  private startedAt = 0;

  constructor(private readonly client: net.Socket, private readonly service: ServiceRuntime) {}

  start(): void {
    this.client.pause();
    this.tryConnect(null);
  }

  private tryConnect(avoid: Endpoint | null): void {
    const ep = this.service.pick(this.service.hashOnSource ? this.client.remoteAddress : undefined, avoid);
    if (ep === undefined || this.attempts >= MAX_CONNECT_ATTEMPTS) {
      this.client.destroy();
      return;
    }
    this.attempts++;
    this.endpoint = ep;
    this.startedAt = ep.load.begin();
    ep.requestsTotal++;
    const upstream = net.connect({ host: ep.host, port: ep.port, noDelay: true });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      ep.load.observeRtt(this.startedAt);
      this.client.pipe(upstream);
      upstream.pipe(this.client);
      this.client.resume();
    });
    upstream.on('error', () => {
      if (!connected) {
        ep.load.end(this.startedAt, true);
        ep.failuresTotal++;
        this.endpoint = null;
        if (!this.client.destroyed) this.tryConnect(ep);
        return;
      }
      this.client.destroy();
    });
    upstream.once('close', () => {
      if (connected) {
        this.finish(false);
        this.client.destroy();
      }
    });
    this.client.once('close', () => {
      if (connected) this.finish(false);
      upstream.destroy();
    });
  }

  private finish(failed: boolean): void {
    const ep = this.endpoint;
    if (ep === null) return;
    this.endpoint = null;
    ep.load.end(this.startedAt, failed);
  }
}
