/**
 * Kubernetes discovery: the endpoints of one Service, from its
 * EndpointSlices (label `kubernetes.io/service-name=<service>`), listed and
 * then watched from the list's resourceVersion with @kubernetes/client-node's
 * ListWatch (the informer `makeInformer` builds).
 *
 * What the informer leaves to its user, and how it is covered here:
 * - A 410 Gone (HTTP status, or an ERROR event followed by the end of the
 *   stream) makes it relist by itself; it then reports objects missing from
 *   the new list as deletes and the others as adds/updates, synchronously,
 *   so one snapshot per event-loop turn shows the whole new list at once and
 *   never an empty set in between.
 * - Any other failure stops it for good: it is started again here after an
 *   exponential backoff with jitter (client-go's reflector does the same),
 *   keeping its resourceVersion, so the watch resumes where it stopped.
 * - It never asks for bookmarks or a watch timeout, and its own request
 *   timeout is not applied (1.4.0 overwrites the signal that carries it):
 *   the watch is opened here with `allowWatchBookmarks=true` (so a resumed
 *   watch starts from a recent resourceVersion instead of meeting a 410) and
 *   `timeoutSeconds` (5–10 min, like client-go), and abandoned if the server
 *   has not ended it some time after that — a connection that died without
 *   a FIN would otherwise hang forever.
 * - It ignores ERROR events other than 410 and, when a watch ends cleanly,
 *   opens the next one at once: an ERROR event is turned into a failure
 *   here, and so is a watch that ends within a second without an event
 *   (client-go's "very short watch"), so both back off.
 * - `connect` fires before the list, so it says nothing about success: the
 *   list function (ours) and the watch's events say it instead.
 * - It can open a watch after stop() (a list or connect in flight): the
 *   watch opener here refuses or aborts once stopped.
 *
 * The library is imported when the source starts, not with this module:
 * it costs about half a second of start-up.
 */
import { STATUS_CODES } from 'node:http';
import type { DiscoveryV1Api, KubeConfig, ListWatch, V1EndpointSlice, V1EndpointSliceList, Watch } from '@kubernetes/client-node';
import type { KubernetesDiscoveryConfig } from '../config/index.js';
import { contextNamespace, describeAccess, KubeAccessError, loadKubeConfig, resolveKubeAccess, type KubeAccess, type ResolveOptions } from './kubernetes-auth.js';
import { mergeSlices, missingPortMessage, parseSlice, sameParsedSlice, type ParsedSlice } from './kubernetes-slices.js';
import type { DiscoverySink, DiscoverySource } from './types.js';

/** Snapshots are sent at most this often; changes within it are batched. */
const MIN_FLUSH_INTERVAL_MS = 100;

export interface KubernetesSourceOptions {
  /** Use this KubeConfig instead of finding one (tests point it at a stand-in API server). */
  kubeConfig?: KubeConfig;
  /** Restart delay after failures, ms: doubles from `base` up to `max`, each drawn in [½, 1] of that. Default 500 → 30 000. */
  backoff?: { base: number; max: number };
  /** Uniform [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
  /** `timeoutSeconds` of each watch request. Default: drawn in [300, 600) per watch, like client-go. */
  watchTimeoutSeconds?: number;
  /** Time allowed for a list response, ms. Default 60 000. */
  listTimeout?: number;
  /** Where in-cluster credentials are looked for (tests only). */
  resolve?: ResolveOptions;
}

const WATCH_GRACE_MS = 30_000;

/** The generated client's per-call middleware (observable-style, unlike the package's top-level `Middleware`). */
type CallMiddleware = NonNullable<NonNullable<Parameters<DiscoveryV1Api['listNamespacedEndpointSlice']>[1]>['middleware']>[number];

/** A watch stream that was established and then broke: the informer is started again from its resourceVersion; nothing to report. */
class WatchInterrupted extends Error {
  override readonly name = 'WatchInterrupted';
}

/** The informer went on after stop(); not a failure. */
class SourceStopped extends Error {
  override readonly name = 'SourceStopped';
}

/** HTTP status of a failed request: client-node's ApiException (`code`) or watch error (`statusCode`). */
function statusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

