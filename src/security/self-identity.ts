/**
 * The proxy's own workload certificate, issued by itself from the issuer
 * that `switchyard identity init` made (top-level `identity`), and renewed
 * once `renewAt` percent of its lifetime has passed — Linkerd's proxies work
 * the same way with 24 h certificates renewed at 70 %. Each renewal makes a
 * new key and reads the issuer and trust anchor files again, so a rotated
 * issuer is used from the next renewal on. A failed renewal keeps the
 * current certificate and retries with exponential backoff (1 s … 1 min).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { IdentitySettings } from '../config/security-schema.js';
import type { Issued, Signer } from './ca.js';
import { certificateRegistry, type CertificateRegistry } from './certificate-expiry.js';
import type { IdentitySource } from './identity-source.js';
import type { PemMaterial } from './pem-files.js';
import { parseSpiffeId } from './spiffe-id.js';

/** Wall-clock time and timers (tests inject a fake). */
export interface IdentityClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface IdentityLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The identity cannot be set up; the message names the setting, the file and the reason. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

const MAX_TIMER_MS = 2_147_483_647;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

const realClock: IdentityClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

const silent: IdentityLog = { info() {}, warn() {}, error() {} };

export interface SelfIdentityOptions {
  clock?: IdentityClock;
  log?: IdentityLog;
  registry?: CertificateRegistry;
}

type CaModule = typeof import('./ca.js');

export class SelfIdentity implements IdentitySource {
  current: PemMaterial;
  /** When the next renewal (or retry) is due, ms since the epoch. */
  nextRenewal = 0;
  renewals = 0;
  failures = 0;
  private readonly subscribers = new Set<(m: PemMaterial) => void>();
  private timer: unknown;
  private closed = false;
  private renewing: Promise<boolean> | undefined;
  private retryMs = RETRY_FIRST_MS;

  /** Issues the first certificate; throws IdentityError when the settings or files cannot be used. */
  static async create(settings: IdentitySettings, options: SelfIdentityOptions = {}): Promise<SelfIdentity> {
    const ca = await import('./ca.js');
    const clock = options.clock ?? realClock;
    const first = await issue(ca, settings, clock.now());
    return new SelfIdentity(ca, settings, clock, options.log ?? silent, options.registry ?? certificateRegistry, first);
  }

  private constructor(
    private readonly ca: CaModule,
    readonly settings: IdentitySettings,
    private readonly clock: IdentityClock,
    private readonly log: IdentityLog,
    private readonly registry: CertificateRegistry,
    first: Made,
  ) {
    this.current = first.material;
    this.recorded(first);
    this.schedule(this.renewalTime(first));
  }

  subscribe(fn: (m: PemMaterial) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Issues a new certificate now; false (and a retry scheduled) when that failed. */
  renew(): Promise<boolean> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.subscribers.clear();
  }

  private async renewOnce(): Promise<boolean> {
    let made: Made;
    try {
      made = await issue(this.ca, this.settings, this.clock.now());
    } catch (err) {
      if (this.closed) return false;
      this.failures++;
      const retryIn = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      this.log.error(
        { identity: this.settings.name, err: (err as Error).message, retryInMs: retryIn, notAfter: new Date(this.current.notAfter!).toISOString() },
        'identity certificate renewal failed; the current certificate stays in use',
      );
      this.schedule(this.clock.now() + retryIn);
      return false;
    }
    if (this.closed) return false;
    this.retryMs = RETRY_FIRST_MS;
    this.renewals++;
    this.current = made.material;
    this.recorded(made);
    this.schedule(this.renewalTime(made));
    this.log.info({ identity: this.settings.name, notAfter: new Date(made.issued.notAfter).toISOString() }, 'identity certificate renewed');
    for (const fn of [...this.subscribers]) {
      try {
        fn(made.material);
      } catch (err) {
        this.log.error({ identity: this.settings.name, err: (err as Error).message }, 'identity subscriber failed');
      }
    }
    return true;
  }

