import type { Balanceable, LoadBalancer } from '../types.js';
import { EndpointLoad } from '../endpoint-load.js';
import { ManualClock } from '../clock.js';
import { SeededRandom } from '../random-source.js';
import { FailfastQueue, type FailfastWaiter } from '../failfast-queue.js';
import { createBalancer, endpointLoadOptions, POLICY_NAMES, type PolicyName } from '../registry.js';
import { makeDistribution, type Distribution } from './distributions.js';
import { scenarioSpec, type Scenario } from './scenario.js';
import { ZoneAwareBalancer } from '../zone-aware.js';

/** A simulated endpoint, seen by the policies exactly like the proxy's endpoints. */
class SimEndpoint implements Balanceable {
  readySince = 0;
  /** 0 ok, 1 refusing connections, 2 hanging. */
  mode = 0;
  inSet = true;
  active = 0;
  queueHead = -1;
  queueTail = -1;
  readonly forZones: readonly string[] = [];
  /** Requests this endpoint has started serving (for the group's `warmup`). */
  served = 0;
  constructor(
    readonly id: string,
    readonly weight: number,
    readonly load: EndpointLoad,
    readonly index: number,
    readonly group: number,
    readonly zone: string,
  ) {}
}

export interface GroupResult {
  name: string;
  endpoints: number;
  weight: number;
  /** Requests dispatched to the group's endpoints. */
  picks: number;
  /** picks / all dispatches. */
  share: number;
  errors: number;
  /** Latency percentiles of the group's successful requests (ms). */
  p50: number;
  p99: number;
  /** Highest and lowest per-endpoint picks relative to an even split within the group (1 = even). */
  spread: { max: number; min: number };
}

export interface PolicyResult {
  policy: PolicyName;
  requests: number;
  /** Successful requests. */
  ok: number;
  /** Failed requests: error responses, refused / hung / timed-out requests, failfast rejections and timeouts. */
  errors: number;
  errorRate: number;
  /** Requests that never reached an endpoint (failfast queue full or timed out). */
  unplaced: number;
  /** End-to-end latency of successful requests (ms), from arrival at the proxy. */
  latency: { mean: number; p50: number; p99: number; p999: number; max: number };
  groups: GroupResult[];
  /** Highest and lowest per-endpoint share of dispatches relative to an even split within its group (1 = even). */
  endpointSpread: { max: number; min: number };
  /** Simulated duration (ms) and wall-clock run time (ms). */
  simulatedMs: number;
  wallMs: number;
}

export interface SimulationResult {
  scenario: string;
  seed: number;
  endpoints: number;
  requests: number;
  /** Open loop: mean arrival rate (requests/s); undefined in closed loop. */
  rate: number | undefined;
  /** Closed loop: clients each sending one request at a time; undefined in open loop. */
  clients: number | undefined;
  results: PolicyResult[];
}

export interface SimulateOptions {
  policies?: readonly PolicyName[];
  seed?: number;
  /** Called after each policy finishes. */
  onPolicyDone?: (r: PolicyResult) => void;
  /** Open loop at these arrival times (ms, ascending; one per request) instead of Poisson arrivals at `rate` (a replayed recording). */
  arrivals?: ArrayLike<number>;
  /** Per group: latency (and error latency) samplers replacing the scenario's specs (a replay's empirical distributions). */
  distributions?: readonly ({ latency: Distribution; error?: Distribution } | undefined)[];
}

// Event kinds.
const EV_ARRIVAL = 0;
const EV_COMPLETE = 1;
const EV_SCENARIO = 2;
const EV_FAILFAST = 3;
const EV_TIMEOUT = 4;

// Request outcome flags.
const F_ERROR = 1;
const F_NO_RESPONSE = 2;
const F_DONE = 4;
/** The request occupied one of the endpoint's service slots. */
const F_SERVED = 8;

/**
 * Binary min-heap of events keyed by (time, sequence). Parallel typed arrays,
 * no per-event objects.
 */
