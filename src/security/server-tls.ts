/**
 * TLS on a listening port (`listeners[].tls`): certificates (the default
 * one, others chosen by SNI, or the proxy's own identity certificate), mTLS
 * with `clientCa`, ALPN, the handshake timeout, and replacement of any of
 * them for new handshakes while open connections carry on.
 *
 * Handshakes run in a `tls.Server` that never listens: the listener hands it
 * accepted sockets (after protocol detection). That server, not a bare
 * TLSSocket, is what enforces `rejectUnauthorized` for server sockets — a
 * bare server-side TLSSocket accepts a client certificate from any CA and
 * only records the verification error — and it also owns the handshake
 * timeout and `setSecureContext()` for rotation. The SecureContexts are
 * built once per change of the files, never per connection. Every context
 * of a listener encrypts session tickets with the same keys, shared by all
 * workers and kept across reloads (session-tickets.ts).
 */
import { createHash, X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import type { ListenerProtocol, ListenerTlsConfig } from '../config/index.js';
import { peerIdentity } from './identity.js';
import type { IdentitySource } from './identity-source.js';
import { PemError, PemFiles, type PemMaterial } from './pem-files.js';
import { SessionTicketKeys } from './session-tickets.js';

/** How a TLS connection attempt on a listener ended (the label of switchyard_tls_handshakes_total). */
export type HandshakeResult =
  /** Handshake done, client identity accepted. */
  | 'ok'
  /** Not done within handshakeTimeout. */
  | 'timeout'
  /** mTLS: no client certificate, or one that clientCa did not sign. */
  | 'client_cert_refused'
  /** mTLS: a client certificate with more than one SPIFFE ID (X.509-SVID §2). */
  | 'identity_refused'
  /** Plaintext on a port that requires TLS. */
  | 'plaintext_refused'
  /** Anything else: no shared version or cipher, a bad message, the client went away. */
  | 'failed';

export const HANDSHAKE_RESULTS: readonly HandshakeResult[] = ['ok', 'timeout', 'client_cert_refused', 'identity_refused', 'plaintext_refused', 'failed'];

/**
 * A replaced certificate in the terms of the expiry registry
 * (certificate-expiry.ts): kind `listener`, `listener-sni` (named
 * `listener/first server name`) or `client-ca`.
 */
export interface ReloadedCertificate {
  kind: 'listener' | 'listener-sni' | 'client-ca';
  name: string;
  /** ms since the epoch. */
  notAfter: number;
}

/** What happens to the certificate material of listeners, for the log. */
export interface TlsEvents {
  /**
   * Replacement material is in use for new handshakes (`setting`:
   * `listeners[0].tls`, `listeners[0].tls.sni[1]`, `listeners[0].tls.clientCa`,
   * or `identity` for a renewal of the proxy's own certificate, which the
   * identity records itself: `certificate` is then undefined).
   */
  reloaded(listener: string, setting: string, material: PemMaterial, certificate: ReloadedCertificate | undefined): void;
  /** Replacement files could not be used: the previous material stays in use. */
  reloadFailed(listener: string, setting: string, message: string): void;
}

export interface ServerTlsOptions {
  /** The proxy's own certificate, used when `tls` has no cert/key (its renewals are followed). */
  identity?: IdentitySource;
  events?: TlsEvents;
  /** Test hook: how often the files are read again besides file-system events. */
  pollInterval?: number;
  /** Test hooks: the clock of ticket key periods, and the secret (another worker's, say). */
  ticketClock?: () => number;
  ticketSecret?: Buffer;
}

/** A finished handshake: the socket and the client's identity ('' without a client certificate). */
export type SecureConnectionHandler = (socket: TLSSocket, identity: string) => void;

/** ALPN protocols offered when `alpn` is not set: what the listener's protocol serves (RFC 7301; `h2`: RFC 9113 §3.2). */
export function defaultAlpn(protocol: ListenerProtocol): string[] | undefined {
  switch (protocol) {
    case 'http2': return ['h2'];
    case 'http1': return ['http/1.1'];
    case 'auto': return ['h2', 'http/1.1'];
    default: return undefined;
  }
}

interface SniEntry {
  readonly files: PemFiles;
  readonly setting: string;
  context: SecureContext;
}

export class ServerTls {
  /** Connection attempts by result. */
  readonly handshakes: Record<HandshakeResult, number> = { ok: 0, timeout: 0, client_cert_refused: 0, identity_refused: 0, plaintext_refused: 0, failed: 0 };
  /** mTLS: every client must present a certificate `clientCa` signed; plaintext is refused. */
  readonly requireClientCert: boolean;
  readonly handshakeTimeout: number;
  readonly alpn: readonly string[] | undefined;
  private readonly server: tls.Server;
  private material!: PemMaterial;
  private clientCa: Buffer | undefined;
  private readonly files: PemFiles[] = [];
  private readonly sni: SniEntry[] = [];
  /** Lower-case server name → certificate; `*.example.com` is kept under `example.com` in `wildcards`. */
  private readonly exact = new Map<string, SniEntry>();
  private readonly wildcards = new Map<string, SniEntry>();
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  /**
   * Sessions resume only on the listener that made them (Node's default is
   * one value per process), and on each of its certificates alike.
   */
  private readonly sessionIdContext: string;
  /** Session ticket keys: the same on every worker, every context of this listener, and after reloads. */
  readonly tickets: SessionTicketKeys;

  /**
   * Reads every file now: throws PemError naming the setting and the file
   * (`listeners[0].tls.cert /x: cannot read: no such file`).
   */
  constructor(
    private readonly config: ListenerTlsConfig,
    protocol: ListenerProtocol,
    /** `listeners[0].tls`. */
    private readonly label: string,
    private readonly listener: string,
    onSecure: SecureConnectionHandler,
    private readonly options: ServerTlsOptions = {},
  ) {
    this.requireClientCert = config.clientCa !== undefined;
    this.handshakeTimeout = config.handshakeTimeout;
    this.alpn = config.alpn ?? defaultAlpn(protocol);
    this.sessionIdContext = createHash('sha256').update(`switchyard ${label} ${listener}`).digest('hex').slice(0, 32);
    this.tickets = new SessionTicketKeys(`${label} ${listener}`, (keys) => this.useTicketKeys(keys), options.ticketClock, options.ticketSecret);
    const poll = { pollInterval: options.pollInterval };
    try {
      if (config.clientCa !== undefined) {
        const caLabel = `${label}.clientCa`;
        const f = this.watch(() => new PemFiles({ ca: config.clientCa }, label, (m) => this.apply(caLabel, m, this.material, m.ca, { kind: 'client-ca', name: listener, notAfter: Date.parse(new X509Certificate(m.ca!).validTo) }),
          (message) => this.failed(caLabel, clientCaMessage(message, label)), poll));
        this.clientCa = f.current.ca;
      }
      if (config.cert !== undefined) {
        const f = this.watch(() => new PemFiles({ cert: config.cert, key: config.key }, label, (m) => this.apply(label, m, m, this.clientCa, { kind: 'listener', name: listener, notAfter: m.notAfter! }),
          (message) => this.failed(label, message), poll));
        this.material = f.current;
      } else {
        const identity = options.identity;
        if (identity === undefined) throw new PemError(`${label}.cert: not set, and there is no identity certificate to use (set cert and key, or the top-level identity)`);
        this.material = identity.current;
        this.unsubscribe = identity.subscribe((m) => this.apply('identity', m, m, this.clientCa, undefined));
      }
      config.sni.forEach((s, i) => {
        const setting = `${label}.sni[${i}]`;
        const entry: SniEntry = {
          setting,
          files: this.watch(() => new PemFiles({ cert: s.cert, key: s.key }, setting, (m) => {
            if (this.closed) return;
            try {
              entry.context = this.context(m, this.clientCa);
            } catch (err) {
              this.failed(setting, `${setting}: ${(err as Error).message}`);
              return;
            }
            options.events?.reloaded(listener, setting, m, { kind: 'listener-sni', name: `${listener}/${s.serverNames[0]!}`, notAfter: m.notAfter! });
          }, (message) => this.failed(setting, message), poll)),
          context: undefined as never,
        };
        entry.context = this.context(entry.files.current, this.clientCa);
        this.sni.push(entry);
        for (const name of s.serverNames) {
          const n = name.toLowerCase();
          if (n.startsWith('*.')) {
            if (!this.wildcards.has(n.slice(2))) this.wildcards.set(n.slice(2), entry);
          } else if (!this.exact.has(n)) this.exact.set(n, entry);
        }
      });
      this.server = tls.createServer({
        ...this.contextOptions(this.material, this.clientCa),
        requestCert: this.requireClientCert,
        rejectUnauthorized: this.requireClientCert,
        ALPNProtocols: this.alpn as string[] | undefined,
        handshakeTimeout: config.handshakeTimeout,
        SNICallback: this.sni.length === 0 ? undefined : (name, cb) => cb(null, this.contextFor(name)),
      });
    } catch (err) {
      this.close();
      if (err instanceof PemError) throw new PemError(clientCaMessage(err.message, label));
      throw new PemError(`${label}: ${(err as Error).message}`);
    }
    this.tickets.start();
    this.server.on('secureConnection', (socket: TLSSocket) => {
      let identity = '';
      if (this.requireClientCert) {
        // Verified against clientCa by now; read once per connection, never per request.
        const id = peerIdentity(socket.getPeerCertificate());
        if ('error' in id) {
          this.handshakes.identity_refused++;
          socket.destroy();
          return;
        }
        identity = id.identity;
      }
      this.handshakes.ok++;
      onSecure(socket, identity);
    });
    // Node leaves a socket whose handshake failed open: close it.
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.handshakes[failureResult(err, socket)]++;
      socket.destroy();
    });
  }

  /**
   * Runs the handshake on an accepted connection whose first bytes (`head`,
   * read by protocol detection) were a ClientHello: they are pushed back
   * first, and the TLS socket reads them before anything else.
   */
  accept(socket: net.Socket, head: Buffer): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (head.length > 0) socket.unshift(head);
    this.server.emit('connection', socket);
  }

  /** Stops following the files; open connections are not touched. */
  close(): void {
    this.closed = true;
    this.tickets?.stop();
    for (const f of this.files) f.close();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private watch(make: () => PemFiles): PemFiles {
    const f = make();
    this.files.push(f);
    return f;
  }

  private contextOptions(m: PemMaterial, clientCa: Buffer | undefined): tls.SecureContextOptions {
    return { cert: m.cert, key: m.key, ca: clientCa, minVersion: this.config.minVersion, sessionIdContext: this.sessionIdContext, ticketKeys: this.tickets.current };
  }

  /** A new ticket key period: every context of the listener at once. */
  private useTicketKeys(keys: Buffer): void {
    if (this.closed) return;
    this.server.setTicketKeys(keys);
    for (const s of this.sni) (s.context.context as { setTicketKeys(k: Buffer): void }).setTicketKeys(keys);
  }

  private context(m: PemMaterial, clientCa: Buffer | undefined): SecureContext {
    return tls.createSecureContext(this.contextOptions(m, clientCa));
  }

  /** The certificate for a server name: exact, else `*.` + all but its first label, else the default (undefined). */
  private contextFor(name: string): SecureContext | undefined {
    const n = name.toLowerCase();
    const e = this.exact.get(n);
    if (e !== undefined) return e.context;
    const dot = n.indexOf('.');
    return dot < 0 ? undefined : this.wildcards.get(n.slice(dot + 1))?.context;
  }

  /**
   * New material (the default certificate, or clientCa): the default
   * context, and with a new clientCa every SNI context too (each carries the
   * CA list its CertificateRequest names and verifies with). Everything is
   * built before anything is swapped, so a failure keeps what is in use.
   */
  private apply(setting: string, m: PemMaterial, material: PemMaterial, clientCa: Buffer | undefined, certificate: ReloadedCertificate | undefined): void {
    if (this.closed) return;
    try {
      const contexts = clientCa === this.clientCa ? undefined : this.sni.map((s) => this.context(s.files.current, clientCa));
      this.server.setSecureContext(this.contextOptions(material, clientCa));
      if (contexts !== undefined) this.sni.forEach((s, i) => (s.context = contexts[i]!));
    } catch (err) {
      this.failed(setting, `${setting}: ${(err as Error).message}`);
      return;
    }
    this.material = material;
    this.clientCa = clientCa;
    this.options.events?.reloaded(this.listener, setting, m, certificate);
  }

  private failed(setting: string, message: string): void {
    this.options.events?.reloadFailed(this.listener, setting, message);
  }
}

/** PemFiles names the CA file `.ca`; on a listener the key is `clientCa`. */
function clientCaMessage(message: string, label: string): string {
  return message.startsWith(`${label}.ca `) ? `${label}.clientCa ${message.slice(label.length + 4)}` : message;
}

function failureResult(err: NodeJS.ErrnoException, socket: TLSSocket): HandshakeResult {
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  // A certificate from another CA: tls.Server closes the connection after the handshake and records why.
  if (socket.authorizationError != null) return 'client_cert_refused';
  if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'client_cert_refused';
  return 'failed';
}
