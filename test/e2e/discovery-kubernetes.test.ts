/**
 * Kubernetes discovery under live traffic: a proxy follows the EndpointSlices
 * of a Service served by the API-server stand-in (through the real
 * @kubernetes/client-node) while the slices change fifty times a second —
 * readiness flips, endpoints added and removed, pods terminating, slices
 * created and deleted, a dropped watch — and gRPC-style HTTP/2 requests keep
 * flowing. Backends listen on distinct loopback addresses with one port, as
 * pods of one Deployment do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { defaultPolicies } from '../../src/policy/index.js';
import type { SliceEndpoint } from '../../src/discovery/kubernetes-slices.js';
import { KubeApiStandIn, SERVICE_NAME_LABEL, type SliceInput } from '../helpers/kube-api-stand-in.js';
import { closeSession, connect, h2Request, startH2Backend } from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';



type Cond = 'ready' | 'not-ready' | 'terminating';

function endpoint(ip: string, cond: Cond): SliceEndpoint {
  const conditions =
    cond === 'ready' ? { ready: true, serving: true, terminating: false }
    : cond === 'not-ready' ? { ready: false, serving: false, terminating: false }
    : { ready: false, serving: true, terminating: true };
  return { addresses: [ip], conditions, targetRef: { kind: 'Pod', name: `pod-${ip.split('.').at(-1)}` } };
}

function slice(name: string, port: number, members: [string, Cond][]): SliceInput {
  return {
    metadata: { name, namespace: 'default', labels: { [SERVICE_NAME_LABEL]: 'greeter' } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port, protocol: 'TCP' }],
    endpoints: members.map(([ip, c]) => endpoint(ip, c)) as SliceInput['endpoints'],
  };
}

test('kubernetes discovery: fifty slice changes a second under HTTP/2 load fail no request, and the proxy ends with the final set', async (t) => {
  const api = await KubeApiStandIn.start();
  t.after(() => api.close());
  const first = await startH2Backend('127.0.0.11', { host: '127.0.0.11' });
  const pods = [first, ...(await Promise.all(['127.0.0.12', '127.0.0.13', '127.0.0.14'].map((ip) => startH2Backend(ip, { host: ip, port: first.port }))))];
  t.after(() => Promise.all(pods.map((p) => p.close())));
  const port = first.port;
  const [a, b, c, d] = pods.map((p) => p.name) as [string, string, string, string];

  // .11 stays ready throughout, so a request always has somewhere to go.
  api.create(slice('greeter-1', port, [[a, 'ready'], [b, 'ready']]));
  api.create(slice('greeter-2', port, [[c, 'ready']]));

  const config = parseConfig(
    {
      admin: { enabled: false },
      listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'greeter' }],
      services: [{ name: 'greeter', discovery: { kubernetes: { service: 'greeter', namespace: 'default', port: 'grpc' } }, drainTimeout: '10s' }],
    },
    'test',
  );
  const proxy = new Proxy(config, {
    policies: defaultPolicies,
    discovery: { kubernetes: { kubeConfig: api.kubeConfig(), backoff: { base: 20, max: 200 } } },
  });
  await proxy.start();
  t.after(() => proxy.stop(200));
  const svc = proxy.services.get('greeter')!;
  const members = (): string[] => svc.endpoints.map((e) => `${e.host}${e.terminating ? ' terminating' : ''}`).sort();
  await waitFor(() => members().join() === [a, b, c].join() && svc.hasPickable, 'the first set');

  const session = await connect(proxy.listeners[0]!.address.port);
  t.after(() => closeSession(session).catch(() => undefined));

  // Requests, ten at a time, until the changes are over (bounded in any case).
  let churning = true;
  let sent = 0;
  let ok = 0;
  const failures: string[] = [];
  // Each worker's last finished request, by the phase it started in (phase 1: after the final set was in place).
  let phase = 0;
  const finishedPhase: number[] = [];
  const worker = async (w: number): Promise<void> => {
    while ((churning || ok < 300) && sent < 40_000) {
      sent++;
      const started = phase;
      try {
        const r = await h2Request(session, { ':method': 'POST', ':path': '/greeter.Greeter/SayHello', 'content-type': 'application/grpc' }, 'x');
        if (r.status === 200) ok++;
        else failures.push(`status ${r.status}: ${r.body.toString()}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
      finishedPhase[w] = started;
    }
  };
  const workers = Array.from({ length: 10 }, (_, w) => worker(w));

  // 100 changes at 50 per second, cycling through what a rollout does to slices.
  const steps: (() => void)[] = [
    () => api.update(slice('greeter-1', port, [[a, 'ready'], [b, 'not-ready']])),
    () => api.update(slice('greeter-2', port, [[c, 'terminating'], [d, 'ready']])),
    () => api.update(slice('greeter-1', port, [[a, 'ready'], [b, 'ready']])),
    () => api.create(slice('greeter-3', port, [[b, 'ready'], [c, 'ready']])),
    () => api.update(slice('greeter-2', port, [[d, 'not-ready']])),
    () => api.delete('greeter-3'),
    () => api.update(slice('greeter-2', port, [[c, 'ready'], [d, 'terminating']])),
    () => api.update(slice('greeter-1', port, [[a, 'ready']])),
    () => api.update(slice('greeter-1', port, [[a, 'ready'], [b, 'ready']])),
    () => api.update(slice('greeter-2', port, [[c, 'ready']])),
  ];
  const started = Date.now();
  for (let i = 0; i < 100; i++) {
    steps[i % steps.length]!();
    if (i === 55) api.dropWatches();
    const due = started + (i + 1) * 20;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  }
  // The final state: b gone, c terminating, d ready.
  api.update(slice('greeter-1', port, [[a, 'ready']]));
  api.update(slice('greeter-2', port, [[c, 'terminating'], [d, 'ready']]));
  await waitFor(() => members().join() === [a, `${c} terminating`, d].join(), 'the final set');
  // Requests sent to b before it left may still be on their way: count b once every worker has
  // finished a request it started after the final set was in place (each worker sends one at a time).
  phase = 1;
  await waitFor(() => finishedPhase.length === 10 && finishedPhase.every((x) => x === 1), 'a request of each worker on the final set');
  const bAtEnd = pods[1]!.requests;
  const okAtEnd = ok;
  await waitFor(() => ok > okAtEnd + 200, 'traffic on the final set');
  churning = false;
  await Promise.all(workers);

  assert.deepEqual(failures, [], 'no request failed while the slices changed');
  assert.equal(pods[1]!.requests, bAtEnd, 'the removed endpoint got no new request');
  assert.ok(ok > 500, `${ok} requests`);
  assert.ok(pods.every((p) => p.requests > 0), `every pod served: ${pods.map((p) => p.requests).join(', ')}`);
  assert.equal(svc.discovery?.healthy, true);
  assert.ok(api.counters.watches >= 2, 'the dropped watch was opened again');
  // 100 changes in about 2 s arrive as batched snapshots (at most one per 100 ms), not one per change.
  assert.ok(svc.discovery!.updates >= 10 && svc.discovery!.updates <= 40, `${svc.discovery!.updates} snapshots applied`);
  t.diagnostic(`${ok} requests (${pods.map((p) => p.requests).join(' / ')}), ${svc.discovery!.updates} snapshots, ${api.counters.watches} watches`);
});