class EventHeap {
  time = new Float64Array(1024);
  seq = new Float64Array(1024);
  kind = new Uint8Array(1024);
  arg = new Int32Array(1024);
  size = 0;
  private counter = 0;

  push(time: number, kind: number, arg: number): void {
    if (this.size === this.time.length) this.grow();
    let pos = this.size++;
    const s = this.counter++;
    const T = this.time;
    const S = this.seq;
    const K = this.kind;
    const A = this.arg;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      const pt = T[parent]!;
      if (pt < time || (pt === time && S[parent]! < s)) break;
      T[pos] = pt;
      S[pos] = S[parent]!;
      K[pos] = K[parent]!;
      A[pos] = A[parent]!;
      pos = parent;
    }
    T[pos] = time;
    S[pos] = s;
    K[pos] = kind;
    A[pos] = arg;
  }

  /** Remove the top event; read it first via time[0], kind[0], arg[0]. */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const T = this.time;
    const S = this.seq;
    const K = this.kind;
    const A = this.arg;
    const t = T[n]!;
    const s = S[n]!;
    const k = K[n]!;
    const a = A[n]!;
    let pos = 0;
    for (;;) {
      let c = 2 * pos + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (T[r]! < T[c]! || (T[r] === T[c] && S[r]! < S[c]!))) c = r;
      const ct = T[c]!;
      if (t < ct || (t === ct && s < S[c]!)) break;
      T[pos] = ct;
      S[pos] = S[c]!;
      K[pos] = K[c]!;
      A[pos] = A[c]!;
      pos = c;
    }
    T[pos] = t;
    S[pos] = s;
    K[pos] = k;
    A[pos] = a;
  }

  private grow(): void {
    const n = this.time.length * 2;
    const t = new Float64Array(n);
    t.set(this.time);
    this.time = t;
    const s = new Float64Array(n);
    s.set(this.seq);
    this.seq = s;
    const k = new Uint8Array(n);
    k.set(this.kind);
    this.kind = k;
    const a = new Int32Array(n);
    a.set(this.arg);
    this.arg = a;
  }
}

/** Pool of in-flight request records (parallel typed arrays with a free list). */
class RequestPool {
  arrival = new Float64Array(1024);
  startedAt = new Float64Array(1024);
  endpoint = new Int32Array(1024);
  flags = new Uint8Array(1024);
  next = new Int32Array(1024);
  private free: number[] = [];
  private top = 0;

  alloc(): number {
    const f = this.free.pop();
    if (f !== undefined) return f;
    if (this.top === this.arrival.length) this.grow();
    return this.top++;
  }

  release(i: number): void {
    this.free.push(i);
  }

  private grow(): void {
    const n = this.arrival.length * 2;
    const g64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.arrival = g64(this.arrival);
    this.startedAt = g64(this.startedAt);
    this.endpoint = g32(this.endpoint);
    this.next = g32(this.next);
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.flags = f;
  }
}

class Waiter implements FailfastWaiter {
  constructor(readonly run: Run, readonly slot: number) {}
  onReady(): void {
    this.run.dispatch(this.slot);
  }
  onTimeout(): void {
    this.run.unplaced(this.slot);
  }
}

interface FlatEvent {
  at: number;
  group: number;
  action: 'fail' | 'hang' | 'recover' | 'remove' | 'add';
  count: number;
}

/** One policy over one scenario. */
class Run {
  readonly clock = new ManualClock(0);
  readonly heap = new EventHeap();
  readonly req = new RequestPool();
  readonly endpoints: SimEndpoint[] = [];
  readonly groupStart: number[] = [];
  readonly latencyDist: Distribution[] = [];
  readonly errorDist: Distribution[] = [];
  readonly warmupDist: (Distribution | undefined)[] = [];
  readonly balancer: LoadBalancer<SimEndpoint>;
  readonly queue: FailfastQueue<Waiter>;
  readonly workload: SeededRandom;
  readonly keys: string[];
  readonly hashed: boolean;
  readonly events: FlatEvent[];
  readonly latencies: Float64Array;
  readonly groupLatencies: Float64Array[];
  readonly groupLatCount: Int32Array;
  readonly endpointPicks: Float64Array;
  readonly groupPicks: Float64Array;
  readonly groupErrors: Float64Array;
  okCount = 0;
  errorCount = 0;
  unplacedCount = 0;
  arrivals = 0;
  failfastTickPending = false;

