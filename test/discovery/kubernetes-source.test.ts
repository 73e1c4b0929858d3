/**
 * The Kubernetes source through the real @kubernetes/client-node against
 * the API-server stand-in (test/helpers/kube-api-stand-in.ts).
 */
import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SliceEndpoint } from '../../src/discovery/kubernetes-slices.js';
import { KubernetesSource, type KubernetesSourceOptions } from '../../src/discovery/kubernetes-source.js';
import { KubeAccessError, loadKubeConfig, resolveKubeAccess, SERVICE_ACCOUNT_DIR } from '../../src/discovery/kubernetes-auth.js';
import type { DiscoveredEndpoint, DiscoverySink } from '../../src/discovery/types.js';
import { KubeApiStandIn, SERVICE_NAME_LABEL, type SliceInput } from '../helpers/kube-api-stand-in.js';

/** Records what the source delivers; `until` waits for a condition on it. */
class Recorder implements DiscoverySink {
  readonly updates: DiscoveredEndpoint[][] = [];
  readonly errors: string[] = [];
  /** Calls after `closedAt` was set (stop()). */
  late = 0;
  closed = false;
  private readonly waiters = new Set<() => void>();

  update(endpoints: readonly DiscoveredEndpoint[]): void {
    if (this.closed) this.late++;
    this.updates.push([...endpoints]);
    this.poke();
  }

  error(message: string): void {
    if (this.closed) this.late++;
    this.errors.push(message);
    this.poke();
  }

  /** The last set, as sorted `host:port` strings with flags. */
  get last(): string[] | undefined {
    const u = this.updates.at(-1);
    return u === undefined ? undefined : show(u);
  }

  until(check: () => boolean, what: string, ms = 5000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(poke);
        reject(new Error(`timed out waiting for ${what}; updates ${JSON.stringify(this.updates.map(show))}; errors ${JSON.stringify(this.errors)}`));
      }, ms);
      const poke = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(poke);
        resolve();
      };
      this.waiters.add(poke);
    });
  }

  /** Waits until the last set is exactly `want`. */
  untilSet(want: string[], ms?: number): Promise<void> {
    const sorted = [...want].sort();
    return this.until(() => JSON.stringify(this.last) === JSON.stringify(sorted), `the set ${JSON.stringify(sorted)}`, ms);
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }
}

function show(eps: readonly DiscoveredEndpoint[]): string[] {
  return eps
    .map((e) => `${e.address.host}:${e.address.port}${e.ready ? '' : ' not-ready'}${e.terminating ? ' terminating' : ''}`)
    .sort();
}

function ep(ip: string, extra: Omit<SliceEndpoint, 'addresses'> = {}): SliceEndpoint {
  return { addresses: [ip], ...extra } as SliceEndpoint;
}

