/**
 * TLS from the proxy to a service's endpoints (`services[].tls`): the
 * client side's certificate material, how endpoints are verified, and the
 * options of each connect. One per service; its pools (one per endpoint)
 * ask it for options at every connect, so a replaced client certificate is
 * used by the next connection while open ones carry on untouched.
 *
 * The SecureContext (CA bundle, client certificate and key, minVersion) is
 * built once per change of the material, never per connection: building
 * one parses every PEM and, without `ca`, loads Node's root store.
 */
import net from 'node:net';
import tls, { type PeerCertificate, type SecureContext } from 'node:tls';
import type { ServiceTlsConfig } from '../config/index.js';
import { peerIdentity, subjectAltNames } from './identity.js';
import type { IdentitySource } from './identity-source.js';
import { PemError, PemFiles, type PemMaterial } from './pem-files.js';

export interface ClientTlsOptions {
  /**
   * The proxy's own certificate (top-level `identity`): the client
   * certificate when `tls` names none; its renewals are followed.
   */
  identity?: IdentitySource;
  /** `identity.trustAnchor`: the CA bundle when `tls.ca` is not set. */
  trustAnchor?: string;
  /** A replaced file could not be used (the previous material stays in use). */
  onError?(message: string): void;
  /** Test hook: how often the files are read again besides file-system events. */
  pollInterval?: number;
}

/** The session of the last connection to one endpoint, and the material it was made with. */
export interface TlsSessionSlot {
  session: Buffer | undefined;
  generation: number;
}

export class ClientTls {
  /**
   * Counts changes of the material. A TLS session is resumed only on the
   * generation it was made with: a resumed session skips the client's
   * Certificate message, so the endpoint would go on seeing the old
   * certificate after a rotation.
   */
  generation = 0;
  /** The last error of a replaced file ('' when the files in use are the latest). */
  lastError = '';
  /** SNI and name verification: `serverName`, else the endpoint's hostname (never an IP: RFC 6066 §3). */
  readonly serverName: string | undefined;
  /** The identity every endpoint must prove, when set. */
  readonly identity: string | undefined;
  private context: SecureContext;
  private readonly files: PemFiles | undefined;
  private readonly anchor: PemFiles | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  private readonly checkIdentity: ((host: string, cert: PeerCertificate) => Error | undefined) | undefined;
  private readonly listeners: Array<() => void> = [];

  /** Reads the files now: throws PemError naming the setting (`services[1].tls.ca /x: cannot read: no such file`). */
  constructor(readonly config: ServiceTlsConfig, readonly label: string, private readonly options: ClientTlsOptions = {}) {
    this.serverName = config.serverName;
    this.identity = config.identity;
    this.checkIdentity = config.identity === undefined ? undefined : identityCheck(config.identity);
    const onError = (message: string): void => {
      this.lastError = message;
      options.onError?.(message);
    };
    const own = { cert: config.cert, key: config.key, ca: config.ca };
    if (own.cert !== undefined || own.ca !== undefined) {
      this.files = new PemFiles(own, label, () => this.rebuild(), onError, { pollInterval: options.pollInterval });
    }
    if (config.ca === undefined && options.trustAnchor !== undefined) {
      try {
        this.anchor = new PemFiles({ ca: options.trustAnchor }, 'identity', () => this.rebuild(), (m) => onError(anchorMessage(m)), { pollInterval: options.pollInterval });
      } catch (err) {
        this.files?.close();
        throw err instanceof PemError ? new PemError(anchorMessage(err.message)) : err;
      }
    }
    if (config.cert === undefined && options.identity !== undefined) {
      this.unsubscribe = options.identity.subscribe(() => this.rebuild());
    }
    this.context = this.build();
  }

  /** The certificate presented to endpoints, if any. */
  get clientCertificate(): PemMaterial | undefined {
    if (this.config.cert !== undefined) return this.files?.current;
    return this.options.identity?.current;
  }

