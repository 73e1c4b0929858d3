/**
 * A stand-in for the Kubernetes API server, for tests. No kube-apiserver can
 * run here, so this in-process node:http server speaks the part of the real
 * protocol that EndpointSlice discovery uses, and the tests drive it through
 * the real @kubernetes/client-node:
 *
 * - `GET /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices` lists
 *   (an EndpointSliceList whose `metadata.resourceVersion` is the current
 *   one), filtered by `labelSelector` (`k=v`, `k!=v`, `k`, `!k`, ANDed by
 *   commas);
 * - `?watch=true&resourceVersion=N` streams NDJSON events after N, replaying
 *   the kept history first, with the selector applied as the API server does
 *   (an object that stops matching arrives as DELETED, one that starts
 *   matching as ADDED); without N it sends the current objects as ADDED;
 * - `allowWatchBookmarks=true` enables BOOKMARK events (`bookmark()`, and one
 *   just before a `timeoutSeconds` expiry ends the stream);
 * - after `compact()`, a watch from an older resourceVersion gets 410 Gone:
 *   an ERROR event with a Status (code 410, "too old resource version") and
 *   the end of the stream, as the watch cache answers, or an HTTP 410
 *   status (`goneAs = 'status'`);
 * - resourceVersions are increasing integers shared by all objects.
 *
 * Ways to break it: `dropWatches()` (destroy open watch connections),
 * `endWatches()` (end them as a server timeout does), `errorWatches()` (an
 * ERROR event, then the end), `endWatchesAtOnce`, `holdWatches()` (new
 * watch requests wait until `releaseWatches()`), `holdLists()`, `failWith()` (answer every
 * request with an error Status until cleared), `suspend()` / `resume()`
 * (stop listening: connection refused). Objects are validated with
 * kubernetes-models, as the API server would reject malformed ones.
 */
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { EndpointSlice, type IEndpointSlice } from 'kubernetes-models/discovery.k8s.io/v1/EndpointSlice';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** A slice as a test writes it: name, namespace and labels in metadata; no resourceVersion. */
export type SliceInput = Omit<IEndpointSlice, 'apiVersion' | 'kind' | 'metadata'> & {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

type Obj = IEndpointSlice & { metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> } };

interface Change {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The object before the change (MODIFIED, DELETED). */
  prev?: Obj;
  obj: Obj;
}

type Requirement = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string };

interface Watcher {
  namespace: string;
  selector: Requirement[];
  bookmarks: boolean;
  res: http.ServerResponse;
  timer?: NodeJS.Timeout;
}

interface HeldWatch {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  namespace: string;
}

export interface Failure {
  code: number;
  reason: string;
  message: string;
}

const PATH = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/;

function parseSelector(text: string | null): Requirement[] {
  if (!text) return [];
  return text.split(',').map((part): Requirement => {
    const p = part.trim();
    if (p.includes('!=')) {
      const [key, value] = p.split('!=');
      return { key: key!.trim(), op: '!=', value: value!.trim() };
    }
    if (p.includes('=')) {
      const [key, value] = p.split(/==?/);
      return { key: key!.trim(), op: '=', value: value!.trim() };
    }
    if (p.startsWith('!')) return { key: p.slice(1).trim(), op: '!exists' };
    return { key: p, op: 'exists' };
  });
}