function slice(name: string, endpoints: SliceEndpoint[], options: { service?: string; namespace?: string; ports?: SliceInput['ports'] } = {}): SliceInput {
  return {
    metadata: { name, namespace: options.namespace ?? 'default', labels: { [SERVICE_NAME_LABEL]: options.service ?? 'greeter' } },
    addressType: 'IPv4',
    ports: options.ports ?? [{ name: 'grpc', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints as SliceInput['endpoints'],
  };
}

const FAST = { backoff: { base: 20, max: 200 } } satisfies KubernetesSourceOptions;

async function setup(t: TestContext): Promise<KubeApiStandIn> {
  const api = await KubeApiStandIn.start();
  t.after(() => api.close());
  return api;
}

function source(
  t: TestContext,
  api: KubeApiStandIn,
  config: { port?: string | number; service?: string; namespace?: string } = {},
  options: KubernetesSourceOptions = {},
): { src: KubernetesSource; sink: Recorder; watching: Promise<unknown> } {
  const watching = api.next('watch');
  watching.catch(() => undefined); // awaited by the tests that need it
  const src = new KubernetesSource(
    { service: config.service ?? 'greeter', port: config.port ?? 'grpc', ...(config.namespace ? { namespace: config.namespace } : {}) },
    { kubeConfig: api.kubeConfig(), ...FAST, ...options },
  );
  const sink = new Recorder();
  t.after(() => src.stop());
  src.start(sink);
  return { src, sink, watching };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('kubernetes: a relist of 20 slices is one snapshot, with names, zones and hints; other Services are ignored', async (t) => {
  const api = await setup(t);
  for (let i = 0; i < 20; i++) {
    api.create(slice(`greeter-${i}`, [ep(`10.0.1.${i}`, { zone: 'eu-1a', hints: { forZones: [{ name: 'eu-1a' }] }, targetRef: { kind: 'Pod', name: `greeter-pod-${i}` } })]));
  }
  api.create(slice('other-0', [ep('10.0.9.9')], { service: 'other' }));
  api.create(slice('greeter-elsewhere', [ep('10.0.8.8')], { namespace: 'shop' }));
  const { src, sink, watching } = source(t, api);
  assert.equal(src.description, 'kubernetes default/greeter port grpc');
  await sink.until(() => sink.updates.length > 0, 'the first snapshot');
  await watching;
  await turn();
  assert.equal(sink.updates.length, 1);
  assert.equal(sink.updates[0]!.length, 20);
  assert.ok(!sink.last!.some((a) => a.startsWith('10.0.9.') || a.startsWith('10.0.8.')));
  const e0 = sink.updates[0]!.find((e) => e.address.host === '10.0.1.0')!;
  assert.deepEqual(e0, {
    address: { host: '10.0.1.0', port: 8080 },
    id: '10.0.1.0:8080',
    weight: 1,
    ready: true,
    serving: true,
    terminating: false,
    zone: 'eu-1a',
    forZones: ['eu-1a'],
    name: 'greeter-pod-0',
  });
  assert.deepEqual(sink.errors, []);
  assert.equal(api.watchQueries[0]!.get('allowWatchBookmarks'), 'true');
  assert.ok(Number(api.watchQueries[0]!.get('timeoutSeconds')) >= 300);
  assert.equal(api.watchQueries[0]!.get('labelSelector'), `${SERVICE_NAME_LABEL}=greeter`);
});

test('kubernetes: endpoints added, not ready, terminating while serving, terminating and not serving, removed', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  api.update(slice('greeter-a', [ep('10.0.0.1'), ep('10.0.0.2')]));
  await sink.untilSet(['10.0.0.1:8080', '10.0.0.2:8080']);
  api.update(slice('greeter-a', [ep('10.0.0.1'), ep('10.0.0.2', { conditions: { ready: false } })]));
  await sink.untilSet(['10.0.0.1:8080']);
  api.update(slice('greeter-a', [ep('10.0.0.1'), ep('10.0.0.2', { conditions: { ready: false, serving: true, terminating: true } })]));
  await sink.untilSet(['10.0.0.1:8080', '10.0.0.2:8080 not-ready terminating']);
  api.update(slice('greeter-a', [ep('10.0.0.1'), ep('10.0.0.2', { conditions: { ready: false, serving: false, terminating: true } })]));
  await sink.untilSet(['10.0.0.1:8080']);
  api.update(slice('greeter-a', []));
  await sink.untilSet([]);
  assert.deepEqual(sink.errors, []);
});

test('kubernetes: a new slice adds its endpoints, a deleted one takes them away; another Service never shows', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  api.create(slice('greeter-b', [ep('10.0.0.2')]));
  api.create(slice('other-a', [ep('10.0.0.9')], { service: 'other' }));
  await sink.untilSet(['10.0.0.1:8080', '10.0.0.2:8080']);
  // A slice relabelled away from the Service arrives as a delete.
  api.update(slice('greeter-b', [ep('10.0.0.2')], { service: 'other' }));
  await sink.untilSet(['10.0.0.1:8080']);
  api.update(slice('other-a', [ep('10.0.0.9'), ep('10.0.0.8')], { service: 'other' }));
  api.create(slice('greeter-c', [ep('10.0.0.3')]));
  await sink.untilSet(['10.0.0.1:8080', '10.0.0.3:8080']);
  api.delete('greeter-a');
  await sink.untilSet(['10.0.0.3:8080']);
  assert.ok(sink.updates.every((u) => !show(u).some((a) => a.startsWith('10.0.0.9') || a.startsWith('10.0.0.8'))));
});

test('kubernetes: the port is matched by name or by number in each slice, which may carry different ports', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-old', [ep('10.0.0.1')], { ports: [{ name: 'grpc', port: 8080 }, { name: 'metrics', port: 9090 }] }));
  api.create(slice('greeter-new', [ep('10.0.0.2')], { ports: [{ name: 'grpc', port: 8443, protocol: 'TCP' }] }));
  api.create(slice('greeter-udp', [ep('10.0.0.3')], { ports: [{ name: 'dns', port: 8080, protocol: 'UDP' }] }));
  const byName = source(t, api, { port: 'grpc' }).sink;
  const byNumber = source(t, api, { port: 8080 }).sink;
  const metrics = source(t, api, { port: 'metrics' }).sink;
  await byName.untilSet(['10.0.0.1:8080', '10.0.0.2:8443']);
  await byNumber.untilSet(['10.0.0.1:8080']);
  await metrics.untilSet(['10.0.0.1:9090']);
});

