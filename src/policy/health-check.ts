/**
 * Active health checks: one probe loop per endpoint of a service. Each
 * endpoint is probed every `interval` (± `jitter` %), the next probe being
 * scheduled when the previous one has finished, so probes of one endpoint
 * never overlap (Envoy measures the interval the same way). Consecutive
 * results move the endpoint between healthy and unhealthy with hysteresis:
 * `unhealthyThreshold` failures in a row take it out, `healthyThreshold`
 * successes in a row bring it back. The checker only flips
 * `Endpoint.setHealthy()`; the service rebuilds its picker, applies the
 * panic threshold, and a returning endpoint goes through slow start.
 *
 * Nothing here runs per request.
 */
import type { z } from 'zod';
import { mathRandom, type RandomSource } from '../balancing/index.js';
import type { UpstreamProtocol } from '../config/index.js';
import type { healthCheckSchema } from '../config/resilience-schema.js';
import type { Endpoint } from '../proxy/endpoint.js';
import { probeFor, type Probe, type ProbeResult } from './health-check-probes.js';

export type HealthCheckConfig = z.output<typeof healthCheckSchema>;
export { grpcProbe, httpProbe, tcpProbe, probeFor } from './health-check-probes.js';
export type { Probe, ProbeResult, ProbeTarget } from './health-check-probes.js';

/** A scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

/**
 * Runs `fn` once after `delayMs`. Production uses real (unref'd) timers;
 * tests drive a manual one together with a ManualClock.
 */
export type Scheduler = (delayMs: number, fn: () => void) => Timer;

