/**
 * When each certificate in use expires, kept as certificates are loaded or
 * renewed (never read from disk at scrape time): the metric
 * `switchyard_certificate_expiry_seconds{kind,name}` reads it, and a check
 * logs a warning once a certificate enters the `identity.expiryWarning`
 * window and an error once it has expired (once per certificate, again only
 * after it was replaced).
 *
 * Whoever loads a certificate records it:
 *   certificateRegistry.set('listener', 'edge', notAfter)
 * Kinds used: listener, listener-sni, client-ca (listeners), service,
 * service-ca (services), identity (named by its SPIFFE ID), issuer and
 * trust-anchor (named by their file).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface CertificateEntry {
  kind: string;
  name: string;
  /** ms since the epoch. */
  notAfter: number;
}

/** Where the warnings go (a pino logger fits). */
export interface ExpiryLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const enum Stage {
  Valid,
  Warned,
  Expired,
}

interface Tracked extends CertificateEntry {
  stage: Stage;
}

export class CertificateRegistry {
  private readonly entries = new Map<string, Tracked>();
  private log: ExpiryLog | undefined;
  private warningMs = 6 * 3_600_000;
  private now: () => number = Date.now;
  private timer: NodeJS.Timeout | undefined;

  /** Records (or replaces) the expiry of a certificate in use. */
  set(kind: string, name: string, notAfter: number): void {
    const k = `${kind}\0${name}`;
    const prev = this.entries.get(k);
    if (prev !== undefined && prev.notAfter === notAfter) return;
    const t: Tracked = { kind, name, notAfter, stage: Stage.Valid };
    this.entries.set(k, t);
    this.check1(t, this.now());
  }

  /** Forgets a certificate no longer in use. */
  delete(kind: string, name: string): void {
    this.entries.delete(`${kind}\0${name}`);
  }

  list(): CertificateEntry[] {
    return [...this.entries.values()].map(({ kind, name, notAfter }) => ({ kind, name, notAfter }));
  }

  /** Seconds until each certificate's notAfter (negative once expired), for the metric. */
  secondsLeft(now = this.now()): Array<CertificateEntry & { seconds: number }> {
    return [...this.entries.values()].map(({ kind, name, notAfter }) => ({ kind, name, notAfter, seconds: (notAfter - now) / 1000 }));
  }

  /**
   * Starts logging: certificates already recorded are checked now, then
   * every `interval` (a certificate crosses into the window with no event).
   */
  watch(options: { log: ExpiryLog; warningMs: number; now?: () => number; interval?: number }): void {
    this.log = options.log;
    this.warningMs = options.warningMs;
    if (options.now !== undefined) this.now = options.now;
    this.check();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = setInterval(() => this.check(), options.interval ?? 60_000);
    this.timer.unref();
  }

  /** Stops logging and forgets everything (tests, shutdown). */
  reset(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.log = undefined;
    this.now = Date.now;
    this.entries.clear();
  }

  /** Logs certificates that entered the warning window or expired since the last check. */
  check(): void {
    const now = this.now();
    for (const t of this.entries.values()) this.check1(t, now);
  }

  private check1(t: Tracked, now: number): void {
    if (this.log === undefined) return;
    const left = t.notAfter - now;
    const fields = { kind: t.kind, name: t.name, notAfter: new Date(t.notAfter).toISOString() };
    if (left <= 0) {
      if (t.stage === Stage.Expired) return;
      t.stage = Stage.Expired;
      this.log.error(fields, 'certificate expired');
    } else if (left < this.warningMs) {
      if (t.stage !== Stage.Valid) return;
      t.stage = Stage.Warned;
      this.log.warn({ ...fields, secondsLeft: Math.round(left / 1000) }, 'certificate expires soon');
    }
  }
}

/** The process's registry: loaders record into it, the metric and the log read it. */
export const certificateRegistry = new CertificateRegistry();

/**
 * The earliest notAfter of the certificates in a PEM file (a CA bundle
 * breaks first where its first certificate expires), undefined when the file
 * cannot be read or holds none: whoever uses the file reports that.
 */
export function earliestExpiry(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let earliest: number | undefined;
  for (const block of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      const t = Date.parse(new X509Certificate(block).validTo);
      if (earliest === undefined || t < earliest) earliest = t;
    } catch {
      // Not a certificate: the loader of the file says so.
    }
  }
  return earliest;
}

/** The TLS files a configuration names (the parts of it this module reads). */
export interface TlsFilesConfig {
  listeners: ReadonlyArray<{ name: string; tls?: { cert?: string; clientCa?: string; sni?: ReadonlyArray<{ serverNames: readonly string[]; cert: string }> } }>;
  services: ReadonlyArray<{ name: string; tls?: { cert?: string; ca?: string } }>;
  identity?: { trustAnchor: string; issuer: { cert: string } };
}

/**
 * Records every certificate file the configuration names, as it is at start.
 * Whoever watches a file records its replacements under the same kind and name.
 */
export function recordConfiguredCertificates(config: TlsFilesConfig, registry = certificateRegistry): void {
  const record = (kind: string, name: string, path: string | undefined): void => {
    if (path === undefined) return;
    const t = earliestExpiry(path);
    if (t !== undefined) registry.set(kind, name, t);
  };
  for (const l of config.listeners) {
    record('listener', l.name, l.tls?.cert);
    record('client-ca', l.name, l.tls?.clientCa);
    for (const s of l.tls?.sni ?? []) record('listener-sni', `${l.name}/${s.serverNames[0]}`, s.cert);
  }
  for (const s of config.services) {
    record('service', s.name, s.tls?.cert);
    record('service-ca', s.name, s.tls?.ca);
  }
  if (config.identity !== undefined) {
    record('trust-anchor', config.identity.trustAnchor, config.identity.trustAnchor);
    record('issuer', config.identity.issuer.cert, config.identity.issuer.cert);
  }
}
