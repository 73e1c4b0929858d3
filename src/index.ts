/**
 * Switchyard as a library: load or build a configuration, start a proxy in
 * this process, reload it, stop it. The proxy is wired as `switchyard run`
 * wires it (cli/proxy-runtime.ts); what the command adds around it — signal
 * handlers, the pid file, watching the configuration file, worker processes —
 * is left to the embedding program. The HTTP/2 engine is `switchyard/http2`.
 */
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { loadConfigFile, parseConfig as validateConfig, type Config } from './config/index.js';
import type { ReloadSummary } from './proxy/proxy.js';
import { logListening, startProxyRuntime, StartError, type ProxyRuntime } from './cli/proxy-runtime.js';
import { applicableChange } from './cli/reload-controller.js';

export { ConfigError, type ConfigIssue, type Config, type ListenerConfig, type ServiceConfig, type RouteConfig } from './config/index.js';
export type { ReloadSummary } from './proxy/proxy.js';

/** Reads and validates a YAML (or JSON) configuration file. Throws `ConfigError` listing every problem with its line. */
export function loadConfig(path: string): Promise<Config> {
  return loadConfigFile(path);
}

/**
 * Validates a configuration given as a plain object (the file's structure)
 * and fills in every default. Throws `ConfigError` naming each bad key path.
 */
export function parseConfig(value: unknown): Config {
  return validateConfig(value, 'config');
}

export interface StartOptions {
  /**
   * Where the proxy logs (health changes, ejections, reloads, certificates).
   * Default: a pino logger on standard output at `log.level`, as the command;
   * a reload then follows `log.level`. A logger passed here keeps its level.
   */
  logger?: Logger;
}

/** What `reload` applied. */
export interface ReloadOutcome {
  changes: ReloadSummary;
  /**
   * Settings that differ but only take effect on a new start (`identity`,
   * `admin`, `limits`, `log.accessLog`, `log.accessLogDecisions`); their
   * running values stay.
   */
  needsRestart: string[];
}

export interface ProxyHandle {
  /** The running configuration (the last one applied). */
  readonly config: Config;
  /** The bound address of a listener (the first one by default); port 0 in the configuration is resolved here. */
  address(listener?: string): AddressInfo;
  /** The admin server's address, or undefined when `admin.enabled` is false. */
  adminAddress(): AddressInfo | undefined;
  /** True when every service has an endpoint to send to (what the admin server's `/ready` answers). */
  readonly ready: boolean;
  /**
   * Applies a new configuration without dropping connections (as SIGHUP does
   * for the command). Rejects, with nothing changed, when a new listener's
   * address cannot be bound or a certificate file cannot be used. Calls are
   * applied one after the other.
   */
  reload(config: Config): Promise<ReloadOutcome>;
  /**
   * Stops accepting, sends GOAWAY to HTTP/2 clients, lets requests in flight
   * finish for up to `drainMs` (default `shutdown.drainTimeout`), then closes
   * everything. Calling it again returns the same promise.
   */
  stop(drainMs?: number): Promise<void>;
}

/**
 * Starts a proxy from a validated configuration (from `loadConfig` or
 * `parseConfig`) and resolves once every listener — and the admin server,
 * when `admin.enabled` — is bound. Request telemetry (metrics, stats, tap,
 * dashboard) runs only when the admin server or the access log is on.
 * Rejects with the original error (`EADDRINUSE`, a certificate file…) after
 * stopping whatever had started.
 */
export async function startProxy(config: Config, options: StartOptions = {}): Promise<ProxyHandle> {
  const ownLogger = options.logger === undefined;
  const log = options.logger ?? pino({ level: config.log.level, base: { name: 'switchyard' } });
  let runtime: ProxyRuntime;
  try {
    runtime = await startProxyRuntime(config, { log, bindAdmin: true });
  } catch (e) {
    throw e instanceof StartError ? e.cause : e;
  }
  logListening(runtime.proxy, log);
  return new Handle(runtime, log, ownLogger);
}

class Handle implements ProxyHandle {
  private reloads: Promise<unknown> = Promise.resolve();
  private stopped: Promise<void> | undefined = undefined;

  constructor(private readonly runtime: ProxyRuntime, private readonly log: Logger, private readonly ownLogger: boolean) {}

  get config(): Config {
    return this.runtime.proxy.config;
  }

  get ready(): boolean {
    return this.runtime.proxy.ready;
  }

  address(listener?: string): AddressInfo {
    const all = this.runtime.proxy.listeners;
    const l = listener === undefined ? all[0] : all.find((x) => x.name === listener);
    if (l === undefined) throw new Error(listener === undefined ? 'the proxy has no listener' : `no listener named "${listener}" (listeners: ${all.map((x) => x.name).join(', ')})`);
    return l.address;
  }

  adminAddress(): AddressInfo | undefined {
    return this.runtime.adminAddress;
  }

  reload(config: Config): Promise<ReloadOutcome> {
    const run = this.reloads.then(() => this.reloadNow(config));
    this.reloads = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(next: Config): Promise<ReloadOutcome> {
    if (this.stopped !== undefined) throw new Error('the proxy is stopped');
    const { effective, needsRestart } = applicableChange(this.runtime.proxy.config, next);
    const changes = await this.runtime.proxy.reconfigure(effective);
    if (this.ownLogger && this.log.level !== effective.log.level) this.log.level = effective.log.level;
    return { changes, needsRestart };
  }

  stop(drainMs?: number): Promise<void> {
    this.stopped ??= this.reloads.then(() => this.runtime.stop(drainMs ?? this.runtime.proxy.config.shutdown.drainTimeout));
    return this.stopped;
  }
}
