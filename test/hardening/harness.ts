/**
 * The stage for attack tests: a real Switchyard proxy in front of a real
 * node:http2 backend, a well-behaved node:http2 client that keeps sending
 * requests through the same listener while the attack runs (its latencies
 * recorded), engine counter deltas, and the proxy's downstream HTTP/2 state
 * (open streams, queued octets) for end-state assertions.
 */
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { engineCounters, type EngineCounters } from '../../src/http2/options.js';
import {
  closeSession, connect, h2Request, startH2Backend, startProxy,
  type H2Backend, type H2BackendOptions, type RunningProxy,
} from '../helpers/proxy-harness.js';
import { waitFor } from '../helpers/wait.js';

export interface Stage {
  proxy: RunningProxy;
  backend: H2Backend;
  /** The HTTP/2 listener's port. */
  port: number;
  /** Requests the backend received whose path starts with /attack. */
  attackRequests: number;
  /** Well-behaved clients started on this stage (stopped by stop() if a test failed first). */
  goods: GoodClient[];
  stop(): Promise<void>;
}

/** A proxy with one `http2` listener (its `http2` settings overridable) in front of one node:http2 backend. */
export async function startStage(http2Settings: Record<string, unknown> = {}, backend: H2BackendOptions = {}): Promise<Stage> {
  const b = await startH2Backend('b', backend);
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web', http2: http2Settings }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${b.port}`] }],
  });
  await waitFor(() => [...p.proxy.services.values()].every((s) => s.endpoints.every((e) => e.state === 1)), 'endpoint ready');
  const stage: Stage = {
    proxy: p,
    backend: b,
    port: p.port(),
    attackRequests: 0,
    goods: [],
    stop: async () => {
      for (const g of stage.goods) await g.stop();
      await p.stop();
      await b.close();
    },
  };
  b.server.on('stream', (_s, h) => {
    if (h[':path']?.startsWith('/attack') === true) stage.attackRequests++;
  });
  return stage;
}

/** Engine counters now, to compare with later (the counters are shared by every connection of the process). */
export function counters(): EngineCounters {
  return { ...engineCounters };
}

export function countersSince(before: EngineCounters): EngineCounters {
  const d = { ...engineCounters };
  for (const k of Object.keys(d) as (keyof EngineCounters)[]) d[k] -= before[k];
  return d;
}

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
  p50: number;
  p99: number;
  max: number;
}

/**
 * A well-behaved client: one node:http2 connection, `concurrency` request
 * loops, each request sent after the previous one answered, until stop().
 */
export class GoodClient {
  private session!: http2.ClientHttp2Session;
  private running = true;
  private loops: Promise<void>[] = [];
  private readonly latencies: number[] = [];
  private ok = 0;
  private failed = 0;
  private readonly errors: string[] = [];

  static async start(stage: Stage, concurrency = 2): Promise<GoodClient> {
    const g = new GoodClient();
    stage.goods.push(g);
    g.session = await connect(stage.port);
    g.session.on('error', () => {});
    for (let i = 0; i < concurrency; i++) g.loops.push(g.loop());
    return g;
  }

  get served(): number {
    return this.ok;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const t0 = performance.now();
      try {
        const r = await h2Request(this.session, { ':path': '/good' });
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        this.ok++;
        this.latencies.push(performance.now() - t0);
      } catch (err) {
        this.failed++;
        if (this.errors.length < 5) this.errors.push(String((err as Error).message ?? err));
        if (this.session.destroyed) return;
      }
    }
  }

  /** Waits for `n` more successful requests (the client is being served now). */
  async servedMore(n: number, ms = 10_000): Promise<void> {
    const target = this.ok + n;
    await waitFor(() => this.ok >= target || this.failed > 0, `${n} good requests`, ms);
  }

  private result: LoadResult | undefined;

  async stop(): Promise<LoadResult> {
    if (this.result !== undefined) return this.result;
    this.running = false;
    await Promise.all(this.loops);
    await closeSession(this.session);
    const l = this.latencies.sort((a, b) => a - b);
    const at = (q: number): number => (l.length === 0 ? 0 : l[Math.min(l.length - 1, Math.floor(q * l.length))]!);
    this.result = { ok: this.ok, failed: this.failed, errors: this.errors, p50: at(0.5), p99: at(0.99), max: l.length ? l[l.length - 1]! : 0 };
    return this.result;
  }
}

/** Stops the good client, asserts every one of its requests succeeded and prints its latency during the attack. */
export async function assertGoodServed(g: GoodClient, attack: string): Promise<LoadResult> {
  const r = await g.stop();
  console.log(`[hardening] ${attack}: well-behaved client ${r.ok} ok, ${r.failed} failed, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms`);
  assert.equal(r.failed, 0, `well-behaved client failures: ${r.errors.join('; ')}`);
  assert.ok(r.ok > 0, 'the well-behaved client was served');
  return r;
}

/** Open streams and queued DATA octets over the proxy's client-side HTTP/2 connections. */
export function downstreamState(s: Stage): { connections: number; streams: number; queuedBytes: number } {
  let connections = 0;
  let streams = 0;
  let queuedBytes = 0;
  s.proxy.proxy.forEachHttp2Connection('downstream', (c) => {
    connections++;
    streams += c.streams.size;
    queuedBytes += c.queuedBytes;
  });
  return { connections, streams, queuedBytes };
}

/** Waits until only the good client's connection is left at the proxy and nothing of the attacker is held. */
export async function waitAttackerGone(s: Stage, connectionsLeft = 1): Promise<void> {
  await waitFor(() => downstreamState(s).connections <= connectionsLeft, 'attacking connection released by the proxy');
}

/** Heap + array buffers in MiB (after a GC when exposed). */
export function memoryMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / (1 << 20);
}
