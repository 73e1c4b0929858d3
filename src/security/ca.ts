/**
 * A small certificate authority for workload identities: a trust anchor
 * (self-signed root), an issuer (intermediate signed by the anchor, path
 * length 0) and workload certificates (X.509-SVIDs) signed by the issuer.
 * The shape follows Linkerd's (root → identity issuer → short-lived proxy
 * certificates) and the SPIFFE X.509-SVID specification: a leaf carries
 * exactly one URI SAN (its SPIFFE ID), CA:FALSE, a critical keyUsage with
 * digitalSignature and no certificate-signing bits; signing certificates
 * carry CA:TRUE, keyCertSign and the trust domain's own SPIFFE ID.
 *
 * This module loads @peculiar/x509 (and the reflect-metadata it needs), a
 * few MB of resident memory: import it dynamically, only when certificates
 * are made (the `identity` command, a configured `identity`).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate as NodeCertificate } from 'node:crypto';
import { subjectAltNames, trustDomainOf } from './identity.js';

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;
type SigningAlgorithm = webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams;

x509.cryptoProvider.set(webcrypto as never);

/**
 * Certificates start this long before they are made, so that a peer whose
 * clock is a little behind accepts them at once (Linkerd allows the same).
 */
export const CLOCK_SKEW_MS = 20_000;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** A certificate or key could not be made or used; the message says which file and why. */
export class CaError extends Error {
  override readonly name = 'CaError';
}

/** PEM text of a certificate (or chain) and its private key. */
export interface Issued {
  /** The certificate alone. */
  cert: string;
  /** The certificate followed by the issuer's certificate(s): what a TLS peer presents. */
  chain: string;
  /** PKCS#8 private key. */
  key: string;
  notBefore: number;
  notAfter: number;
}

/** A CA certificate with its key, ready to sign. */
export interface Signer {
  /** The signing certificate and whatever intermediates its file holds (PEM). */
  chainPem: string;
  cert: x509.X509Certificate;
  key: Key;
  signingAlgorithm: SigningAlgorithm;
  notAfter: number;
  /** From the certificate's spiffe://trust-domain URI SAN; '' when it has none. */
  trustDomain: string;
}

export interface CaOptions {
  trustDomain: string;
  ttlMs: number;
  /** Wall-clock time of issuance (ms); default Date.now(). */
  now?: number;
}

/** A positive serial number of 128 random bits (RFC 5280 §4.1.2.2: at most 20 octets). */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

async function newKeyPair(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

async function keyPem(key: Key): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key );
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
}

function pem(c: x509.X509Certificate): string {
  return `${c.toString('pem').replace(/\r\n/g, '\n').trimEnd()}\n`;
}

/** DER length octets. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/**
 * A critical nameConstraints extension (RFC 5280 §4.2.1.10) permitting only
 * URIs whose host is the trust domain: the anchor can then vouch for no
 * SPIFFE ID of another trust domain, whatever an issuer under it signs.
 * Other name types (DNS SANs from --dns) are not constrained.
 */
function uriNameConstraint(trustDomain: string): x509.Extension {
  // NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees }
  // GeneralSubtree ::= SEQUENCE { base GeneralName } ; uniformResourceIdentifier is [6] IA5String
  const subtree = tlv(0x30, tlv(0x86, Buffer.from(trustDomain, 'ascii')));
  const value = tlv(0x30, tlv(0xa0, subtree));
  return new x509.Extension('2.5.29.30', true, value);
}

function validity(o: CaOptions, capAt?: number): { notBefore: Date; notAfter: Date } {
  const now = o.now ?? Date.now();
  const notAfter = capAt === undefined ? now + o.ttlMs : Math.min(now + o.ttlMs, capAt);
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(notAfter) };
}

async function issued(cert: x509.X509Certificate, key: Key, issuerChain: string): Promise<Issued> {
  const c = pem(cert);
  return {
    cert: c,
    chain: c + issuerChain,
    key: await keyPem(key),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  };
}

function authorityKeyId(signer: Signer): Promise<x509.AuthorityKeyIdentifierExtension> | x509.AuthorityKeyIdentifierExtension {
  const ski = signer.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  return ski !== null ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : x509.AuthorityKeyIdentifierExtension.create(signer.cert.publicKey);
}

/** A self-signed root for the trust domain: CA:TRUE (one intermediate below it), keyCertSign and cRLSign. */
export async function createTrustAnchor(o: CaOptions & { nameConstraint?: boolean }): Promise<Issued> {
  const keys = await newKeyPair();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, 1, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${o.trustDomain}` }]),
  ];
  if (o.nameConstraint === true) extensions.push(uriNameConstraint(o.trustDomain));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=trust-anchor.${o.trustDomain}, O=Switchyard`,
    ...validity(o),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
    extensions,
  });
  return issued(cert, keys.privateKey, '');
}