test('kubernetes: when no slice carries the port, an error names the ports they have and the last set stays', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  api.update(slice('greeter-a', [ep('10.0.0.1'), ep('10.0.0.2')], { ports: [{ name: 'http', port: 80 }] }));
  await sink.until(() => sink.errors.length > 0, 'the port error');
  assert.equal(sink.errors[0], 'EndpointSlices of default/greeter: no EndpointSlice with endpoints has TCP port name "grpc"; they carry http/80');
  assert.equal(sink.updates.length, 1);
  api.update(slice('greeter-a', [ep('10.0.0.2')]));
  await sink.untilSet(['10.0.0.2:8080']);
  assert.equal(sink.errors.length, 1);
});

for (const goneAs of ['event', 'status'] as const) {
  test(`kubernetes: an expired watch (410 as ${goneAs === 'event' ? 'an ERROR event' : 'the HTTP status'}) relists, and the new set has what changed in the gap`, async (t) => {
    const api = await setup(t);
    api.goneAs = goneAs;
    api.create(slice('greeter-a', [ep('10.0.0.1')]));
    api.create(slice('greeter-b', [ep('10.0.0.2')]));
    api.create(slice('greeter-c', [ep('10.0.0.3')]));
    const { sink, watching } = source(t, api);
    await sink.untilSet(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
    await watching;
    api.holdWatches();
    const held = api.next('held');
    api.dropWatches();
    await held;
    api.delete('greeter-b');
    api.update(slice('greeter-c', [ep('10.0.0.4')]));
    api.create(slice('greeter-d', [ep('10.0.0.5')]));
    api.compact();
    api.releaseWatches();
    await sink.untilSet(['10.0.0.1:8080', '10.0.0.4:8080', '10.0.0.5:8080']);
    assert.equal(api.counters.gone, 1);
    assert.equal(api.counters.lists, 2);
    // The relist replaced the set in one snapshot: nothing partial or empty in between.
    assert.equal(sink.updates.length, 2);
    assert.deepEqual(sink.errors, []);
  });
}

test('kubernetes: a dropped watch connection resumes from its resourceVersion; changes made meanwhile arrive without a relist', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink, watching } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  await watching;
  api.holdWatches();
  const held = api.next('held');
  api.dropWatches();
  await held;
  api.update(slice('greeter-a', [ep('10.0.0.1'), ep('10.0.0.2')]));
  api.create(slice('greeter-b', [ep('10.0.0.3')]));
  api.releaseWatches();
  await sink.untilSet(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
  assert.equal(api.counters.lists, 1);
  assert.equal(api.counters.watches, 2);
  assert.deepEqual(sink.errors, [], 'a broken watch stream that resumes is not an error');
});

