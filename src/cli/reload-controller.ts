/**
 * Reloading the configuration of a running `switchyard run`: SIGHUP, the
 * file changing on disk (`watch: true`), and `POST /api/v1/config/reload`
 * all land here. A reload reads and validates the whole file (the same
 * parse as at start), then applies it in place (Proxy.reconfigure); an
 * invalid file, or one whose addresses cannot be bound, is rejected with
 * every error and the running configuration stays. One reload at a time:
 * triggers during a reload wait their turn.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type http from 'node:http';
import type { Logger } from '../telemetry/json-log.js';
import { ConfigError, formatIssue, parseConfigText, type Config } from '../config/index.js';
import type { Proxy, ReloadSummary } from '../proxy/proxy.js';
import { unchanged } from '../proxy/reconfigure.js';
import { sameValue } from '../proxy/reconfigure-rules.js';
import type { AdminServer } from '../telemetry/admin-server.js';
import { registerConfigMetrics, type ConfigReloadCounters } from '../telemetry/config-metrics.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export interface ReloadControllerOptions {
  /** The --config file; undefined in quick mode (nothing to reload). */
  file: string | undefined;
  /** The file's text the running configuration was parsed from (its version). */
  text?: string;
  proxy: Proxy;
  log: Logger;
  /** The command-line flags that override the file (--admin, --log-level, --access-log), applied to every new file. */
  overrides(config: Config): Config;
  /** The one-line message for an address that cannot be bound (or undefined for other errors). */
  bindFailure(err: unknown, config: Config): string | undefined;
  telemetry?: Telemetry;
  admin?: AdminServer;
  /** --pid-file: written by writePidFile(), removed by close(). */
  pidFile?: string;
}

/** The running configuration's version. */
export interface ConfigVersion {
  /** SHA-256 of the file's bytes (of the normalized configuration in quick mode), hex. */
  hash: string;
  loadedAt: string;
}

export type ReloadResult =
  | { result: 'success'; version: ConfigVersion; changes: ReloadSummary; needsRestart: string[] }
  | { result: 'failure'; errors: string[] };

/** Settings that cannot change in a running process: a reload keeps the running value and says so. */
const RESTART_ONLY: readonly { key: string; get(c: Config): unknown }[] = [
  { key: 'identity', get: (c) => c.identity },
  { key: 'admin', get: (c) => c.admin },
  { key: 'log.accessLog', get: (c) => c.log.accessLog },
  { key: 'log.accessLogDecisions', get: (c) => c.log.accessLogDecisions },
  // Process-wide admission (connection count, memory budget) is set up once with the proxy.
  { key: 'limits', get: (c) => c.limits },
];

/**
 * What a reload from `running` to `next` applies: `next` with the restart-only
 * settings kept at their running values, and the keys of those that differ.
 */
export function applicableChange(running: Config, next: Config): { effective: Config; needsRestart: string[] } {
  const needsRestart = RESTART_ONLY.filter((r) => !sameValue(r.get(running), r.get(next))).map((r) => r.key);
  const effective: Config = { ...next, identity: running.identity, admin: running.admin, limits: running.limits, log: { ...next.log, accessLog: running.log.accessLog, accessLogDecisions: running.log.accessLogDecisions } };
  return { effective, needsRestart };
}

/** Editors and `mv` replace a file by rename; a burst of events is one change. */
const SETTLE_MS = 200;

export class ReloadController {
  private version: ConfigVersion;
  private readonly counters: ConfigReloadCounters;
  private lastError: { message: string; errors: string[]; at: string } | undefined = undefined;
  private needsRestart: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | undefined = undefined;
  private settle: NodeJS.Timeout | undefined = undefined;
  /** Hash of the content last tried (applied or rejected): a file event with the same content is no change. */
  private lastTried: string;
  private readonly onSighup = (): void => void this.reload('SIGHUP');
  private closed = false;

  private constructor(private readonly o: ReloadControllerOptions, hash: string) {
    const now = Date.now();
    this.version = { hash, loadedAt: new Date(now).toISOString() };
    this.lastTried = hash;
    this.counters = { success: 0, failure: 0, lastSucceeded: true, lastSuccessAt: now };
    if (o.telemetry !== undefined) registerConfigMetrics(o.telemetry.registry, this.counters);
    o.admin?.route('/api/v1/config', (req, res) => this.getConfig(req, res));
    o.admin?.route('/api/v1/config/reload', (req, res) => this.postReload(req, res));
    process.on('SIGHUP', this.onSighup);
    this.follow(o.proxy.config.watch);
  }

  /** Starts answering SIGHUP (and file changes with `watch: true`) for a started proxy. */
  static async create(o: ReloadControllerOptions): Promise<ReloadController> {
    let hash: string;
    try {
      hash = o.file === undefined ? sha256(JSON.stringify(o.proxy.config)) : sha256(o.text !== undefined ? Buffer.from(o.text, 'utf8') : await readFile(o.file));
    } catch {
      hash = '';
    }
    return new ReloadController(o, hash);
  }

  /** Writes --pid-file (after the listeners are up). */
  async writePidFile(): Promise<void> {
    if (this.o.pidFile === undefined) return;
    try {
      await writeFile(this.o.pidFile, `${process.pid}\n`);
    } catch (e) {
      this.o.log.error({ file: this.o.pidFile, err: (e as Error).message }, 'cannot write the pid file; `switchyard reload --pid-file` will not find this process');
    }
  }

