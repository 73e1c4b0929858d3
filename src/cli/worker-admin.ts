/**
 * Worker mode (`--workers N`): the admin server runs in the primary process
 * and answers for the whole process. Metrics, stats, topology and readiness
 * are asked from every worker over the cluster IPC channel and merged
 * (cluster-merge-*.ts); the tap streams every worker's events, which the
 * workers send only while someone is subscribed; other routes are relayed
 * (admin-relay.ts). A worker that does not answer within the timeout is left
 * out, and the answer says so (x-switchyard-workers-missing, and a
 * `missingWorkers` field in JSON answers): the admin port never waits on a
 * stuck worker.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../telemetry/json-log.js';
import { Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import { AdminServer } from '../telemetry/admin-server.js';
import { serveSnapshots, type PrimaryMessage, type SnapshotKind, type WorkerMessage } from '../telemetry/cluster-export.js';
import { compactParts, mergeMetrics, retiredPart, type MetricsExport } from '../telemetry/cluster-merge-metrics.js';
import { mergeStats, type StatsExport } from '../telemetry/cluster-merge-stats.js';
import { mergeTopology, type TopologyExport, type WorkerPart } from '../telemetry/cluster-merge-topology.js';
import { dashboardHtml } from '../telemetry/dashboard.js';
import { ScrapeMetric } from '../telemetry/prom.js';
import { TapHub } from '../telemetry/tap.js';
import { parseWindow, type Telemetry } from '../telemetry/telemetry.js';
import { relayAdmin } from './admin-relay.js';
import { WorkerSupervisor, type WorkerSlot } from './workers.js';

/** Where the primary tells workers to put their private admin sockets. */
const SOCKETS_ENV = 'SWITCHYARD_ADMIN_SOCKETS';

export interface PrimaryOptions {
  config: Config;
  workers: number;
  log: Logger;
  err: NodeJS.WritableStream;
  /** The line to print when the admin port cannot be bound (run.ts's bindFailure). */
  bindFailure: (e: unknown) => string | undefined;
  /** How long a worker has to answer a snapshot request (default 1 s). */
  snapshotTimeoutMs?: number;
  /** How long a worker has to answer a relayed request (default 5 s: a reload may take a while). */
  relayTimeoutMs?: number;
  /** --pid-file: the primary's pid, since SIGHUP sent to it reaches every worker. */
  pidFile?: string;
}

/** The primary process of worker mode: the admin server (when enabled) and the supervisor. */
export async function runPrimary(o: PrimaryOptions): Promise<number> {
  if (o.pidFile === undefined) return supervise(o);
  try {
    writeFileSync(o.pidFile, `${process.pid}\n`);
  } catch (e) {
    o.log.error({ file: o.pidFile, err: (e as Error).message }, 'cannot write the pid file; `switchyard reload --pid-file` will not find this process');
  }
  try {
    return await supervise(o);
  } finally {
    rmSync(o.pidFile, { force: true });
  }
}

async function supervise(o: PrimaryOptions): Promise<number> {
  if (!o.config.admin.enabled) return new WorkerSupervisor({ count: o.workers, log: o.log }).stopped;
  // mkdtemp makes the directory 0700: only this user reaches the workers' admin sockets.
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-admin-'));
  const admin = new ClusterAdmin(o.snapshotTimeoutMs ?? 1000, o.relayTimeoutMs ?? 5000);
  try {
    const a = await admin.server.listen(o.config.admin.listen.host, o.config.admin.listen.port);
    o.log.info({ address: `${a.address}:${a.port}`, workers: o.workers }, 'admin listening');
  } catch (e) {
    const line = o.bindFailure(e);
    if (line !== undefined) {
      o.err.write(`${line}\n`);
      o.log.error(line);
    } else o.log.error({ err: e }, 'start failed');
    admin.close();
    rmSync(dir, { recursive: true, force: true });
    return 1;
  }
  const supervisor = new WorkerSupervisor({
    count: o.workers,
    log: o.log,
    env: { [SOCKETS_ENV]: dir },
    up: (slot) => admin.sendTap(slot),
    exited: (slot) => {
      if (slot.admin !== undefined) rmSync(slot.admin, { force: true });
      admin.retire(slot);
    },
  });
  admin.supervisor = supervisor;
  const code = await supervisor.stopped;
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
  return code;
}

interface Gathered<T> {
  parts: WorkerPart<T>[];
  missing: { worker: number; reason: string }[];
}

class ClusterAdmin {
  readonly server = new AdminServer(() => true);
  private readonly tap = new TapHub();
  supervisor: WorkerSupervisor | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (m: { body?: unknown; error?: string }) => void>();
  private readonly own = new Registry();
  private scraped = 0;
  /** Each worker's metrics as last scraped, by pid. */
  private readonly lastScrape = new Map<number, MetricsExport>();
  /** Counters and histograms of workers that exited (retiredPart). */
  private retired: MetricsExport | undefined;
  private retiring = Promise.resolve();
  private readonly onMessage = (worker: Worker, m: WorkerMessage | null): void => this.message(worker, m);