  constructor(
    readonly s: Scenario,
    readonly policy: PolicyName,
    seed: number,
    readonly arrivalTimes?: ArrayLike<number>,
    distributions?: SimulateOptions['distributions'],
  ) {
    this.workload = new SeededRandom(seed);
    const spec = scenarioSpec(s, policy);
    const deps = { clock: this.clock, random: new SeededRandom((seed ^ 0x5bd1e995) >>> 0) };
    this.balancer = createBalancer<SimEndpoint>(spec, deps);
    if (s.zone !== undefined) {
      this.balancer = new ZoneAwareBalancer(this.balancer, createBalancer<SimEndpoint>(spec, deps), deps.random, s.zone, { mode: 'on', ...s.zoneAware });
    }
    this.hashed = policy === 'ring-hash' || policy === 'maglev';
    this.keys = [];
    if (this.hashed) for (let i = 0; i < s.hashKeys; i++) this.keys.push(`key-${i}`);
    const loadOptions = endpointLoadOptions(spec);
    s.groups.forEach((g, gi) => {
      this.groupStart.push(this.endpoints.length);
      const d = distributions?.[gi];
      this.latencyDist.push(d?.latency ?? makeDistribution(g.latency));
      this.errorDist.push(d?.error ?? makeDistribution(g.errorLatency));
      this.warmupDist.push(g.warmup !== undefined ? makeDistribution(g.warmup.latency) : undefined);
      for (let i = 0; i < g.count; i++) {
        const e = new SimEndpoint(`${g.name}-${i}`, g.weight, new EndpointLoad(this.clock, loadOptions), this.endpoints.length, gi, g.zone ?? '');
        e.inSet = !g.initiallyAbsent;
        this.endpoints.push(e);
      }
    });
    this.groupStart.push(this.endpoints.length);
    this.queue = new FailfastQueue<Waiter>({
      clock: this.clock,
      timeoutMs: s.failfast.timeout,
      capacity: s.failfast.capacity,
      timers: false,
    });
    this.latencies = new Float64Array(s.requests);
    const ng = s.groups.length;
    this.groupLatencies = s.groups.map(() => new Float64Array(Math.min(s.requests, 1 << 16)));
    this.groupLatCount = new Int32Array(ng);
    this.endpointPicks = new Float64Array(this.endpoints.length);
    this.groupPicks = new Float64Array(ng);
    this.groupErrors = new Float64Array(ng);
    this.events = [];
    s.groups.forEach((g, gi) => {
      for (const ev of g.events) this.events.push({ at: ev.at, group: gi, action: ev.action, count: ev.count ?? g.count });
    });
    this.events.sort((a, b) => a.at - b.at);
  }

  execute(): void {
    this.refreshSet();
    this.events.forEach((ev, i) => this.heap.push(ev.at, EV_SCENARIO, i));
    const clients = this.s.clients;
    if (this.arrivalTimes !== undefined) {
      if (this.arrivalTimes.length > 0) this.heap.push(this.arrivalTimes[0]!, EV_ARRIVAL, 0);
    } else if (clients === undefined) this.heap.push(this.interArrival(), EV_ARRIVAL, 0);
    else for (let c = 0; c < clients && c < this.s.requests; c++) this.heap.push(0, EV_ARRIVAL, 0);
    const heap = this.heap;
    const clock = this.clock;
    while (heap.size > 0) {
      const t = heap.time[0]!;
      const kind = heap.kind[0]!;
      const arg = heap.arg[0]!;
      heap.pop();
      clock.set(t);
      switch (kind) {
        case EV_ARRIVAL:
          this.arrive(t);
          break;
        case EV_COMPLETE:
          this.complete(arg);
          break;
        case EV_TIMEOUT:
          this.timeoutQueued(arg);
          break;
        case EV_SCENARIO:
          this.applyEvent(this.events[arg]!);
          break;
        case EV_FAILFAST:
          this.failfastTickPending = false;
          this.queue.tick();
          this.scheduleFailfastTick();
          break;
      }
    }
  }