  /** Called after each change of the material (new connections use it from now on). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private build(): SecureContext {
    const client = this.clientCertificate;
    const ca = this.config.ca !== undefined ? this.files?.current.ca : this.anchor?.current.ca;
    return tls.createSecureContext({ ca, cert: client?.cert, key: client?.key, minVersion: this.config.minVersion });
  }

  private rebuild(): void {
    try {
      this.context = this.build();
    } catch (err) {
      // PemFiles checked the pair already; an identity renewal could still be unusable.
      const message = `${this.label}: new certificate material cannot be used: ${(err as Error).message}`;
      this.lastError = message;
      this.options.onError?.(message);
      return;
    }
    this.lastError = '';
    this.generation++;
    for (const fn of this.listeners) fn();
  }

  /**
   * Options for `tls.connect` to one endpoint. `slot` holds the endpoint's
   * last session (resumed when it was made with the current material).
   */
  connectOptions(host: string, port: number, alpn: string, slot: TlsSessionSlot | undefined): tls.ConnectionOptions {
    const servername = this.serverName ?? (net.isIP(host) === 0 ? host : undefined);
    const o: tls.ConnectionOptions = {
      host,
      port,
      secureContext: this.context,
      ALPNProtocols: [alpn],
    };
    if (servername !== undefined) o.servername = servername;
    if (this.checkIdentity !== undefined) o.checkServerIdentity = this.checkIdentity;
    if (slot !== undefined && slot.session !== undefined && slot.generation === this.generation) o.session = slot.session;
    return o;
  }

  /** Keeps the socket's sessions in `slot` (TLS 1.3 sends tickets after the handshake, possibly several: the last wins). */
  keepSessions(socket: tls.TLSSocket, slot: TlsSessionSlot): void {
    const generation = this.generation;
    socket.on('session', (session: Buffer) => {
      if (generation !== this.generation) return;
      slot.session = session;
      slot.generation = generation;
    });
  }

  close(): void {
    this.files?.close();
    this.anchor?.close();
    this.unsubscribe?.();
  }
}

function anchorMessage(m: string): string {
  return m.replace(/^identity\.ca\b/, 'identity.trustAnchor');
}

/**
 * Verification of an endpoint by identity instead of by hostname: endpoints
 * of a mesh are addressed by IP and known by their SPIFFE ID (Linkerd and
 * Istio verify the same way). A SPIFFE ID must be the certificate's one
 * SPIFFE URI SAN, exactly; a DNS name must be one of its DNS SANs (a
 * configured `*.example.com` accepts one label in its place). The chain is
 * still verified against the CA as usual.
 */
export function identityCheck(expected: string): (host: string, cert: PeerCertificate) => Error | undefined {
  if (expected.startsWith('spiffe://')) {
    return (_host, cert) => {
      const got = peerIdentity(cert);
      if ('error' in got) return identityError(`the server certificate is not a valid SVID: ${got.error}`);
      if (got.identity === expected) return undefined;
      if (!got.identity.startsWith('spiffe://')) {
        return identityError(`the server certificate has no SPIFFE ID (it is ${got.identity === '' ? 'nameless' : got.identity}); expected ${expected}`);
      }
      return identityError(`server identity ${got.identity} does not match the expected ${expected}`);
    };
  }
  const want = expected.toLowerCase();
  const wildcard = want.startsWith('*.') ? want.slice(1) : undefined;
  return (_host, cert) => {
    const dns = subjectAltNames(cert.subjectaltname).dns;
    for (const name of dns) {
      if (name === want) return undefined;
      if (wildcard !== undefined && name.endsWith(wildcard) && !name.slice(0, -wildcard.length).includes('.') && name.length > wildcard.length) return undefined;
    }
    const have = dns.length === 0 ? 'no DNS name' : dns.join(', ');
    return identityError(`server identity (${have}) does not match the expected ${expected}`);
  };
}

function identityError(text: string): Error {
  return new Error(`TLS: ${text}`);
}

/**
 * The protocol ALPN settled on, checked: an endpoint that did not agree to
 * `wanted` is a failed connect with a cause the operator can act on.
 */
export function alpnMismatch(socket: tls.TLSSocket, wanted: 'h2' | 'http/1.1'): Error | undefined {
  const got = socket.alpnProtocol;
  if (got === wanted) return undefined;
  // A server without ALPN speaks HTTP/1.1 over TLS (RFC 7301 §3.2: the extension is optional).
  if (wanted === 'http/1.1' && (got === false || got === null || got === undefined)) return undefined;
  const said = got === false || got === null || got === undefined ? 'none' : got;
  const hint = wanted === 'h2' ? '; an HTTP/1.1-only server needs the service\'s protocol: http1' : '';
  return new Error(`TLS: the endpoint did not agree to ${wanted} (ALPN: ${said})${hint}`);
}
