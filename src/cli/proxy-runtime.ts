/**
 * One proxy with everything `switchyard run` puts around it: health checks,
 * retries and outlier detection with their events logged, the proxy's own
 * certificate, certificate expiry, request telemetry and the admin server.
 * The CLI (run.ts) and the programmatic API (src/index.ts) both start a proxy
 * here, so an embedded proxy behaves as the command does.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from '../telemetry/json-log.js';
import type { Config } from '../config/index.js';
import { createPolicies } from '../policy/index.js';
import type { MemoryEvents } from '../proxy/memory-budget.js';
import { Proxy } from '../proxy/proxy.js';
import { PemError } from '../security/pem-files.js';
import { certificateRegistry, recordConfiguredCertificates } from '../security/certificate-expiry.js';
import type { IdentitySource } from '../security/identity-source.js';
import type { TlsEvents } from '../security/server-tls.js';
import { AdminServer, servicesReadiness, servicesWarnings } from '../telemetry/admin-server.js';
import { endpointLogEvents } from '../telemetry/endpoint-log.js';
import { Telemetry } from '../telemetry/telemetry.js';

export interface ProxyRuntimeOptions {
  log: Logger;
  /**
   * Whether the admin server binds `admin.listen`. A worker process builds its
   * admin routes but answers through the primary's port instead.
   */
  bindAdmin: boolean;
}

/** What failed to start: the proxy's certificate, a certificate file, a listener's port, or the admin port. */
export type StartStage = 'identity' | 'certificate-files' | 'listeners' | 'admin';

/** Start failed at `stage`; whatever had started is stopped again. `cause` is the original error. */
export class StartError extends Error {
  override readonly name = 'StartError';
  constructor(readonly stage: StartStage, override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export interface ProxyRuntime {
  readonly proxy: Proxy;
  /** Request telemetry: present when the admin server or the access log is on. */
  readonly telemetry: Telemetry | undefined;
  /** Present when `admin.enabled`. */
  readonly admin: AdminServer | undefined;
  /** Where the admin server listens, once bound. */
  readonly adminAddress: AddressInfo | undefined;
  /** Stops accepting, drains for up to `drainTimeoutMs`, then closes telemetry, the admin server and the identity. */
  stop(drainTimeoutMs: number): Promise<void>;
}

/** Builds the proxy from a validated configuration and opens its listeners (and the admin port). */
export async function startProxyRuntime(config: Config, o: ProxyRuntimeOptions): Promise<ProxyRuntime> {
  const { log } = o;
  // Request telemetry feeds the admin server (metrics, stats, tap, dashboard) and the access log;
  // with neither, the proxy runs without an observer.
  const telemetry = config.admin.enabled || config.log.accessLog ? new Telemetry({ accessLog: config.log.accessLog, accessLogDecisions: config.log.accessLogDecisions }) : undefined;
  // Health changes and ejections are rare and worth a log line each (Linkerd logs them too).
  const policies = createPolicies({
    healthChanged: (service, endpoint, healthy, detail) =>
      log[healthy ? 'info' : 'warn']({ service, endpoint, detail }, healthy ? 'endpoint healthy' : 'endpoint unhealthy'),
    ejected: (service, endpoint, reason, durationMs) => log.warn({ service, endpoint, reason, durationMs }, 'endpoint ejected'),
    returned: (service, endpoint, phase) => log.info({ service, endpoint, phase }, phase === 'returned' ? 'endpoint returned' : 'endpoint on probation'),
  });
  // The proxy's own certificate is issued before anything listens or connects with it.
  let identity: (IdentitySource & { close(): void }) | undefined;
  if (config.identity !== undefined) {
    try {
      // Loaded only when configured: the certificate library costs resident memory.
      const { SelfIdentity } = await import('../security/self-identity.js');
      identity = await SelfIdentity.create(config.identity, { log: log.child({ component: 'identity' }) });
    } catch (e) {
      telemetry?.close();
      throw new StartError('identity', e);
    }
    log.info({ identity: config.identity.name, notAfter: new Date(identity.current.notAfter!).toISOString() }, 'identity certificate issued');
  }
  // Expiry of every certificate file the configuration names (metric and log); loaders record replacements.
  recordConfiguredCertificates(config);
  certificateRegistry.watch({ log: log.child({ component: 'certificates' }), warningMs: config.identity?.expiryWarning ?? 6 * 3_600_000 });
  // Replaced certificate files: a line when new handshakes use them, an error when they cannot be used.
  const tlsEvents: TlsEvents = {
    reloaded: (listener, setting, m, certificate) => {
      log.info({ listener, setting, identity: m.identity, notAfter: m.notAfter === undefined ? undefined : new Date(m.notAfter).toISOString() }, 'certificate reloaded');
      if (certificate !== undefined) certificateRegistry.set(certificate.kind, certificate.name, certificate.notAfter);
    },
    reloadFailed: (listener, setting, message) => log.error({ listener, setting, error: message }, 'certificate not reloaded; the previous one stays in use'),
  };
  const closeRest = (): void => {
    telemetry?.close();
    identity?.close();
    certificateRegistry.reset();
  };
  // So are endpoints that cannot be connected or resolved: a warning per outage, an info line on recovery.
  let proxy: Proxy;
  try {
    proxy = new Proxy(config, { observer: telemetry, policies, endpointEvents: endpointLogEvents(log), identity, tlsEvents, memoryEvents: memoryLogEvents(log) });
  } catch (e) {
    closeRest();
    // A certificate, key or CA file that cannot be used: the message names the setting and the file.
    if (e instanceof PemError) throw new StartError('certificate-files', e);
    throw e;
  }
  telemetry?.attach(proxy);
  let admin: AdminServer | undefined;
  let adminAddress: AddressInfo | undefined;
  let stage: StartStage = 'listeners';
  try {
    await proxy.start();
    if (config.admin.enabled) {
      stage = 'admin';
      admin = new AdminServer(servicesReadiness(proxy), servicesWarnings(proxy));
      telemetry?.routes(admin);
      if (o.bindAdmin) {
        adminAddress = await admin.listen(config.admin.listen.host, config.admin.listen.port);
        log.info({ address: `${adminAddress.address}:${adminAddress.port}` }, 'admin listening');
      }
    }
  } catch (e) {
    closeRest();
    await proxy.stop(0);
    throw new StartError(stage, e);
  }
  const running: ProxyRuntime = {
    proxy,
    telemetry,
    admin,
    adminAddress,
    async stop(drainTimeoutMs) {
      await proxy.stop(drainTimeoutMs);
      telemetry?.close();
      await admin?.close();
      identity?.close();
      certificateRegistry.reset();
    },
  };
  return running;
}

/** One line per listener with its bound address (port 0 resolved). */
export function logListening(proxy: Proxy, log: Logger): void {
  for (const l of proxy.listeners) {
    const a = l.address;
    log.info({ listener: l.name, protocol: l.config.protocol, address: `${a.address}:${a.port}` }, 'listening');
  }
}

/** One line each time process memory crosses `limits.memoryBudget`, either way. */
function memoryLogEvents(log: Logger): MemoryEvents {
  return {
    onMemoryPressure(over, m, rssBudget, heapBudget) {
      const fields = { rss: m.rss, rssBudget, heapUsed: m.heapUsed, heapBudget };
      if (over) log.warn(fields, 'memory over limits.memoryBudget: new client connections are refused');
      else log.info(fields, 'memory back under limits.memoryBudget: accepting client connections again');
    },
  };
}