test('kubernetes: a watch the server ends is resumed, and a bookmark keeps its resourceVersion past a compaction', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink, watching } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  await watching;
  // Changes the watch does not see (another Service) move the resourceVersion on.
  for (let i = 0; i < 5; i++) api.create(slice(`other-${i}`, [ep(`10.0.2.${i}`)], { service: 'other' }));
  const bookmarkRv = api.resourceVersion;
  api.bookmark();
  api.compact();
  const resumed = api.next('watch');
  api.endWatches();
  await resumed;
  assert.equal(api.watchQueries[1]!.get('resourceVersion'), String(bookmarkRv));
  assert.equal(api.counters.gone, 0);
  api.update(slice('greeter-a', [ep('10.0.0.2')]));
  await sink.untilSet(['10.0.0.2:8080']);
  assert.equal(api.counters.lists, 1);
  assert.deepEqual(sink.errors, []);
});

test('kubernetes: a watch left open and silent past its timeout is abandoned and reopened', async (t) => {
  const api = await setup(t);
  api.honorTimeout = false;
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink, watching } = source(t, api, {}, { watchTimeoutSeconds: 1 });
  await sink.untilSet(['10.0.0.1:8080']);
  await watching;
  const started = Date.now();
  await api.next('watch');
  // timeoutSeconds 1, then half as long again for the server to end it.
  assert.ok(Date.now() - started >= 1200, `reopened after ${Date.now() - started} ms`);
  api.update(slice('greeter-a', [ep('10.0.0.2')]));
  await sink.untilSet(['10.0.0.2:8080']);
  assert.equal(api.counters.lists, 1);
  assert.deepEqual(sink.errors, []);
});

test('kubernetes: an ERROR event in the watch is reported and backed off from; the watch resumes where it was', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink, watching } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  await watching;
  api.errorWatches({ code: 500, reason: 'InternalError', message: 'etcd cluster is unavailable or misconfigured' });
  await sink.until(() => sink.errors.length > 0, 'the watch error');
  assert.equal(sink.errors[0], 'EndpointSlices of default/greeter: HTTP 500 Internal Server Error (etcd cluster is unavailable or misconfigured)');
  api.update(slice('greeter-a', [ep('10.0.0.2')]));
  await sink.untilSet(['10.0.0.2:8080']);
  assert.equal(api.counters.lists, 1);
});

test('kubernetes: a server that ends every watch at once is asked again after growing pauses, not in a loop', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  api.endWatchesAtOnce = true;
  const { sink } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  await new Promise((r) => setTimeout(r, 300));
  // Backoff 20 ms doubling to 200 ms: about six watches in 300 ms; without it, hundreds.
  assert.ok(api.counters.watches >= 2 && api.counters.watches <= 12, `${api.counters.watches} watches in 300 ms`);
  api.endWatchesAtOnce = false;
  api.update(slice('greeter-a', [ep('10.0.0.2')]));
  await sink.untilSet(['10.0.0.2:8080']);
  assert.deepEqual(sink.errors, []);
});

test('kubernetes: a 500 is reported, the last set stays, and the source recovers by itself with what changed', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const { sink } = source(t, api);
  await sink.untilSet(['10.0.0.1:8080']);
  api.failWith({ code: 500, reason: 'InternalError', message: 'etcdserver: request timed out' });
  api.dropWatches();
  await sink.until(() => sink.errors.length >= 2, 'two failed attempts');
  assert.equal(sink.errors[0], 'EndpointSlices of default/greeter: HTTP 500 Internal Server Error');
  assert.equal(sink.updates.length, 1);
  api.update(slice('greeter-a', [ep('10.0.0.1'), ep('10.0.0.2')]));
  api.failWith(undefined);
  await sink.untilSet(['10.0.0.1:8080', '10.0.0.2:8080']);
  assert.ok(sink.updates.every((u) => u.length > 0), 'never an empty set because of the error');
});