/** Real timers that do not keep the process alive on their own. */
export const timerScheduler: Scheduler = (delayMs, fn) => {
  const t = setTimeout(fn, delayMs);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/** `base` spread uniformly by ± `percent` %: the interval between two probes. */
export function jittered(base: number, percent: number, random: RandomSource): number {
  if (percent <= 0) return base;
  return Math.max(0, base * (1 + (percent / 100) * (2 * random.next() - 1)));
}

/** The endpoint's health changed; `detail` is the result of the probe that decided it. */
export type HealthTransition = (endpoint: Endpoint, healthy: boolean, detail: string) => void;

export interface HealthCheckerDeps {
  /** The service's upstream protocol: `http` checks use HTTP/2 prior knowledge for http2 services, HTTP/1.1 for http1. */
  protocol: UpstreamProtocol;
  random?: RandomSource;
  scheduler?: Scheduler;
  /** Replaces the probe built from the configuration (tests, custom checks). */
  probe?: Probe;
  onTransition?: HealthTransition;
}

/** Probe loop state of one endpoint. */
class EndpointCheck {
  successes = 0;
  failures = 0;
  probes = 0;
  timer: Timer | undefined = undefined;
  abort: AbortController | undefined = undefined;
  lastResult: ProbeResult | undefined = undefined;

  constructor(readonly endpoint: Endpoint) {}
}

/**
 * Active health checking of one service's endpoints.
 *
 * Endpoints start healthy: traffic flows before the first probe has answered,
 * and an endpoint becomes unhealthy only after `unhealthyThreshold` failed
 * probes (the first probe runs right after start, spread by the jitter). An
 * endpoint that cannot be connected to at all is already kept out by its
 * connection pool; active checks catch endpoints that accept connections but
 * say they cannot serve.
 */
export class HealthChecker {
  readonly config: HealthCheckConfig;
  private readonly checks: EndpointCheck[];
  private readonly probe: Probe;
  private readonly random: RandomSource;
  private readonly scheduler: Scheduler;
  private readonly onTransition: HealthTransition | undefined;
  private running = false;

  constructor(config: HealthCheckConfig, endpoints: readonly Endpoint[], deps: HealthCheckerDeps) {
    this.config = config;
    this.checks = endpoints.map((ep) => new EndpointCheck(ep));
    this.probe = deps.probe ?? probeFor(config, deps.protocol);
    this.random = deps.random ?? mathRandom;
    this.scheduler = deps.scheduler ?? timerScheduler;
    this.onTransition = deps.onTransition;
  }

  get started(): boolean {
    return this.running;
  }

  /**
   * Starts probing. The first probe of each endpoint runs after a random
   * delay of up to `jitter` % of the interval, so the endpoints of a service
   * (and the proxies in front of them) do not probe in lockstep.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    const spread = (this.config.interval * this.config.jitter) / 100;
    for (const c of this.checks) this.schedule(c, spread > 0 ? this.random.next() * spread : 0);
  }

  /** An endpoint joined the service (discovery): probed from now on, first after a jittered delay. */
  add(endpoint: Endpoint): void {
    if (this.checks.some((c) => c.endpoint === endpoint)) return;
    const c = new EndpointCheck(endpoint);
    this.checks.push(c);
    if (!this.running) return;
    const spread = (this.config.interval * this.config.jitter) / 100;
    this.schedule(c, spread > 0 ? this.random.next() * spread : 0);
  }

  /** An endpoint left the service: its probe loop ends and a probe in flight is aborted. */
  remove(endpoint: Endpoint): void {
    const i = this.checks.findIndex((c) => c.endpoint === endpoint);
    if (i < 0) return;
    const c = this.checks[i]!;
    this.checks.splice(i, 1);
    c.timer?.cancel();
    c.timer = undefined;
    c.abort?.abort();
    c.abort = undefined;
  }

  /** Stops every probe loop and aborts probes in flight. Health flags stay as they are. */
  stop(): void {
    this.running = false;
    for (const c of this.checks) {
      c.timer?.cancel();
      c.timer = undefined;
      c.abort?.abort();
      c.abort = undefined;
    }
  }

  /** Probe counters of an endpoint (telemetry, tests). */
  status(endpoint: Endpoint): { probes: number; successes: number; failures: number; last: ProbeResult | undefined } | undefined {
    const c = this.checks.find((x) => x.endpoint === endpoint);
    return c && { probes: c.probes, successes: c.successes, failures: c.failures, last: c.lastResult };
  }

  private schedule(c: EndpointCheck, delayMs: number): void {
    c.timer = this.scheduler(delayMs, () => {
      c.timer = undefined;
      this.run(c);
    });
  }

  private run(c: EndpointCheck): void {
    if (!this.running) return;
    const abort = new AbortController();
    c.abort = abort;
    const ep = c.endpoint;
    const done = (r: ProbeResult): void => {
      // Settled already, or stopped meanwhile (stop() clears c.abort; a restart owns a new controller).
      if (c.abort !== abort) return;
      c.abort = undefined;
      clearTimeout(timeout);
      if (!this.running) return;
      this.apply(c, r);
      this.schedule(c, jittered(this.config.interval, this.config.jitter, this.random));
    };
    // Every probe is bounded by the timeout, whatever the probe itself does.
    const timeout = setTimeout(() => {
      done({ healthy: false, detail: `no answer within ${this.config.timeout} ms` });
      abort.abort(); // lets the probe close its socket
    }, this.config.timeout);
    timeout.unref();
    let p: Promise<ProbeResult>;
    try {
      p = this.probe({ host: ep.host, port: ep.port }, abort.signal);
    } catch (e) {
      p = Promise.resolve({ healthy: false, detail: `probe failed: ${(e as Error).message}` });
    }
    p.then(done, (e: unknown) => done({ healthy: false, detail: e instanceof Error ? e.message : String(e) }));
  }

  private apply(c: EndpointCheck, r: ProbeResult): void {
    c.probes++;
    c.lastResult = r;
    const ep = c.endpoint;
    if (r.healthy) {
      c.failures = 0;
      c.successes++;
      if (!ep.healthy && c.successes >= this.config.healthyThreshold) this.transition(c, true, r);
    } else {
      c.successes = 0;
      c.failures++;
      if (ep.healthy && c.failures >= this.config.unhealthyThreshold) this.transition(c, false, r);
    }
  }

  private transition(c: EndpointCheck, healthy: boolean, r: ProbeResult): void {
    c.endpoint.setHealthy(healthy);
    this.onTransition?.(c.endpoint, healthy, r.detail);
  }
}