  private interArrival(): number {
    return (-Math.log(1 - this.workload.next()) * 1000) / this.s.rate!;
  }

  private arrive(t: number): void {
    this.arrivals++;
    if (this.arrivalTimes !== undefined) {
      if (this.arrivals < this.arrivalTimes.length) this.heap.push(this.arrivalTimes[this.arrivals]!, EV_ARRIVAL, 0);
    } else if (this.s.clients === undefined && this.arrivals < this.s.requests) this.heap.push(t + this.interArrival(), EV_ARRIVAL, 0);
    const slot = this.req.alloc();
    this.req.arrival[slot] = t;
    this.req.flags[slot] = 0;
    this.dispatch(slot);
  }

  /** Pick an endpoint and send the request (also used when a failfast waiter wakes). */
  dispatch(slot: number): void {
    const key = this.hashed && this.keys.length > 0 ? this.keys[Math.floor(this.workload.next() * this.keys.length)] : undefined;
    const e = this.balancer.pick(key);
    if (e === undefined) {
      if (!this.queue.enqueue(new Waiter(this, slot))) this.unplaced(slot);
      else this.scheduleFailfastTick();
      return;
    }
    const req = this.req;
    const now = this.clock.now();
    req.endpoint[slot] = e.index;
    req.startedAt[slot] = e.load.begin();
    this.endpointPicks[e.index]!++;
    this.groupPicks[e.group]!++;
    if (e.mode === 1) {
      req.flags[slot] = F_ERROR | F_NO_RESPONSE;
      this.heap.push(now + this.s.groups[e.group]!.failLatency, EV_COMPLETE, slot);
      return;
    }
    if (e.mode === 2) {
      req.flags[slot] = F_ERROR | F_NO_RESPONSE;
      this.heap.push(req.arrival[slot]! + this.s.requestTimeout, EV_COMPLETE, slot);
      return;
    }
    const cap = this.s.groups[e.group]!.concurrency;
    if (cap === undefined || e.active < cap) {
      this.serve(e, slot, now);
    } else {
      req.next[slot] = -1;
      if (e.queueTail === -1) e.queueHead = slot;
      else req.next[e.queueTail] = slot;
      e.queueTail = slot;
      this.heap.push(req.arrival[slot]! + this.s.requestTimeout, EV_TIMEOUT, slot);
    }
  }

  private serve(e: SimEndpoint, slot: number, now: number): void {
    const req = this.req;
    e.active++;
    const g = e.group;
    let latency: number;
    let flags = F_SERVED;
    const warmup = this.warmupDist[g];
    if (warmup !== undefined && e.served++ < this.s.groups[g]!.warmup!.requests) {
      latency = warmup.sample(this.workload);
    } else if (this.s.groups[g]!.errorRate > 0 && this.workload.next() < this.s.groups[g]!.errorRate) {
      flags |= F_ERROR;
      latency = this.errorDist[g]!.sample(this.workload);
    } else {
      latency = this.latencyDist[g]!.sample(this.workload);
    }
    let end = now + latency;
    const deadline = req.arrival[slot]! + this.s.requestTimeout;
    if (end > deadline) {
      end = deadline;
      flags |= F_ERROR | F_NO_RESPONSE;
    }
    req.flags[slot] = flags;
    this.heap.push(end, EV_COMPLETE, slot);
  }

