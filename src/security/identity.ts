/**
 * Workload identities in certificates. A SPIFFE X.509-SVID carries exactly
 * one URI SAN `spiffe://trust-domain/path` (validators must reject more than
 * one); a certificate without one is known by its first DNS SAN, as Linkerd's
 * identities are DNS names. Computed once per connection, never per request.
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/** The SANs of a certificate, split by type. */
export interface SubjectAltNames {
  uris: string[];
  dns: string[];
}

/** Parses Node's subjectAltName text ("DNS:a, URI:spiffe://x/y, IP Address:1.2.3.4"). */
export function subjectAltNames(text: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { uris: [], dns: [] };
  if (text === undefined || text === '') return out;
  // Entries are ", "-separated; values can be quoted when they contain commas (Node ≥ 17.3).
  for (const raw of splitSans(text)) {
    const i = raw.indexOf(':');
    if (i < 0) continue;
    const type = raw.slice(0, i);
    let value = raw.slice(i + 1);
    if (value.startsWith('"') && value.endsWith('"')) value = JSON.parse(value) as string;
    if (type === 'URI') out.uris.push(value);
    else if (type === 'DNS') out.dns.push(value.toLowerCase());
  }
  return out;
}

function splitSans(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (!quoted && c === ',' && text[i + 1] === ' ') {
      out.push(cur);
      cur = '';
      i++;
      continue;
    }
    cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** The result of reading an identity from a certificate. */
export type IdentityResult = { identity: string } | { error: string };

/**
 * The identity a certificate proves: its SPIFFE ID (exactly one spiffe://
 * URI SAN), else its first DNS SAN; '' when it has neither. Two SPIFFE IDs
 * is an error (X.509-SVID §2).
 */
export function identityFromSans(sans: SubjectAltNames): IdentityResult {
  const spiffe = sans.uris.filter((u) => u.startsWith('spiffe://'));
  if (spiffe.length > 1) return { error: `certificate has ${spiffe.length} SPIFFE IDs (${spiffe.join(', ')}); an X.509-SVID has exactly one` };
  if (spiffe.length === 1) return { identity: spiffe[0]! };
  return { identity: sans.dns[0] ?? '' };
}

/** The identity of a peer certificate as Node's TLS socket gives it (getPeerCertificate()). */
export function peerIdentity(cert: PeerCertificate | Record<string, never> | null | undefined): IdentityResult {
  if (cert === null || cert === undefined || !('subjectaltname' in cert)) return { identity: '' };
  return identityFromSans(subjectAltNames(cert.subjectaltname));
}

/** The identity of a PEM certificate (the first one of a chain). */
export function certificateIdentity(pem: string | Buffer): IdentityResult {
  const x = new X509Certificate(pem);
  return identityFromSans(subjectAltNames(x.subjectAltName));
}

/** The trust domain of a SPIFFE ID (`example.org` of spiffe://example.org/ns/x), '' for anything else. */
export function trustDomainOf(identity: string): string {
  if (!identity.startsWith('spiffe://')) return '';
  const rest = identity.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}