  constructor(
    private readonly snapshotTimeoutMs: number,
    private readonly relayTimeoutMs: number,
  ) {
    cluster.on('message', this.onMessage);
    this.tap.onSubscribersChanged = () => {
      for (const s of this.serving()) this.sendTap(s);
    };
    this.registerOwnMetrics();
    const s = this.server;
    s.route('/ready', (_req, res) => void this.ready(res));
    s.route('/metrics', (_req, res) => void this.metrics(res));
    s.route('/api/v1/stats', (_req, res, url) => {
      const w = parseWindow(url.searchParams.get('window'));
      if (w === undefined) json(res, 400, { error: 'window must be 10s or 1m' });
      else void this.stats(res, w);
    });
    s.route('/api/v1/topology', (_req, res) => void this.topology(res));
    s.route('/api/v1/tap', (req, res, url) => this.tap.handle(req, res, url));
    const html = dashboardHtml();
    s.route('/dashboard', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(html);
    });
    s.route('/', (_req, res) => {
      res.writeHead(302, { location: '/dashboard' });
      res.end();
    });
    s.fallback = (req, res) => relayAdmin(req, res, this.serving(), this.relayTimeoutMs);
  }

  /** Workers that reported serving, by index. */
  private serving(): WorkerSlot[] {
    const all = [...(this.supervisor?.slots.values() ?? [])];
    return all.filter((s) => s.up).sort((a, b) => a.index - b.index);
  }

  private message(worker: Worker, m: WorkerMessage | null): void {
    if (m?.swy === 'snapshot-answer') this.pending.get(m.id)?.(m);
    else if (m?.swy === 'tap-event') {
      const slot = this.serving().find((s) => s.worker === worker);
      if (slot !== undefined) this.tap.publish({ ...m.event, worker: slot.index });
    }
  }

  /** Tells a worker what the tap subscribers want of it (nothing: it stops sending). */
  sendTap(slot: WorkerSlot): void {
    const { filters, maxPerSecond } = this.tap.subscriptions();
    const mine = filters.filter((f) => f.worker === undefined || f.worker === slot.index).map(({ worker: _, ...f }) => f);
    send(slot.worker, { swy: 'tap', filters: mine, maxPerSecond });
  }

  /** A snapshot from every serving worker, leaving out those that fail or do not answer in time. */
  private async gather<T>(kind: SnapshotKind, window?: number): Promise<Gathered<T>> {
    const out: Gathered<T> = { parts: [], missing: [] };
    await Promise.all(
      this.serving().map(
        (slot) =>
          new Promise<void>((resolve) => {
            const id = this.nextId++;
            const timer = setTimeout(() => answered({ error: `no answer within ${this.snapshotTimeoutMs} ms` }), this.snapshotTimeoutMs);
            const answered = (m: { body?: unknown; error?: string }): void => {
              clearTimeout(timer);
              this.pending.delete(id);
              if (m.error !== undefined) out.missing.push({ worker: slot.index, reason: m.error });
              else out.parts.push({ worker: slot.index, pid: slot.pid, body: m.body as T });
              resolve();
            };
            this.pending.set(id, answered);
            if (!send(slot.worker, { swy: 'snapshot', id, kind, window })) answered({ error: 'not connected' });
          }),
      ),
    );
    out.parts.sort((a, b) => a.worker - b.worker);
    out.missing.sort((a, b) => a.worker - b.worker);
    return out;
  }

  private async ready(res: http.ServerResponse): Promise<void> {
    const g = await this.gather<{ ready: boolean; text: string }>('ready');
    const problems = new Lines();
    const warnings = new Lines();
    for (const m of g.missing) problems.add(m.worker, m.reason);
    for (const p of g.parts) {
      for (const line of p.body.text.split('\n')) {
        if (line.startsWith('not ready: ')) problems.add(p.worker, line.slice(11));
        else if (line.startsWith('warning: ')) warnings.add(p.worker, line.slice(9));
      }
    }
    // Starting and restarting workers are not counted: the others serve meanwhile.
    if (g.parts.length === 0 && g.missing.length === 0) problems.add(-1, 'no worker serves yet');
    const ready = problems.empty;
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain', ...missingHeader(g) });
    res.end(ready ? `ready\n${warnings.text('warning')}` : problems.text('not ready'));
  }

  private async metrics(res: http.ServerResponse): Promise<void> {
    const g = await this.gather<MetricsExport>('metrics');
    await this.retiring;
    this.scraped = g.parts.length;
    for (const p of g.parts) this.lastScrape.set(p.pid, p.body);
    try {
      const parts = g.parts.map((p) => p.body);
      if (this.retired !== undefined) parts.push(this.retired);
      const reg = mergeMetrics(parts, this.own);
      const text = await reg.metrics();
      res.writeHead(200, { 'content-type': reg.contentType, ...missingHeader(g) });
      res.end(text);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${(e as Error).message}\n`);
    }
  }

  private async stats(res: http.ServerResponse, window: number): Promise<void> {
    const g = await this.gather<StatsExport>('stats', window);
    json(res, 200, { ...mergeStats(g.parts), tapSubscribers: this.tap.subscriberCount, missingWorkers: g.missing }, missingHeader(g));
  }

  private async topology(res: http.ServerResponse): Promise<void> {
    const g = await this.gather<TopologyExport>('topology');
    const workers = g.parts.map((p) => ({ worker: p.worker, pid: p.pid }));
    json(res, 200, { ...mergeTopology(g.parts), workers, missingWorkers: g.missing }, missingHeader(g));
  }

  /** Keeps what an exited worker counted, as last scraped, in the sums. */
  retire(slot: WorkerSlot): void {
    const last = this.lastScrape.get(slot.pid);
    this.lastScrape.delete(slot.pid);
    if (last === undefined) return;
    const part = retiredPart(last);
    // One at a time: two workers exiting together must both stay counted.
    this.retiring = this.retiring.then(async () => {
      this.retired = this.retired === undefined ? part : await compactParts([this.retired, part]);
    });
  }

  private registerOwnMetrics(): void {
    new ScrapeMetric('switchyard_workers', 'Worker processes (--workers) by state: serving, or starting (a replacement included).', 'gauge', () => {
      const all = [...(this.supervisor?.slots.values() ?? [])];
      const up = all.filter((s) => s.up).length;
      return [
        { labels: { state: 'serving' }, value: up },
        { labels: { state: 'starting' }, value: all.length - up },
      ];
    }).register(this.own);
    new ScrapeMetric('switchyard_workers_scraped', 'Workers whose figures this scrape holds (a worker that did not answer in time is left out).', 'gauge', () => [
      { labels: {}, value: this.scraped },
    ]).register(this.own);
    new ScrapeMetric('switchyard_worker_restarts_total', 'Worker processes started to replace one that exited.', 'counter', () => [
      { labels: {}, value: this.supervisor?.restarts ?? 0 },
    ]).register(this.own);
  }

  async close(): Promise<void> {
    cluster.off('message', this.onMessage);
    this.tap.close();
    await this.server.close();
  }
}

/** Lines of several workers, the same line once with every worker it came from. */
class Lines {
  private readonly byLine = new Map<string, number[]>();
  get empty(): boolean {
    return this.byLine.size === 0;
  }
  add(worker: number, line: string): void {
    let w = this.byLine.get(line);
    if (w === undefined) this.byLine.set(line, (w = []));
    w.push(worker);
  }
  text(prefix: string): string {
    let out = '';
    for (const [line, workers] of this.byLine) {
      const who = workers[0] === -1 ? '' : `${workers.length === 1 ? 'worker' : 'workers'} ${workers.join(', ')}: `;
      out += `${prefix}: ${who}${line}\n`;
    }
    return out;
  }
}

function send(worker: Worker, m: PrimaryMessage): boolean {
  if (!worker.isConnected()) return false;
  try {
    worker.send(m);
    return true;
  } catch {
    return false;
  }
}

function missingHeader(g: Gathered<unknown>): Record<string, string> {
  if (g.missing.length === 0) return {};
  return { 'x-switchyard-workers-missing': g.missing.map((m) => `${m.worker} (${m.reason})`).join(', ') };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * The worker's side, once its proxy serves: with the admin server enabled,
 * it listens on a private socket (for relayed routes; never the admin port)
 * and answers the primary's snapshot requests; then it tells the primary it
 * serves.
 */
export async function serveAsWorker(admin: AdminServer | undefined, telemetry: Telemetry | undefined, log: Logger): Promise<void> {
  // A SIGHUP the primary passes on must not end a worker that has nothing to reload.
  process.on('SIGHUP', () => {
    if (process.listenerCount('SIGHUP') === 1) log.info('SIGHUP: nothing to reload');
  });
  let socket: string | undefined;
  const dir = process.env[SOCKETS_ENV];
  if (admin !== undefined && telemetry !== undefined && dir !== undefined) {
    socket = path.join(dir, `${cluster.worker?.id ?? process.pid}.sock`);
    rmSync(socket, { force: true });
    // exclusive: this worker's own socket, not one the primary shares among workers.
    await new Promise<void>((resolve, reject) => {
      admin.server.once('error', reject);
      admin.server.listen({ path: socket, exclusive: true }, () => resolve());
    });
    serveSnapshots(telemetry, admin, process as never);
  }
  process.send?.({ swy: 'up', admin: socket } satisfies WorkerMessage);
}