test('kubernetes: a 403 names the RBAC permission needed and the server\'s reason; granted, the first set arrives', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const denial =
    'endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:default:switchyard" cannot list resource "endpointslices" in API group "discovery.k8s.io" in the namespace "default"';
  api.failWith({ code: 403, reason: 'Forbidden', message: denial });
  const { sink } = source(t, api);
  await sink.until(() => sink.errors.length > 0, 'the 403');
  assert.equal(
    sink.errors[0],
    `EndpointSlices of default/greeter: HTTP 403 Forbidden (${denial}): the account needs RBAC get, list and watch on endpointslices (apiGroup discovery.k8s.io) in namespace default`,
  );
  assert.equal(sink.updates.length, 0);
  api.failWith(undefined);
  await sink.untilSet(['10.0.0.1:8080']);
});

test('kubernetes: rejected credentials (401) and an unreachable API server say so; the watch comes back with the server', async (t) => {
  const api = await setup(t);
  api.token = 'the-right-token';
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const rejected = source(t, api).sink;
  await rejected.until(() => rejected.errors.length > 0, 'the 401');
  assert.equal(
    rejected.errors[0],
    'EndpointSlices of default/greeter: HTTP 401 Unauthorized: the API server rejected the credentials (expired, revoked or unreadable token?)',
  );

  const { sink } = source(t, api, {}, { kubeConfig: api.kubeConfig({ token: 'the-right-token' }) });
  await sink.untilSet(['10.0.0.1:8080']);
  await api.suspend();
  await sink.until(() => sink.errors.some((e) => e.includes('ECONNREFUSED')), 'connection refused');
  assert.equal(sink.errors.find((e) => e.includes('ECONNREFUSED')), `EndpointSlices of default/greeter: cannot reach the API server ${api.url}: connect ECONNREFUSED 127.0.0.1:${api.port}`);
  api.create(slice('greeter-b', [ep('10.0.0.2')]));
  await api.resume();
  await sink.untilSet(['10.0.0.1:8080', '10.0.0.2:8080']);
  assert.equal(api.counters.lists, 1, 'the watch resumed from its resourceVersion, no relist');
});

test('kubernetes: a list that gets no answer times out, is reported and retried', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  api.holdLists();
  const { sink } = source(t, api, {}, { listTimeout: 100 });
  await sink.until(() => sink.errors.length > 0, 'the list timeout');
  assert.equal(sink.errors[0], `EndpointSlices of default/greeter: list: no answer from ${api.url} within 0.1 s`);
  api.releaseLists();
  await sink.untilSet(['10.0.0.1:8080']);
});

test('kubernetes: after stop() no sink call comes and no watch stays open, even one answered after stop()', async (t) => {
  const api = await setup(t);
  api.create(slice('greeter-a', [ep('10.0.0.1')]));
  const first = source(t, api);
  await first.sink.untilSet(['10.0.0.1:8080']);
  await first.watching;
  const closed = api.next('watch-closed');
  first.src.stop();
  first.sink.closed = true;
  await closed;

  api.holdWatches();
  const held = api.next('held');
  const second = source(t, api);
  await second.sink.untilSet(['10.0.0.1:8080']);
  await held;
  second.src.stop();
  second.sink.closed = true;
  const abandoned = api.next('watch-closed');
  api.releaseWatches();
  await abandoned;

  api.update(slice('greeter-a', [ep('10.0.0.2')]));
  api.failWith({ code: 500, reason: 'InternalError', message: 'x' });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(api.openWatches, 0);
  assert.equal(first.sink.late + second.sink.late, 0);
});