/** An intermediate signed by the anchor: CA:TRUE with path length 0 (it signs workloads only). */
export async function createIssuer(anchor: Signer, o: CaOptions): Promise<Issued> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=issuer.${o.trustDomain}, O=Switchyard`,
    issuer: anchor.cert.subjectName,
    ...validity(o, anchor.notAfter),
    publicKey: keys.publicKey,
    signingKey: anchor.key ,
    signingAlgorithm: anchor.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await authorityKeyId(anchor),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${o.trustDomain}` }]),
    ],
  });
  return issued(cert, keys.privateKey, '');
}

export interface WorkloadOptions {
  /** The certificate's one URI SAN (checked by the caller). */
  spiffeId: string;
  /** Extra DNS SANs (for clients that check host names, not SPIFFE IDs). */
  dns?: readonly string[];
  ttlMs: number;
  now?: number;
}

/**
 * An X.509-SVID for a workload, signed by the issuer: serverAuth and
 * clientAuth, so the same certificate serves both sides of mTLS. It never
 * outlives the issuer: notAfter is capped at the issuer's.
 */
export async function issueWorkload(issuer: Signer, o: WorkloadOptions): Promise<Issued> {
  const keys = await newKeyPair();
  const slash = o.spiffeId.indexOf('/', 'spiffe://'.length);
  const path = slash < 0 ? '' : o.spiffeId.slice(slash + 1);
  // The subject is informational (the SAN is the identity); CN is at most 64 characters (RFC 5280 ub-common-name).
  const subject = path !== '' && path.length <= 64 ? `CN=${path}, O=Switchyard` : 'O=Switchyard';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: issuer.cert.subjectName,
    ...validity({ trustDomain: '', ttlMs: o.ttlMs, now: o.now }, issuer.notAfter),
    publicKey: keys.publicKey,
    signingKey: issuer.key ,
    signingAlgorithm: issuer.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await authorityKeyId(issuer),
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: o.spiffeId },
        ...(o.dns ?? []).map((d) => ({ type: 'dns' as const, value: d })),
      ]),
    ],
  });
  return issued(cert, keys.privateKey, issuer.chainPem);
}

/** The WebCrypto algorithms of a private key read from PEM (EC P-256/P-384 or RSA). */
function algorithmsOf(key: ReturnType<typeof createPrivateKey>): { importAs: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; sign: SigningAlgorithm } | undefined {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { importAs: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams };
    if (curve === 'secp384r1') return { importAs: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams };
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa') return { importAs: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.RsaHashedImportParams };
  return undefined;
}

/**
 * A CA certificate and key read from PEM text, checked: the first
 * certificate is a CA (basicConstraints CA:TRUE), the key is its key, and it
 * has not expired. `files` names the files in messages.
 */
export async function loadSigner(certPem: string, keyText: string, files: { cert: string; key: string }, now = Date.now()): Promise<Signer> {
  let node: NodeCertificate;
  try {
    node = new NodeCertificate(certPem);
  } catch (err) {
    throw new CaError(`${files.cert}: not a PEM certificate (${(err as Error).message})`);
  }
  if (!node.ca) throw new CaError(`${files.cert}: not a CA certificate (basicConstraints CA:TRUE is missing), so it cannot sign`);
  let priv: ReturnType<typeof createPrivateKey>;
  try {
    priv = createPrivateKey(keyText);
  } catch (err) {
    throw new CaError(`${files.key}: not a PEM private key (${(err as Error).message})`);
  }
  if (!node.checkPrivateKey(priv)) throw new CaError(`${files.key} is not the key of ${files.cert}`);
  const notAfter = Date.parse(node.validTo);
  if (notAfter <= now) throw new CaError(`${files.cert} expired on ${new Date(notAfter).toISOString()}`);
  const alg = algorithmsOf(priv);
  if (alg === undefined) throw new CaError(`${files.key}: unsupported key type (use ECDSA P-256 or P-384, or RSA)`);
  const der = priv.export({ format: 'der', type: 'pkcs8' });
  const key = await webcrypto.subtle.importKey('pkcs8', der, alg.importAs, false, ['sign']);
  const uris = subjectAltNames(node.subjectAltName).uris.filter((u) => u.startsWith('spiffe://'));
  // Only the first certificate signs; the rest of the file (intermediates) is passed on in chains.
  const blocks = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return {
    chainPem: blocks.map((b) => `${b}\n`).join(''),
    cert: new x509.X509Certificate(node.raw),
    key,
    signingAlgorithm: alg.sign,
    notAfter,
    trustDomain: uris.length === 1 ? trustDomainOf(uris[0]!) : '',
  };
}