  private complete(slot: number): void {
    const req = this.req;
    const flags = req.flags[slot]!;
    if (flags & F_DONE) return;
    const e = this.endpoints[req.endpoint[slot]!]!;
    const started = req.startedAt[slot]!;
    if (!(flags & F_NO_RESPONSE)) e.load.observeRtt(started);
    e.load.end(started, (flags & F_ERROR) !== 0);
    const now = this.clock.now();
    if (flags & F_ERROR) {
      this.errorCount++;
      this.groupErrors[e.group]!++;
    } else {
      const lat = now - req.arrival[slot]!;
      this.latencies[this.okCount++] = lat;
      const gl = this.groupLatencies[e.group]!;
      const c = this.groupLatCount[e.group]!;
      // Per-group percentiles from a bounded reservoir (the first 65536 samples, then random replacement).
      if (c < gl.length) gl[c] = lat;
      else {
        const r = Math.floor(this.workload.next() * (c + 1));
        if (r < gl.length) gl[r] = lat;
      }
      this.groupLatCount[e.group] = c + 1;
    }
    req.flags[slot] = flags | F_DONE;
    // Requests refused or hung never occupied a service slot.
    if (flags & F_SERVED) this.freeSlot(e);
    req.release(slot);
    this.clientNext();
  }

  /** Closed loop: the client whose request just ended sends its next one after the think time. */
  private clientNext(): void {
    if (this.s.clients === undefined || this.arrivalTimes !== undefined || this.arrivals >= this.s.requests) return;
    this.heap.push(this.clock.now() + this.s.thinkTime, EV_ARRIVAL, 0);
  }

  private freeSlot(e: SimEndpoint): void {
    if (e.active > 0) e.active--;
    const req = this.req;
    while (e.queueHead !== -1) {
      const next = e.queueHead;
      e.queueHead = req.next[next]!;
      if (e.queueHead === -1) e.queueTail = -1;
      if (req.flags[next]! & F_DONE) continue;
      this.serve(e, next, this.clock.now());
      return;
    }
  }

  /** A request still queued at its endpoint when its timeout passes fails (the proxy gives up). */
  private timeoutQueued(slot: number): void {
    // The slot may have been served, completed and reused: only act while it still waits in the endpoint queue.
    const req = this.req;
    if (req.flags[slot]! & (F_DONE | F_SERVED)) return;
    if (this.clock.now() !== req.arrival[slot]! + this.s.requestTimeout) return; // slot reused by a later request
    const e = this.endpoints[req.endpoint[slot]!]!;
    // Is it still queued? Walk the endpoint queue (timeouts of queued requests are rare).
    let prev = -1;
    let cur = e.queueHead;
    while (cur !== -1 && cur !== slot) {
      prev = cur;
      cur = req.next[cur]!;
    }
    if (cur === -1) return;
    if (prev === -1) e.queueHead = req.next[cur]!;
    else req.next[prev] = req.next[cur]!;
    if (e.queueTail === cur) e.queueTail = prev;
    const started = req.startedAt[slot]!;
    e.load.end(started, true);
    this.errorCount++;
    this.groupErrors[e.group]!++;
    req.flags[slot] = F_DONE;
    req.release(slot);
    this.clientNext();
  }

  unplaced(slot: number): void {
    this.errorCount++;
    this.unplacedCount++;
    this.req.release(slot);
    this.clientNext();
  }

  private scheduleFailfastTick(): void {
    if (this.failfastTickPending || this.queue.size === 0) return;
    this.failfastTickPending = true;
    this.heap.push(this.clock.now() + this.queue.tickMs, EV_FAILFAST, 0);
  }

  private applyEvent(ev: FlatEvent): void {
    const start = this.groupStart[ev.group]!;
    const now = this.clock.now();
    let setChanged = false;
    for (let i = start; i < start + ev.count && i < this.groupStart[ev.group + 1]!; i++) {
      const e = this.endpoints[i]!;
      switch (ev.action) {
        case 'fail':
          e.mode = 1;
          break;
        case 'hang':
          e.mode = 2;
          break;
        case 'recover':
          e.mode = 0;
          break;
        case 'remove':
          if (e.inSet) setChanged = true;
          e.inSet = false;
          break;
        case 'add':
          if (!e.inSet) {
            setChanged = true;
            e.inSet = true;
            e.readySince = now;
          }
          break;
      }
    }
    if (setChanged) {
      this.refreshSet();
      if (ev.action === 'add') this.queue.wakeAll();
    }
  }