test('kubernetes: a burst of changes is coalesced into few snapshots, the last one right', async (t) => {
  const api = await setup(t);
  for (let i = 0; i < 10; i++) api.create(slice(`greeter-${i}`, [ep(`10.0.3.${i}`)]));
  const { sink } = source(t, api);
  await sink.until(() => sink.updates.length > 0, 'the first snapshot');
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 10; i++) api.update(slice(`greeter-${i}`, [ep(`10.0.3.${i}`, { conditions: { ready: round % 2 === 0 } })]));
  }
  const want = Array.from({ length: 10 }, (_, i) => `10.0.3.${i}:8080`);
  await sink.untilSet(want);
  assert.ok(sink.updates.length < 50, `${sink.updates.length} snapshots for 200 changes`);
});

test('kubernetes credentials: an explicit kubeconfig file gives server and namespace; none found is a clear error', async (t) => {
  const api = await setup(t);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'swy-kube-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config');
  writeFileSync(file, api.kubeConfigYaml({ namespace: 'shop' }));
  api.create(slice('greeter-a', [ep('10.0.4.1')], { namespace: 'shop' }));
  const src = new KubernetesSource({ service: 'greeter', port: 'grpc', kubeconfig: file }, FAST);
  t.after(() => src.stop());
  assert.equal(src.description, 'kubernetes shop/greeter port grpc');
  const sink = new Recorder();
  src.start(sink);
  await sink.untilSet(['10.0.4.1:8080']);
  // A configured namespace wins over the context's.
  assert.equal(new KubernetesSource({ service: 'greeter', port: 80, kubeconfig: file, namespace: 'web' }).description, 'kubernetes web/greeter port 80');

  // A kubeconfig that is not there yet is reported by start(), which keeps looking.
  const later = path.join(dir, 'later');
  const waiting = new KubernetesSource({ service: 'greeter', port: 'grpc', kubeconfig: later, namespace: 'shop' }, FAST);
  t.after(() => waiting.stop());
  const waitingSink = new Recorder();
  waiting.start(waitingSink);
  await waitingSink.until(() => waitingSink.errors.length > 0, 'the missing kubeconfig');
  assert.equal(waitingSink.errors[0], `kubeconfig ${later}: no such file or not readable`);
  writeFileSync(later, api.kubeConfigYaml());
  await waitingSink.untilSet(['10.0.4.1:8080']);

  assert.throws(
    () => resolveKubeAccess(undefined, { env: { HOME: dir }, inClusterPrefix: dir }),
    (err: Error) => err instanceof KubeAccessError && err.message.startsWith('no Kubernetes credentials: not in a cluster'),
  );
  writeFileSync(path.join(dir, 'broken'), 'clusters: [\n');
  assert.throws(() => resolveKubeAccess(path.join(dir, 'broken')), /kubeconfig .*broken: /);
});

test('kubernetes credentials: in cluster, the service-account token and namespace; a rotated token is read again within a minute', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'swy-sa-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const sa = `${root}${SERVICE_ACCOUNT_DIR}`;
  mkdirSync(sa, { recursive: true });
  writeFileSync(`${sa}/token`, 'token-one');
  writeFileSync(`${sa}/namespace`, 'payments\n');
  writeFileSync(`${sa}/ca.crt`, '');
  const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
  process.env['KUBERNETES_SERVICE_HOST'] = '10.96.0.1';
  process.env['KUBERNETES_SERVICE_PORT'] = '443';
  t.after(() => {
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const access = resolveKubeAccess(undefined, { inClusterPrefix: root });
  assert.equal(access.kind, 'in-cluster');
  assert.equal(access.namespace, 'payments');
  assert.equal(new KubernetesSource({ service: 'greeter', port: 'grpc' }, { resolve: { inClusterPrefix: root } }).description, 'kubernetes payments/greeter port grpc');
  const kc = await loadKubeConfig(access);
  assert.equal(kc.getCurrentCluster()?.server, 'https://10.96.0.1:443');
  const auth = async (): Promise<string | null> => ((await kc.applyToFetchOptions({})).headers as { get(name: string): string | null }).get('Authorization');
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  assert.equal(await auth(), 'Bearer token-one');
  writeFileSync(`${sa}/token`, 'token-two');
  mock.timers.tick(61_000);
  assert.equal(await auth(), 'Bearer token-two');
});