  /** Reads the file again and applies it; the result is also logged and counted. */
  reload(trigger: 'SIGHUP' | 'watch' | 'admin'): Promise<ReloadResult | undefined> {
    const run = this.queue.then(() => this.reloadNow(trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(trigger: 'SIGHUP' | 'watch' | 'admin'): Promise<ReloadResult | undefined> {
    const { file, log, proxy } = this.o;
    if (this.closed) return undefined;
    if (file === undefined) {
      log.info({ trigger }, 'nothing to reload: no configuration file (quick mode)');
      return undefined;
    }
    let text: Buffer;
    try {
      text = await readFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return this.failed(trigger, [`${file}: cannot read configuration: ${code === 'ENOENT' ? 'file not found' : (e as Error).message}`]);
    }
    const hash = sha256(text);
    // A file event whose content is what was last tried changes nothing (touch, an editor's save of the same text).
    if (trigger === 'watch' && hash === this.lastTried) return undefined;
    this.lastTried = hash;
    let next: Config;
    try {
      next = this.o.overrides(parseConfigText(text.toString('utf8'), file));
    } catch (e) {
      if (e instanceof ConfigError) return this.failed(trigger, e.issues.map((i) => formatIssue(i, e.sourceName)));
      return this.failed(trigger, [(e as Error).message]);
    }
    const { effective, needsRestart } = applicableChange(proxy.config, next);
    let changes: ReloadSummary;
    try {
      changes = await proxy.reconfigure(effective);
    } catch (e) {
      return this.failed(trigger, [this.o.bindFailure(e, effective) ?? (e as Error).message]);
    }
    if (log.level !== effective.log.level) log.level = effective.log.level;
    this.follow(effective.watch);
    const now = Date.now();
    this.version = { hash, loadedAt: new Date(now).toISOString() };
    this.counters.success++;
    this.counters.lastSucceeded = true;
    this.counters.lastSuccessAt = now;
    this.lastError = undefined;
    this.needsRestart = needsRestart;
    log.info({ trigger, hash: hash.slice(0, 12), unchanged: unchanged(changes), ...describe(changes) }, 'config reloaded');
    if (needsRestart.length > 0) log.warn({ settings: needsRestart }, 'config reload: these settings need a restart; the running values stay');
    return { result: 'success', version: this.version, changes, needsRestart };
  }

  private failed(trigger: string, errors: string[]): ReloadResult {
    this.counters.failure++;
    this.counters.lastSucceeded = false;
    this.lastError = { message: errors.join('\n'), errors, at: new Date().toISOString() };
    this.o.log.error({ trigger, errors, kept: this.version.hash.slice(0, 12) }, 'config reload failed');
    return { result: 'failure', errors };
  }

  /** `watch: true`: follow the file's directory (a rename into place is seen; the inode is not followed). */
  private follow(on: boolean): void {
    const file = this.o.file;
    if (!on || file === undefined || this.closed) {
      this.watcher?.close();
      this.watcher = undefined;
      return;
    }
    if (this.watcher !== undefined) return;
    const path = resolve(file);
    const name = basename(path);
    try {
      this.watcher = watch(dirname(path), { persistent: false }, (_e, f) => {
        // Kubernetes ConfigMap volumes swap a `..data` symlink: any such change may be ours.
        if (f !== null && String(f) !== name && !String(f).startsWith('..')) return;
        if (this.settle !== undefined) clearTimeout(this.settle);
        this.settle = setTimeout(settled, SETTLE_MS, this);
        this.settle.unref();
      });
      this.watcher.on('error', () => this.follow(false));
    } catch (e) {
      this.o.log.warn({ file, err: (e as Error).message }, 'watch: cannot follow the configuration file; SIGHUP still reloads');
    }
  }

  /** The settle timer fired. */
  fileChanged(): void {
    this.settle = undefined;
    void this.reload('watch');
  }

  /** The running version, path, normalized configuration, reload counts and the last error. */
  status(): Record<string, unknown> {
    return {
      path: this.o.file === undefined ? null : resolve(this.o.file),
      version: this.version,
      reloads: { success: this.counters.success, failure: this.counters.failure },
      lastError: this.lastError ?? null,
      needsRestart: this.needsRestart,
      watch: this.watcher !== undefined,
      config: this.o.proxy.config,
    };
  }

  private getConfig(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'use GET' });
    json(res, 200, this.status());
  }

  private postReload(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST') return json(res, 405, { error: 'use POST' });
    req.resume();
    this.reload('admin').then(
      (r) => {
        if (r === undefined) json(res, 400, { result: 'failure', errors: ['nothing to reload: the proxy runs without a configuration file (quick mode)'] });
        else json(res, r.result === 'success' ? 200 : 400, r);
      },
      (e: Error) => json(res, 500, { result: 'failure', errors: [e.message] }),
    );
  }

  /** Stops following SIGHUP and the file; removes --pid-file. */
  async close(): Promise<void> {
    this.closed = true;
    process.removeListener('SIGHUP', this.onSighup);
    this.follow(false);
    if (this.settle !== undefined) clearTimeout(this.settle);
    if (this.o.pidFile !== undefined) await rm(this.o.pidFile, { force: true });
  }
}

function settled(c: ReloadController): void {
  c.fileChanged();
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The changes as log fields: only what changed. */
function describe(s: ReloadSummary): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const lists = {
    listenersAdded: s.listeners.added, listenersRemoved: s.listeners.removed, listenersRebound: s.listeners.rebound, listenersUpdated: s.listeners.updated,
    servicesAdded: s.services.added, servicesRemoved: s.services.removed, servicesReplaced: s.services.replaced,
  };
  for (const [k, v] of Object.entries(lists)) if (v.length > 0) out[k] = v;
  if (Object.keys(s.services.changed).length > 0) out.servicesChanged = s.services.changed;
  if (s.endpoints.added > 0) out.endpointsAdded = s.endpoints.added;
  if (s.endpoints.removed > 0) out.endpointsRemoved = s.endpoints.removed;
  return out;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
  res.end(JSON.stringify(body));
}
