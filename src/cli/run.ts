import { ConfigError, formatAddress, formatIssues, loadConfigFileText, LOG_LEVELS, parseAddress, parseConfig, type Config, type HostPort } from '../config/index.js';
import { jsonLogger } from '../telemetry/json-log.js';
import { startIdleCollector } from './idle-collector.js';
import { portOwner } from './port-owner.js';
import { parseArgs, stringFlag, UsageError } from './args.js';
import { logListening, startProxyRuntime, StartError, type ProxyRuntime } from './proxy-runtime.js';
import { ReloadController } from './reload-controller.js';
import { isPrimaryProcess, resolveWorkerCount } from './workers.js';

export const RUN_USAGE = `Usage:
  switchyard run --config FILE
  switchyard run --listen HOST:PORT --to HOST:PORT[,HOST:PORT…] [options]

Runs the proxy. With --config, everything comes from the file (see
docs/configuration.md); --admin, --log-level and --access-log override it, and
the quick-mode flags are refused. The quick mode forwards one listener to one
service:

  --listen HOST:PORT          where clients connect (a bare PORT means 0.0.0.0:PORT;
                              port 0 picks a free port)
  --to A,B,C                  the service's endpoints
  --balancer NAME             round-robin, least-request, peak-ewma (default), random, …
  --protocol P                listener protocol: auto (default), http1, http2, tcp
  --upstream-protocol P       http2 (default) or http1
  --admin HOST:PORT           admin server (default 127.0.0.1:9990; "off" disables it and
                              request telemetry: metrics, stats, tap, dashboard)
  --log-level LEVEL           fatal, error, warn, info (default), debug, trace, silent
  --access-log                one JSON line per finished request on standard output
  --workers N|auto            run N proxy processes sharing the listening ports (auto: one
                              per core); the admin server runs in the primary process and
                              answers for all workers (SIGHUP is passed on to each)
  --pid-file FILE             write the process id to FILE once listening (removed on exit),
                              for \`switchyard reload --pid-file FILE\`

On SIGHUP (or \`switchyard reload\`, or a change of the file with \`watch: true\`) it
reads the --config file again and applies it without dropping connections; an
invalid file is rejected with its errors and the running configuration stays
(docs/operations.md). In quick mode SIGHUP changes nothing.

On SIGTERM or SIGINT it stops accepting, sends GOAWAY to HTTP/2 clients, lets
in-flight requests finish within the drain timeout and exits 0.
Exit codes: 0 stopped cleanly, 1 invalid configuration or start failure, 2 usage error.`;

/** Flags of the quick mode only: with --config they would be silently ignored, so they are refused. */
const QUICK_ONLY_FLAGS = ['listen', 'to', 'balancer', 'protocol', 'upstream-protocol'] as const;

/**
 * Flags that also apply to a configuration file, and override it: --admin,
 * --log-level, --access-log (documented in the usage text).
 */
function applyOverrides(config: Config, p: ReturnType<typeof parseArgs>): Config {
  const admin = stringFlag(p, 'admin');
  const level = stringFlag(p, 'log-level');
  let out = config;
  if (admin !== undefined) {
    let listen: HostPort;
    try {
      listen = admin === 'off' ? config.admin.listen : parseAddress(/^\d+$/.test(admin) ? `:${admin}` : admin, { defaultHost: '0.0.0.0', allowPortZero: true });
    } catch (e) {
      throw new UsageError(`--admin: ${(e as Error).message}`);
    }
    out = { ...out, admin: { enabled: admin !== 'off', listen } };
  }
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
    out = { ...out, log: { ...out.log, level: level as Config['log']['level'] } };
  }
  if (p.flags.get('access-log') === true) out = { ...out, log: { ...out.log, accessLog: true } };
  return out;
}

/** The configuration of the quick mode, validated by the same schema as a file. */
export function quickConfig(p: ReturnType<typeof parseArgs>): Config {
  const listen = stringFlag(p, 'listen');
  const to = stringFlag(p, 'to');
  if (listen === undefined || to === undefined) throw new UsageError('quick mode needs --listen and --to (or use --config FILE)');
  const admin = stringFlag(p, 'admin');
  const raw = {
    admin: admin === 'off' ? { enabled: false } : { listen: admin ?? '127.0.0.1:9990' },
    log: { level: stringFlag(p, 'log-level') ?? 'info', accessLog: p.flags.get('access-log') === true },
    listeners: [{ name: 'quick', listen, protocol: stringFlag(p, 'protocol') ?? 'auto', service: 'backend' }],
    services: [
      {
        name: 'backend',
        protocol: stringFlag(p, 'upstream-protocol') ?? 'http2',
        balancer: stringFlag(p, 'balancer') ?? 'peak-ewma',
        endpoints: to.split(',').map((s) => s.trim()).filter((s) => s.length > 0),
      },
    ],
  };
  return parseConfig(raw, 'command line');
}