/** The API server's own explanation: `message` of the Status object in the response body. */
function statusMessage(err: unknown): string | undefined {
  const body = (err as { body?: unknown }).body;
  let status: unknown = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const message = (status as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message !== '' ? message : undefined;
}

export class KubernetesSource implements DiscoverySource {
  readonly kind = 'kubernetes';
  readonly description: string;
  /** The namespace watched: configured, else the in-cluster or kubeconfig context's, else "default". */
  readonly namespace: string;

  private readonly config: KubernetesDiscoveryConfig;
  /** Where credentials come from; undefined until found (then start() keeps looking). */
  private access: KubeAccess | undefined;
  private readonly backoff: { base: number; max: number };
  private readonly random: () => number;
  private readonly options: KubernetesSourceOptions;
  private readonly target: string;
  private sink: DiscoverySink | undefined;
  private stopped = false;
  private server = '';
  private informer: ListWatch<V1EndpointSlice> | undefined;
  private api: DiscoveryV1Api | undefined;
  /** Puts the pending list's abort signal on its request (the generated client has no timeout of its own). */
  private listSignal: CallMiddleware | undefined;
  /** Slice name → what it contributes; maintained from the informer's events. */
  private readonly slices = new Map<string, ParsedSlice>();
  /** A list has arrived: `slices` is a complete view. */
  private listed = false;
  private dirty = false;
  /** The next flush calls update() even if nothing changed: first list, or healthy again after an error. */
  private announce = false;
  private flushHandle: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Consecutive failed attempts; sets the backoff. */
  private failures = 0;
  private errorReported = false;
  private portError = '';
  private pendingList: AbortController | undefined;
  private readonly openWatches = new Set<AbortController>();

  constructor(config: KubernetesDiscoveryConfig, options: KubernetesSourceOptions = {}) {
    this.config = config;
    this.options = options;
    // Local files only (the kubeconfig, the service account's namespace), to
    // name the namespace in the description; nothing is contacted before
    // start(). Missing credentials are not fatal here: start() reports them
    // and keeps looking, as any source does after a failure.
    if (options.kubeConfig !== undefined) {
      this.access = { kind: 'given', kubeConfig: options.kubeConfig, namespace: contextNamespace(options.kubeConfig) };
    } else {
      try {
        this.access = resolveKubeAccess(config.kubeconfig, options.resolve);
      } catch {
        this.access = undefined;
      }
    }
    this.namespace = config.namespace ?? this.access?.namespace ?? 'default';
    this.backoff = options.backoff ?? { base: 500, max: 30_000 };
    this.random = options.random ?? Math.random;
    this.target = `${this.namespace}/${config.service}`;
    this.description = `kubernetes ${this.target} port ${config.port}`;
  }

  start(sink: DiscoverySink): void {
    if (this.sink !== undefined) throw new Error(`${this.description}: already started`);
    this.sink = sink;
    void this.boot();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.restartTimer);
    if (this.flushHandle !== undefined) {
      clearImmediate(this.flushHandle as NodeJS.Immediate);
      clearTimeout(this.flushHandle as NodeJS.Timeout);
    }
    this.pendingList?.abort();
    for (const c of this.openWatches) c.abort();
    this.openWatches.clear();
    this.informer?.stop().catch(() => undefined);
  }

  /** Loads the client library and credentials, then starts the informer; retried after failures. */
  private async boot(): Promise<void> {
    this.restartTimer = undefined;
    let k8s: typeof import('@kubernetes/client-node');
    let kc: KubeConfig;
    try {
      this.access ??= resolveKubeAccess(this.config.kubeconfig, this.options.resolve);
      k8s = await import('@kubernetes/client-node');
      kc = await loadKubeConfig(this.access);
      this.api = kc.makeApiClient(k8s.DiscoveryV1Api);
      const Observable = k8s.Observable;
      this.listSignal = {
        pre: (ctx) => {
          if (this.pendingList !== undefined) ctx.setSignal(this.pendingList.signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res) => new Observable(Promise.resolve(res)),
      };
    } catch (err) {
      if (this.stopped) return;
      const where = this.access === undefined ? 'credentials' : describeAccess(this.access);
      this.report(err instanceof KubeAccessError ? err.message : `${where}: ${(err as Error).message}`);
      this.retryLater(() => void this.boot());
      return;
    }
    if (this.stopped) return;
    this.server = kc.getCurrentCluster()?.server ?? '';
    const watch = new k8s.Watch(kc);
    const opener = { config: kc, watch: this.openWatch.bind(this, watch) } satisfies Pick<Watch, 'config' | 'watch'>;
    const path = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/endpointslices`;
    const informer = new k8s.ListWatch<V1EndpointSlice>(path, opener as Watch, () => this.list(), false, this.selector());
    informer.on('add', (s) => this.upsert(s));
    informer.on('update', (s) => this.upsert(s));
    informer.on('delete', (s) => this.remove(s));
    informer.on('error', (err: unknown) => this.failed(err));
    this.informer = informer;
    this.run();
  }

  private selector(): string {
    return `kubernetes.io/service-name=${this.config.service}`;
  }

  private run(): void {
    this.restartTimer = undefined;
    if (this.stopped) return;
    this.informer!.start().catch((err: unknown) => this.failed(err));
  }

  /** The informer's list function; its success is what resets the backoff. */
  private async list(): Promise<V1EndpointSliceList> {
    // Without this the informer would go on to open a watch after stop().
    if (this.stopped) throw new SourceStopped();
    const abort = new AbortController();
    this.pendingList = abort;
    const timer = setTimeout(() => abort.abort(), this.options.listTimeout ?? 60_000);
    let list: V1EndpointSliceList;
    try {
      list = await this.api!.listNamespacedEndpointSlice(
        { namespace: this.namespace, labelSelector: this.selector() },
        { middleware: [this.listSignal!], middlewareMergeStrategy: 'append' },
      );
    } catch (err) {
      if (abort.signal.aborted && !this.stopped) {
        throw new Error(`list: no answer from ${this.server} within ${(this.options.listTimeout ?? 60_000) / 1000} s`);
      }
      throw err;
    } finally {
      clearTimeout(timer);
      this.pendingList = undefined;
    }
    if (this.stopped) throw new SourceStopped();
    // The informer applies the items synchronously once this resolves; the
    // flush, a macrotask, sees all of them.
    this.failures = 0;
    this.listed = true;
    this.announce = true;
    this.portError = '';
    this.scheduleFlush();
    return list;
  }

  /**
   * The informer's watch call, through client-node's Watch with bookmarks and
   * a server-side timeout added. Resolves with the request's controller, as
   * Watch.watch does.
   */
  private async openWatch(
    watch: Watch,
    path: string,
    params: Record<string, string | number | boolean | undefined>,
    onEvent: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const idle = new AbortController();
    idle.abort();
    if (this.stopped) return idle;
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300 + Math.floor(this.random() * 300);
    let connectedAt = 0;
    let events = 0;
    let failure: { code?: unknown; message?: unknown } | undefined;
    let ended = false;
    let stalled = false;
    let deadline: NodeJS.Timeout | undefined;
    let controller: AbortController | undefined;
    const relay = (phase: string, obj: unknown, watchObj?: unknown): void => {
      if (++events === 1) this.failures = 0;
      // The informer acts on a 410 only and waits for the end of the stream;
      // any other ERROR event (a Status) is a failure to back off from.
      if (phase === 'ERROR' && (obj as { code?: unknown } | null)?.code !== 410) failure = (obj ?? {}) as typeof failure;
      onEvent(phase, obj, watchObj);
    };
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      clearTimeout(deadline);
      if (controller !== undefined) this.openWatches.delete(controller);
      const lived = connectedAt > 0 ? Date.now() - connectedAt : 0;
      // A watch that stayed up a while proves the server healthy, even a quiet one.
      if (lived >= 1000) this.failures = 0;
      if (failure !== undefined) {
        const code = typeof failure.code === 'number' ? failure.code : 500;
        err = Object.assign(new Error(String(failure.message ?? 'watch error')), { statusCode: code, body: failure });
      } else if (err && connectedAt > 0) {
        err = new WatchInterrupted(stalled ? `no end of the watch ${timeoutSeconds} s after its timeout` : String((err as Error).message ?? err));
      } else if (!err && connectedAt > 0 && events === 0 && lived < 1000) {
        // client-go's "very short watch": a server that ends every watch at
        // once would otherwise be asked again without pause.
        err = new WatchInterrupted('the API server ended the watch at once');
      }
      done(err);
    };
    try {
      controller = await watch.watch(path, { ...params, allowWatchBookmarks: true, timeoutSeconds }, relay, end);
    } catch (err) {
      // Watch.watch applies credentials outside its own try (an unreadable
      // token file): without this the informer's promise would reject unhandled.
      end(err);
      return idle;
    }
    if (ended) return controller;
    if (this.stopped) {
      controller.abort();
      return controller;
    }
    connectedAt = Date.now();
    this.openWatches.add(controller);
    if (this.errorReported) {
      // Resumed without a list after a reported error: say it is healthy again.
      this.announce = true;
      this.scheduleFlush();
    }
    const c = controller;
    deadline = setTimeout(() => {
      stalled = true;
      c.abort();
    }, timeoutSeconds * 1000 + Math.min(WATCH_GRACE_MS, timeoutSeconds * 500));
    return controller;
  }

  private upsert(slice: V1EndpointSlice): void {
    const name = slice.metadata?.name;
    if (this.stopped || !name) return;
    const before = this.slices.get(name);
    const parsed = parseSlice(slice, this.config.port, before);
    this.slices.set(name, parsed);
    if (before === undefined ? parsed.populated : !sameParsedSlice(before, parsed)) this.changed();
  }

  private remove(slice: V1EndpointSlice): void {
    const name = slice.metadata?.name;
    if (this.stopped || !name) return;
    const before = this.slices.get(name);
    if (before === undefined) return;
    this.slices.delete(name);
    if (before.populated) this.changed();
  }

  private changed(): void {
    this.dirty = true;
    this.scheduleFlush();
  }

  /**
   * One snapshot per event-loop turn, however many slices changed in it (a
   * relist of 20 slices is one), and at most one per MIN_FLUSH_INTERVAL_MS:
   * a rollout's stream of changes is applied in batches, each of which costs
   * the data path one diff of the whole set (measured by bench:discovery).
   */
  private scheduleFlush(): void {
    if (this.flushHandle !== undefined || this.stopped) return;
    const wait = this.lastFlush + MIN_FLUSH_INTERVAL_MS - Date.now();
    this.flushHandle = wait > 0 ? setTimeout(() => this.flush(), wait) : setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushHandle = undefined;
    this.lastFlush = Date.now();
    if (this.stopped || !this.listed) return;
    const portError = missingPortMessage(this.slices.values(), this.config.port);
    if (portError !== undefined) {
      if (portError !== this.portError) {
        this.portError = portError;
        this.report(`EndpointSlices of ${this.target}: ${portError}`);
      }
      return;
    }
    this.portError = '';
    if (!this.dirty && !this.announce) return;
    this.dirty = false;
    this.announce = false;
    this.errorReported = false;
    this.sink!.update(mergeSlices(this.slices.values()));
  }

  private report(message: string): void {
    this.errorReported = true;
    this.sink!.error(message);
  }

  /** The informer stopped (it does so on any error but a 410): report, then start it again after the backoff. */
  private failed(err: unknown): void {
    if (this.stopped || err instanceof SourceStopped || this.restartTimer !== undefined) return;
    if (!(err instanceof WatchInterrupted)) this.report(this.explain(err));
    this.retryLater(() => this.run());
  }

  private retryLater(again: () => void): void {
    const { base, max } = this.backoff;
    const ceiling = Math.min(max, base * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Equal jitter: proxies that lost the API server together do not come back in step.
    this.restartTimer = setTimeout(again, ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** A message that says what failed and what to do about it. */
  private explain(err: unknown): string {
    const what = `EndpointSlices of ${this.target}`;
    const status = statusOf(err);
    if (status !== undefined) {
      const detail = statusMessage(err);
      let hint = '';
      if (status === 401) hint = ': the API server rejected the credentials (expired, revoked or unreadable token?)';
      else if (status === 403) hint = `: the account needs RBAC get, list and watch on endpointslices (apiGroup discovery.k8s.io) in namespace ${this.namespace}`;
      else if (status === 404) hint = `: ${this.server} serves no discovery.k8s.io/v1 EndpointSlices (Kubernetes 1.21 or later, and an API server URL, needed)`;
      return `${what}: HTTP ${status} ${STATUS_CODES[status] ?? ''}${detail ? ` (${detail})` : ''}${hint}`;
    }
    const message = String((err as Error)?.message ?? err);
    // node-fetch: "request to <url> failed, reason: connect ECONNREFUSED 127.0.0.1:6443".
    const reason = /, reason: (.*)$/s.exec(message)?.[1];
    if (reason !== undefined) return `${what}: cannot reach the API server ${this.server}: ${reason}`;
    return `${what}: ${message}`;
  }
}