  private refreshSet(): void {
    this.balancer.update(this.endpoints.filter((e) => e.inSet));
  }

  private groupSpread(g: number): { max: number; min: number } {
    const start = this.groupStart[g]!;
    const end = this.groupStart[g + 1]!;
    const even = this.groupPicks[g]! / (end - start);
    if (even === 0) return { max: 0, min: 0 };
    let max = 0;
    let min = Number.POSITIVE_INFINITY;
    for (let i = start; i < end; i++) {
      const r = this.endpointPicks[i]! / even;
      if (r > max) max = r;
      if (r < min) min = r;
    }
    return { max, min };
  }

  result(wallMs: number): PolicyResult {
    const n = this.okCount;
    const lat = this.latencies.subarray(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += lat[i]!;
    const dispatched = this.groupPicks.reduce((a, b) => a + b, 0);
    const ne = this.endpoints.length;
    let max = 0;
    let min = Number.POSITIVE_INFINITY;
    const evenShare = dispatched / ne;
    for (let i = 0; i < ne; i++) {
      const r = this.endpointPicks[i]! / (evenShare || 1);
      if (r > max) max = r;
      if (r < min) min = r;
    }
    return {
      policy: this.policy,
      requests: this.s.requests,
      ok: n,
      errors: this.errorCount,
      errorRate: this.errorCount / this.s.requests,
      unplaced: this.unplacedCount,
      latency: {
        mean: n > 0 ? sum / n : Number.NaN,
        p50: quantile(lat, 0.5),
        p99: quantile(lat, 0.99),
        p999: quantile(lat, 0.999),
        max: n > 0 ? lat[n - 1]! : Number.NaN,
      },
      groups: this.s.groups.map((g, gi) => {
        const gl = this.groupLatencies[gi]!.subarray(0, Math.min(this.groupLatCount[gi]!, this.groupLatencies[gi]!.length)).sort();
        return {
          name: g.name,
          endpoints: g.count,
          weight: g.weight,
          picks: this.groupPicks[gi]!,
          share: dispatched > 0 ? this.groupPicks[gi]! / dispatched : 0,
          errors: this.groupErrors[gi]!,
          p50: quantile(gl, 0.5),
          p99: quantile(gl, 0.99),
          spread: this.groupSpread(gi),
        };
      }),
      endpointSpread: { max, min: Number.isFinite(min) ? min : 0 },
      simulatedMs: this.clock.now(),
      wallMs,
    };
  }
}

/** Nearest-rank quantile of sorted data (NaN when empty). */
function quantile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil(q * n) - 1;
  return sorted[rank < 0 ? 0 : rank >= n ? n - 1 : rank]!;
}

/**
 * Run a scenario under each policy (default: the scenario's `policies`, else
 * all). Every policy sees the same arrival sequence and the same workload
 * random stream. Policies are built with createBalancer and fed through
 * EndpointLoad.begin / observeRtt / end exactly as the proxy does.
 */
export function simulate(s: Scenario, options: SimulateOptions = {}): SimulationResult {
  const policies = options.policies ?? s.policies ?? POLICY_NAMES;
  const seed = options.seed ?? s.seed;
  const results: PolicyResult[] = [];
  for (const p of policies) {
    const run = new Run(s, p, seed, options.arrivals, options.distributions);
    const t0 = performance.now();
    run.execute();
    const r = run.result(performance.now() - t0);
    results.push(r);
    options.onPolicyDone?.(r);
  }
  return {
    scenario: s.name ?? 'scenario',
    seed,
    endpoints: s.groups.reduce((a, g) => a + g.count, 0),
    requests: s.requests,
    rate: s.rate,
    clients: s.clients,
    results,
  };
}