export async function runRun(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let p: ReturnType<typeof parseArgs>;
  try {
    p = parseArgs(args, ['help', 'access-log']);
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${RUN_USAGE}\n`);
    return 2;
  }
  if (p.flags.has('help')) {
    out.write(`${RUN_USAGE}\n`);
    return 0;
  }
  // SIGHUP would end the process until the reload controller answers it: one
  // that arrives during start-up is held and applied once the proxy runs.
  let heldSighup = false;
  const holdSighup = (): void => {
    heldSighup = true;
  };
  process.on('SIGHUP', holdSighup);
  try {
    return await runStarted(p, err, () => heldSighup);
  } finally {
    process.removeListener('SIGHUP', holdSighup);
  }
}

async function runStarted(p: ReturnType<typeof parseArgs>, err: NodeJS.WritableStream, sighupHeld: () => boolean): Promise<number> {
  let config: Config;
  /** The file's text as parsed: the running version's hash. */
  let text: string | undefined;
  try {
    const file = stringFlag(p, 'config');
    if (file !== undefined) {
      const extra = QUICK_ONLY_FLAGS.filter((f) => p.flags.has(f));
      if (extra.length > 0) throw new UsageError(`${extra.map((f) => `--${f}`).join(', ')} cannot be combined with --config (the file says it; edit the file, or run without --config)`);
      const loaded = await loadConfigFileText(file);
      text = loaded.text;
      config = applyOverrides(loaded.config, p);
    } else config = quickConfig(p);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`${e.message}\n\n${RUN_USAGE}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      err.write(`${formatIssues(e)}\n`);
      return 1;
    }
    err.write(`${(e as Error).message}\n`);
    return 1;
  }

  let workers: number;
  try {
    workers = resolveWorkerCount(stringFlag(p, 'workers'));
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 2;
  }
  const log = jsonLogger({ level: config.log.level, base: { name: 'switchyard' } });
  // With several workers, the primary supervises them and serves the admin port for all of them.
  // Worker mode's admin (and the prom-client it merges metrics with) is loaded only with workers.
  if (workers > 1 && isPrimaryProcess()) return (await import('./worker-admin.js')).runPrimary({ config, workers, log, err, pidFile: stringFlag(p, 'pid-file'), bindFailure: (e) => bindFailure(e, undefined, stringFlag(p, 'config')) });
  let runtime: ProxyRuntime;
  try {
    runtime = await startProxyRuntime(config, { log, bindAdmin: workers === 1 });
  } catch (e) {
    if (!(e instanceof StartError)) throw e;
    if (e.stage === 'identity') log.error({ err: e.message }, 'identity: cannot issue the proxy certificate');
    else if (e.stage === 'certificate-files') err.write(`${e.message}\n`);
    else {
      const line = bindFailure(e.cause, e.stage === 'admin' ? undefined : config, stringFlag(p, 'config'));
      if (line !== undefined) {
        // One line a person can act on: the address, who holds it, and what to change.
        err.write(`${line}\n`);
        log.error(line);
      } else log.error({ err: e.cause }, 'start failed');
    }
    return 1;
  }
  const { proxy, telemetry, admin } = runtime;
  // A worker answers the primary's admin server instead of binding the admin port.
  if (workers > 1) {
    try {
      await (await import('./worker-admin.js')).serveAsWorker(admin, telemetry, log);
    } catch (e) {
      log.error({ err: e }, 'start failed');
      await runtime.stop(0);
      return 1;
    }
  }
  // The signal handlers go in before "listening" is logged: a supervisor that
  // reads readiness from the log may send SIGTERM the moment it sees the line.
  const file = stringFlag(p, 'config');
  const reloads = await ReloadController.create({
    // In worker mode the primary holds the pid file: SIGHUP to it reaches every worker.
    file, text, proxy, log, telemetry, admin, pidFile: workers > 1 ? undefined : stringFlag(p, 'pid-file'),
    overrides: (c) => applyOverrides(c, p),
    bindFailure: (e, c) => bindFailure(e, c, file),
  });
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, drainTimeoutMs: proxy.config.shutdown.drainTimeout }, 'draining');
      void reloads.close()
        .then(() => runtime.stop(proxy.config.shutdown.drainTimeout))
        .then(() => {
          log.info('stopped');
          resolve(0);
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logListening(proxy, log);
  // The command owns its process: an embedded proxy leaves collections to its host.
  const idle = startIdleCollector();
  void stopped.then(() => idle.stop());
  await reloads.writePidFile();
  if (sighupHeld()) void reloads.reload('SIGHUP');
  return await stopped;
}

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EADDRNOTAVAIL: 'address not available (no interface of this machine has it)',
};

/**
 * The line printed when a port cannot be bound, or undefined for other
 * errors: `cannot listen on 127.0.0.1:9990 for the admin server: address
 * already in use, held by pid 812 (switchyard run …); choose another with
 * --admin HOST:PORT (or admin.listen in the file), or --admin off`.
 * `config` is given for listener failures (undefined: the admin server).
 */
export function bindFailure(e: unknown, config: Config | undefined, file: string | undefined): string | undefined {
  const x = e as { code?: unknown; address?: unknown; port?: unknown } | null;
  const code = typeof x?.code === 'string' ? x.code : '';
  const why = BIND_ERRORS[code];
  if (why === undefined || typeof x?.port !== 'number') return undefined;
  const port = x.port;
  const host = typeof x.address === 'string' ? x.address : '';
  const where = formatAddress({ host, port });
  const owner = code === 'EADDRINUSE' ? portOwner(port) : undefined;
  const held = owner === undefined ? '' : `, held by ${owner}`;
  if (config === undefined) {
    return `cannot listen on ${where} for the admin server: ${why}${held}; choose another with --admin HOST:PORT${file === undefined ? '' : ' (or admin.listen in the file)'}, or --admin off`;
  }
  const i = config.listeners.findIndex((l) => l.listen.port === port);
  const name = i >= 0 ? ` for listener "${config.listeners[i]!.name}"` : '';
  const fix = file === undefined ? '--listen HOST:PORT' : i >= 0 ? `listeners[${i}].listen in ${file}` : `the listeners' listen in ${file}`;
  return `cannot listen on ${where}${name}: ${why}${held}; choose another with ${fix}`;
}
