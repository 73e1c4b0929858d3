/**
 * SPIFFE IDs as the SPIFFE-ID specification defines them: `spiffe://` + a
 * trust domain (lower-case letters, digits, `.`, `-`, `_`; at most 255
 * characters) + an optional path of non-empty segments made of letters,
 * digits, `.`, `-`, `_` (no `.` or `..` segment, no trailing `/`, no
 * percent-encoding), 2048 bytes at most. Kept free of any X.509 library so
 * the CLI can check names before loading one.
 */

export interface SpiffeId {
  trustDomain: string;
  /** '' for the trust domain's own ID, else `/seg/seg`. */
  path: string;
  /** The ID as text. */
  id: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Why a trust domain is not valid, or undefined when it is. */
export function trustDomainError(td: string): string | undefined {
  if (td === '') return 'the trust domain is empty';
  if (td.length > 255) return 'the trust domain is longer than 255 characters';
  if (!TRUST_DOMAIN.test(td)) return `trust domain "${td}" may only hold lower-case letters, digits, ".", "-" and "_"`;
  return undefined;
}

/** Why a workload path (`ns/prod/sa/web`, with or without the leading "/") is not valid, or undefined. */
export function pathError(path: string): string | undefined {
  const p = path.startsWith('/') ? path.slice(1) : path;
  if (p === '') return 'the path is empty';
  if (p.endsWith('/')) return `path "${path}" ends with "/"`;
  for (const seg of p.split('/')) {
    if (seg === '') return `path "${path}" has an empty segment`;
    if (seg === '.' || seg === '..') return `path "${path}" has a "${seg}" segment`;
    if (!SEGMENT.test(seg)) return `path segment "${seg}" may only hold letters, digits, ".", "-" and "_"`;
  }
  return undefined;
}

/** Parses a SPIFFE ID; `{ error }` says what is wrong. */
export function parseSpiffeId(text: string): SpiffeId | { error: string } {
  if (!text.startsWith('spiffe://')) return { error: `"${text}" is not a SPIFFE ID: it must start with spiffe://` };
  if (Buffer.byteLength(text) > 2048) return { error: 'a SPIFFE ID is at most 2048 bytes' };
  const rest = text.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const tdErr = trustDomainError(trustDomain);
  if (tdErr !== undefined) return { error: `"${text}": ${tdErr}` };
  if (path !== '') {
    const pErr = pathError(path);
    if (pErr !== undefined) return { error: `"${text}": ${pErr}` };
  }
  return { trustDomain, path, id: text };
}

/** The SPIFFE ID of a workload path in a trust domain (both already checked). */
export function spiffeIdOf(trustDomain: string, path: string): string {
  return `spiffe://${trustDomain}/${path.startsWith('/') ? path.slice(1) : path}`;
}