  /** `renewAt` percent into the lifetime, counted from when it was issued (not from the back-dated notBefore). */
  private renewalTime(m: Made): number {
    return m.issuedAt + ((m.issued.notAfter - m.issuedAt) * this.settings.renewAt) / 100;
  }

  private schedule(at: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.nextRenewal = at;
    const delay = Math.min(Math.max(0, at - this.clock.now()), MAX_TIMER_MS);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.renew();
    }, delay);
  }

  private recorded(m: Made): void {
    this.registry.set('identity', this.settings.name, m.issued.notAfter);
    this.registry.set('issuer', this.settings.issuer.cert, m.issuer.notAfter);
    this.registry.set('trust-anchor', this.settings.trustAnchor, m.anchorNotAfter);
  }
}

interface Made {
  issued: Issued;
  issuer: Signer;
  anchorNotAfter: number;
  issuedAt: number;
  material: PemMaterial;
}

function read(path: string, label: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new IdentityError(`${label} ${path}: cannot read: ${why}`);
  }
}

function certificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

/** Reads the issuer and trust anchor, checks them together, and issues a certificate for `settings.name`. */
async function issue(ca: CaModule, settings: IdentitySettings, now: number): Promise<Made> {
  const name = parseSpiffeId(settings.name);
  if ('error' in name) throw new IdentityError(`identity.name: ${name.error}`);
  if (name.path === '') throw new IdentityError(`identity.name ${settings.name}: needs a path (spiffe://${name.trustDomain}/…); the bare trust domain names the CA`);
  const anchorPem = read(settings.trustAnchor, 'identity.trustAnchor');
  let anchors: X509Certificate[];
  try {
    anchors = certificates(anchorPem);
  } catch (err) {
    throw new IdentityError(`identity.trustAnchor ${settings.trustAnchor}: not a PEM certificate (${(err as Error).message})`);
  }
  if (anchors.length === 0) throw new IdentityError(`identity.trustAnchor ${settings.trustAnchor}: holds no PEM certificate`);
  const certPem = read(settings.issuer.cert, 'identity.issuer.cert');
  const keyPem = read(settings.issuer.key, 'identity.issuer.key');
  let issuer: Signer;
  try {
    issuer = await ca.loadSigner(certPem, keyPem, { cert: `identity.issuer.cert ${settings.issuer.cert}`, key: `identity.issuer.key ${settings.issuer.key}` }, now);
  } catch (err) {
    throw new IdentityError((err as Error).message);
  }
  // The SPIFFE ID must be in the issuer's trust domain: peers would refuse it
  // otherwise (and a name-constrained anchor forbids it).
  if (issuer.trustDomain !== '' && issuer.trustDomain !== name.trustDomain) {
    throw new IdentityError(
      `identity.name ${settings.name} is in trust domain "${name.trustDomain}", but the issuer ${settings.issuer.cert} issues for "${issuer.trustDomain}"`,
    );
  }
  // Peers verify with the trust anchor: an issuer it did not sign would make certificates nobody accepts.
  const chain = certificates(issuer.chainPem);
  const top = chain[chain.length - 1]!;
  if (!anchors.some((a) => a.fingerprint256 === top.fingerprint256 || (top.checkIssued(a) && top.verify(a.publicKey)))) {
    throw new IdentityError(`identity.issuer.cert ${settings.issuer.cert} is not signed by the trust anchor ${settings.trustAnchor}`);
  }
  const issued = await ca.issueWorkload(issuer, { spiffeId: settings.name, ttlMs: settings.ttl, now });
  const material: PemMaterial = {
    cert: Buffer.from(issued.chain),
    key: Buffer.from(issued.key),
    ca: Buffer.from(anchorPem),
    notAfter: issued.notAfter,
    identity: settings.name,
  };
  // The same check PemFiles makes before handing material on: Node accepts the pair.
  createSecureContext({ cert: material.cert, key: material.key, ca: material.ca });
  const anchorNotAfter = Math.min(...anchors.map((a) => Date.parse(a.validTo)));
  return { issued, issuer, anchorNotAfter, issuedAt: now, material };
}
