/**
 * ORCA for one service (`services[].orca`): every endpoint gets a load-report
 * record (`endpoint.load.orca`, read by the balancers); reports come from
 * responses (in-band: `endpoint-load-metrics-bin`, or `endpoint-load-metrics`
 * in its TEXT, JSON or BIN form, in headers or trailers) and/or from one
 * out-of-band stream per endpoint (orca-oob.ts). A service without `orca`
 * has none of this: its data path tests one null field per response.
 */
import { OrcaState, newOrcaReport, parseOrcaHeader, decodeOrcaReport, type Clock, type OrcaSettings, type RandomSource } from '../balancing/index.js';
import type { OrcaConfig, ServiceConfig } from '../config/index.js';
import type { Endpoint } from './endpoint.js';
import { OrcaOobStream, type OrcaOobSettings } from './orca-oob.js';

export const ORCA_HEADER = 'endpoint-load-metrics';
export const ORCA_HEADER_BIN = 'endpoint-load-metrics-bin';

export class OrcaService {
  /** Read reports from response headers and trailers. */
  inband: boolean;
  private outOfBand: boolean;
  /** Shared by the endpoints' records: a reload updates it in place. */
  readonly settings: OrcaSettings;
  private readonly oob: OrcaOobSettings;
  /** Scratch record for in-band reports (decoding is synchronous). */
  private readonly report = newOrcaReport();
  private readonly streams = new Map<Endpoint, OrcaOobStream>();
  private started = false;

  private constructor(
    config: OrcaConfig,
    service: ServiceConfig,
    private readonly endpoints: readonly Endpoint[],
    private readonly clock: Clock,
    random: RandomSource,
  ) {
    this.inband = config.inband;
    this.outOfBand = config.outOfBand;
    this.settings = settingsOf(config);
    this.oob = {
      reportingPeriod: config.reportingPeriod,
      backoffBase: service.reconnectBackoff.base,
      backoffMax: service.reconnectBackoff.max,
      scheme: service.tls === undefined ? 'http' : 'https',
      random: () => random.next(),
      report: newOrcaReport(),
    };
  }

  /** The ORCA part of a service, or null when it has no `orca`. `endpoints`: the service's members (followed, not copied). */
  static of(service: ServiceConfig, endpoints: readonly Endpoint[], clock: Clock, random: RandomSource): OrcaService | null {
    return service.orca === undefined ? null : new OrcaService(service.orca, service, endpoints, clock, random);
  }

  /**
   * A reload changed `orca`: records and their figures stay (no new
   * blackout), settings change in place, streams restart if their request
   * changed. Returns what the service now has.
   */
  static reconfigure(current: OrcaService | null, next: ServiceConfig, endpoints: readonly Endpoint[], clock: Clock, random: RandomSource): OrcaService | null {
    const config = next.orca;
    if (config === undefined) {
      if (current !== null) {
        current.stop();
        for (const ep of endpoints) ep.load.orca = null;
      }
      return null;
    }
    if (current === null) {
      const s = new OrcaService(config, next, endpoints, clock, random);
      for (const ep of endpoints) s.add(ep);
      return s;
    }
    Object.assign(current.settings, settingsOf(config));
    current.inband = config.inband;
    const restart = current.outOfBand !== config.outOfBand || current.oob.reportingPeriod !== config.reportingPeriod;
    current.outOfBand = config.outOfBand;
    current.oob.reportingPeriod = config.reportingPeriod;
    current.oob.backoffBase = next.reconnectBackoff.base;
    current.oob.backoffMax = next.reconnectBackoff.max;
    if (restart && current.started) {
      for (const s of current.streams.values()) s.stop();
      current.streams.clear();
      if (current.outOfBand) for (const ep of endpoints) current.openStream(ep);
    }
    return current;
  }

  /** An endpoint joined: give it a record, and its stream once the service runs. */
  add(ep: Endpoint): void {
    if (ep.load.orca === null) ep.load.orca = new OrcaState(this.settings, this.clock);
    if (this.started && this.outOfBand) this.openStream(ep);
  }

  /** An endpoint left (it drains): its stream ends; its record stays for the requests still running. */
  remove(ep: Endpoint): void {
    const s = this.streams.get(ep);
    if (s === undefined) return;
    s.stop();
    this.streams.delete(ep);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.outOfBand) for (const ep of this.endpoints) this.openStream(ep);
  }

  stop(): void {
    this.started = false;
    for (const s of this.streams.values()) s.stop();
    this.streams.clear();
  }

  /** The out-of-band stream of an endpoint (telemetry, tests). */
  stream(ep: Endpoint): OrcaOobStream | undefined {
    return this.streams.get(ep);
  }

  private openStream(ep: Endpoint): void {
    if (this.streams.has(ep)) return;
    const s = new OrcaOobStream(ep, this.oob);
    this.streams.set(ep, s);
    s.start();
  }

  /**
   * Response headers or trailers from `ep` (flat [name, value, …]): records
   * the first load report among them. A malformed one is counted, never an
   * error of the response.
   */
  observe(ep: Endpoint | null, h: readonly string[]): void {
    const state = ep === null ? null : ep.load.orca;
    if (state === null) return;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i];
      if (name !== ORCA_HEADER_BIN && name !== ORCA_HEADER) continue;
      try {
        const value = h[i + 1]!;
        state.record(name === ORCA_HEADER_BIN ? decodeOrcaReport(Buffer.from(value, 'base64'), this.report) : parseOrcaHeader(value, this.report));
      } catch {
        state.malformed++;
      }
      return;
    }
  }
}

function settingsOf(c: OrcaConfig): OrcaSettings {
  return {
    blackoutPeriod: c.blackoutPeriod,
    weightExpirationPeriod: c.weightExpirationPeriod,
    errorUtilizationPenalty: c.errorUtilizationPenalty,
    weightUpdatePeriod: c.weightUpdatePeriod,
  };
}