function matches(selector: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const v = l[r.key];
    switch (r.op) {
      case '=':
        return v === r.value;
      case '!=':
        return v !== r.value;
      case 'exists':
        return v !== undefined;
      case '!exists':
        return v === undefined;
    }
  });
}

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class KubeApiStandIn extends EventEmitter {
  /** Requests answered, by kind. */
  readonly counters = { lists: 0, watches: 0, gone: 0, failed: 0, bookmarks: 0 };
  /** Query strings of the watch requests, in order. */
  readonly watchQueries: URLSearchParams[] = [];
  /** How a watch from a compacted resourceVersion is refused. */
  goneAs: 'event' | 'status' = 'event';
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token: string | undefined;
  /** When false, `timeoutSeconds` is ignored: the watch stays open and silent (a dead peer). */
  honorTimeout = true;
  /** When true, every watch ends as soon as it has replayed what it missed. */
  endWatchesAtOnce = false;

  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly objects = new Map<string, Obj>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly held: HeldWatch[] = [];
  private rv = 100;
  /** Watches from a resourceVersion below this get 410 Gone. */
  private oldest = 0;
  private holding = false;
  private holdingLists = false;
  private readonly heldLists: http.ServerResponse[] = [];
  private failure: Failure | undefined;
  private listenPort = 0;

  private constructor() {
    super();
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(): Promise<KubeApiStandIn> {
    const api = new KubeApiStandIn();
    await api.listen(0);
    return api;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listenPort}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  /** A kubeconfig for this server, loaded from YAML as a user's file would be. */
  kubeConfigYaml(options: { namespace?: string; token?: string } = {}): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: stand-in',
      '  cluster:',
      `    server: ${this.url}`,
      // client-node refuses plain http unless TLS verification is off.
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: tester',
      '  user:',
      `    token: ${options.token ?? 'stand-in-token'}`,
      'contexts:',
      '- name: stand-in',
      '  context:',
      '    cluster: stand-in',
      '    user: tester',
      ...(options.namespace !== undefined ? [`    namespace: ${options.namespace}`] : []),
      'current-context: stand-in',
      '',
    ].join('\n');
  }

  kubeConfig(options: { namespace?: string; token?: string } = {}): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeConfigYaml(options));
    return kc;
  }

  // --- objects ---------------------------------------------------------------

  create(slice: SliceInput): void {
    const ns = slice.metadata.namespace ?? 'default';
    const key = `${ns}/${slice.metadata.name}`;
    if (this.objects.has(key)) throw new Error(`stand-in: ${key} already exists`);
    this.record('ADDED', key, undefined, this.stamp(slice, ns));
  }

  /** Replaces a slice (PUT semantics). */
  update(slice: SliceInput): void {
    const ns = slice.metadata.namespace ?? 'default';
    const key = `${ns}/${slice.metadata.name}`;
    const prev = this.objects.get(key);
    if (prev === undefined) throw new Error(`stand-in: ${key} does not exist`);
    this.record('MODIFIED', key, prev, this.stamp(slice, ns));
  }

  delete(name: string, namespace = 'default'): void {
    const key = `${namespace}/${name}`;
    const prev = this.objects.get(key);
    if (prev === undefined) throw new Error(`stand-in: ${key} does not exist`);
    this.rv++;
    const obj: Obj = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(this.rv) } };
    this.apply({ rv: this.rv, type: 'DELETED', prev, obj }, key);
  }

  get(name: string, namespace = 'default'): Obj | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  private stamp(slice: SliceInput, ns: string): Obj {
    const model = new EndpointSlice({ ...slice, metadata: { ...slice.metadata, namespace: ns } } as IEndpointSlice);
    model.validate();
    this.rv++;
    const json = model.toJSON() as IEndpointSlice;
    return { ...json, metadata: { ...json.metadata, name: slice.metadata.name, namespace: ns, resourceVersion: String(this.rv) } };
  }

  private record(type: 'ADDED' | 'MODIFIED', key: string, prev: Obj | undefined, obj: Obj): void {
    this.apply({ rv: Number(obj.metadata.resourceVersion), type, ...(prev ? { prev } : {}), obj }, key);
  }

  private apply(change: Change, key: string): void {
    if (change.type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, change.obj);
    this.history.push(change);
    for (const w of this.watchers) this.send(w, change);
  }

  // --- faults ----------------------------------------------------------------

  /** Forgets history up to now: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.oldest = this.rv;
    this.history.length = 0;
  }

  /** Destroys every open watch connection (no end of stream: a network failure). */
  dropWatches(): void {
    for (const w of this.watchers) {
      clearTimeout(w.timer);
      w.res.socket?.destroy();
    }
    this.watchers.clear();
  }

  /** Ends every open watch cleanly, as the server does when timeoutSeconds expires. */
  endWatches(): void {
    for (const w of this.watchers) this.finish(w, false);
  }

  /** Sends an ERROR event carrying this Status to every open watch and ends it. */
  errorWatches(failure: Failure): void {
    for (const w of this.watchers) {
      this.write(w, 'ERROR', status(failure.code, failure.reason, failure.message));
      this.finish(w, false);
    }
  }

  /** Sends a BOOKMARK with the current resourceVersion to the watches that allow them. */
  bookmark(): void {
    for (const w of this.watchers) this.sendBookmark(w);
  }

  /** New watch requests wait (unanswered) until releaseWatches(). Emits 'held' for each. */
  holdWatches(): void {
    this.holding = true;
  }

  releaseWatches(): void {
    this.holding = false;
    for (const h of this.held.splice(0)) {
      if (!h.res.destroyed) this.serveWatch(h.req, h.res, h.url, h.namespace);
    }
  }

  /** List requests get no answer (the connection stays open) until releaseLists(). */
  holdLists(): void {
    this.holdingLists = true;
  }

  /** Stops holding lists; the held ones are dropped (their clients gave up or will). */
  releaseLists(): void {
    this.holdingLists = false;
    for (const res of this.heldLists.splice(0)) res.destroy();
  }

  /** Answers every request with this Status until called with undefined. */
  failWith(failure: Failure | undefined): void {
    this.failure = failure;
  }

  /** Stops listening and cuts every connection: clients get connection refused. */
  async suspend(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const w of this.watchers) clearTimeout(w.timer);
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async resume(): Promise<void> {
    await this.listen(this.listenPort);
  }

  async close(): Promise<void> {
    for (const h of this.held.splice(0)) h.res.destroy();
    for (const res of this.heldLists.splice(0)) res.destroy();
    await this.suspend().catch(() => undefined);
  }

  /** Resolves at the next 'list' / 'watch' / 'held' / 'watch-closed' event; rejects after `ms`. */
  async next(event: 'list' | 'watch' | 'held' | 'watch-closed', ms = 5000): Promise<void> {
    try {
      await once(this, event, { signal: AbortSignal.timeout(ms) });
    } catch {
      throw new Error(`stand-in: no '${event}' within ${ms} ms`);
    }
  }

  private async listen(port: number): Promise<void> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.listenPort = (this.server.address() as net.AddressInfo).port;
  }

  // --- protocol --------------------------------------------------------------

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const m = PATH.exec(url.pathname);
    if (req.method !== 'GET' || m === null) {
      this.json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) {
      this.counters.failed++;
      this.json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (this.failure !== undefined) {
      this.counters.failed++;
      this.json(res, this.failure.code, status(this.failure.code, this.failure.reason, this.failure.message));
      return;
    }
    const namespace = decodeURIComponent(m[1]!);
    if (url.searchParams.get('watch') === 'true') {
      if (this.holding) {
        this.held.push({ req, res, url, namespace });
        this.emit('held');
        return;
      }
      this.serveWatch(req, res, url, namespace);
      return;
    }
    if (this.holdingLists) {
      this.heldLists.push(res);
      this.emit('held');
      return;
    }
    this.counters.lists++;
    const selector = parseSelector(url.searchParams.get('labelSelector'));
    const items = [...this.objects.values()].filter((o) => o.metadata.namespace === namespace && matches(selector, o.metadata.labels));
    this.json(res, 200, {
      kind: 'EndpointSliceList',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: { resourceVersion: String(this.rv) },
      items,
    });
    this.emit('list');
  }

  private serveWatch(req: http.IncomingMessage, res: http.ServerResponse, url: URL, namespace: string): void {
    this.counters.watches++;
    this.watchQueries.push(url.searchParams);
    const fromText = url.searchParams.get('resourceVersion') ?? '';
    const from = fromText === '' || fromText === '0' ? undefined : Number(fromText);
    if (from !== undefined && from < this.oldest) {
      this.counters.gone++;
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.oldest})`);
      if (this.goneAs === 'status') {
        this.json(res, 410, gone);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'ERROR', object: gone }) + '\n');
      }
      this.emit('watch');
      return;
    }
    const w: Watcher = {
      namespace,
      selector: parseSelector(url.searchParams.get('labelSelector')),
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
      res,
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    if (from === undefined) {
      for (const obj of this.objects.values()) {
        if (obj.metadata.namespace === namespace && matches(w.selector, obj.metadata.labels)) this.write(w, 'ADDED', obj);
      }
    } else {
      for (const change of this.history) if (change.rv > from) this.send(w, change);
    }
    if (this.endWatchesAtOnce) {
      res.end();
      this.emit('watch');
      return;
    }
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeout > 0 && this.honorTimeout) w.timer = setTimeout(() => this.finish(w, true), timeout * 1000);
    this.watchers.add(w);
    const closed = (): void => {
      clearTimeout(w.timer);
      this.watchers.delete(w);
      this.emit('watch-closed');
    };
    res.on('close', closed);
    req.on('close', () => {
      if (!res.writableEnded) res.destroy();
    });
    this.emit('watch');
  }

  private finish(w: Watcher, timedOut: boolean): void {
    clearTimeout(w.timer);
    // The API server sends a last bookmark before a timed-out watch ends.
    if (timedOut) this.sendBookmark(w);
    this.watchers.delete(w);
    w.res.end();
  }

  /** A change as one watcher sees it through its namespace and selector. */
  private send(w: Watcher, change: Change): void {
    if (change.obj.metadata.namespace !== w.namespace) return;
    const was = change.prev !== undefined && matches(w.selector, change.prev.metadata.labels);
    const is = change.type !== 'DELETED' && matches(w.selector, change.obj.metadata.labels);
    if (change.type === 'DELETED') {
      if (was) this.write(w, 'DELETED', change.obj);
    } else if (is) {
      this.write(w, was ? 'MODIFIED' : 'ADDED', change.obj);
    } else if (was) {
      this.write(w, 'DELETED', change.obj);
    }
  }

  private sendBookmark(w: Watcher): void {
    if (!w.bookmarks) return;
    this.counters.bookmarks++;
    this.write(w, 'BOOKMARK', { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(this.rv) } });
  }

  private write(w: Watcher, type: string, object: object): void {
    if (!w.res.writableEnded && !w.res.destroyed) w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private json(res: http.ServerResponse, code: number, body: object): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
