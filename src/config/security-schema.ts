/**
 * TLS on listeners and to services, and authorization rules. The key names
 * here are a public interface (tooling writes them): keep them.
 *
 *   listeners:
 *     - tls: { cert: tls.crt, key: tls.key, clientCa: ca.crt }   # clientCa: mTLS required
 *       authorization: [{ name: frontend, identities: ["spiffe://example.org/ns/prod/*"] }]
 *   services:
 *     - tls: { ca: ca.crt, cert: client.crt, key: client.key, serverName: backend.internal,
 *              identity: spiffe://example.org/ns/prod/sa/backend }
 *
 * Each key's `.describe()` text is its entry in the tables of
 * docs/configuration.md (`npm run docs:config`; a test checks they are current).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, positiveDurationSchema } from './duration.js';

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export const ALPN_PROTOCOLS = ['h2', 'http/1.1'] as const;

const pathSchema = z.string().min(1);

/** A SPIFFE ID (spiffe://trust-domain/path) or a DNS name. */
const identitySchema = z.string().min(1).max(2048).refine(
  (s) => /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*$/.test(s) || /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/i.test(s),
  'must be a SPIFFE ID (spiffe://trust-domain/path) or a DNS name',
);

export const sniCertificateSchema = z
  .object({
    serverNames: z.array(z.string().min(1).max(253)).min(1).describe(
      'Server names (SNI, case-insensitive) this certificate answers; `*.example.com` matches exactly one label: `a.example.com`, not `example.com` nor `a.b.example.com`. An exact name wins over a wildcard, an earlier entry over a later one.',
    ),
    cert: pathSchema.describe('PEM certificate chain, watched like the listener\'s `cert`.'),
    key: pathSchema.describe('Its PEM private key.'),
  })
  .strict();

export const listenerTlsSchema = z
  .object({
    cert: pathSchema.optional().describe(
      "PEM certificate chain presented to clients (and to clients whose server name matches no `sni` entry, or who send none). Watched: a replaced file is used by new handshakes, open connections are not touched; a file that cannot be used (unreadable, not PEM, key and certificate that do not match) is logged and the previous pair stays in use. Unset: the proxy's own `identity` certificate is presented and its renewals followed.",
    ),
    key: pathSchema.optional().describe('Its PEM private key (goes with `cert`).'),
    clientCa: pathSchema.optional().describe(
      'PEM CA bundle (watched like `cert`). When set, every client must present a certificate it signed (mTLS): a client without one, or with one from another CA, fails the handshake; a certificate with two SPIFFE IDs is refused. Plaintext on this port is refused: HTTP/1.1 gets `400` and is closed, HTTP/2 prior knowledge gets GOAWAY `INADEQUATE_SECURITY`. Not taken from `identity.trustAnchor`: mTLS is switched on only by this key.',
    ),
    sni: z.array(sniCertificateSchema).default([]).describe("Other certificates, chosen by the server name the client asks for (SNI); entries below."),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('Oldest TLS version accepted.'),
    alpn: z.array(z.enum(ALPN_PROTOCOLS)).min(1).optional().describe(
      "ALPN protocols offered, in preference order (the server's order wins). Unset: from `protocol`: `http2` → `h2`; `http1` → `http/1.1`; `auto` → `h2`, `http/1.1`; `tcp` → none.",
    ),
    handshakeTimeout: positiveDurationSchema.default('10s').describe(
      'A handshake must finish within this from its first byte, or the connection is closed (counted as `timeout`). On `http1`/`http2`/`tcp` ports it also bounds the wait for the first byte; on `auto` ports `detectTimeout` does.',
    ),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.cert === undefined) !== (t.key === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [t.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together' });
    }
  });

export const serviceTlsSchema = z
  .object({
    ca: pathSchema.optional().describe(
      "PEM CA bundle that verifies the endpoints' certificates (unset: `identity.trustAnchor`, else Node's public CAs). Watched like a listener's `cert`.",
    ),
    cert: pathSchema.optional().describe(
      'Client certificate for mTLS (unset: the `identity` certificate, if any). Watched: a replaced file (or a renewed `identity` certificate) is used by new connections; open ones are not touched.',
    ),
    key: pathSchema.optional().describe('Its PEM private key (goes with `cert`).'),
    serverName: z.string().min(1).max(253).optional().describe(
      "Server name sent (SNI) and, without `identity`, checked against the certificate's DNS SANs (unset: the endpoint's hostname). An endpoint given as an IP address gets no SNI and its certificate must name that IP (IP SAN).",
    ),
    identity: identitySchema.optional().describe(
      "SPIFFE ID or DNS name every endpoint must prove, checked instead of the server name (mesh endpoints are addressed by IP): exactly the certificate's one SPIFFE URI SAN for a SPIFFE ID, one of its DNS SANs for a DNS name (`*.example.com` accepts one label). The chain is still verified against `ca`. A mismatch fails the connection.",
    ),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('Oldest TLS version accepted.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.cert === undefined) !== (t.key === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [t.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together' });
    }
  });

/** A CIDR whose address node accepts and whose prefix fits its family. */
function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (m === null) return false;
  const family = isIP(m[1]!);
  return family !== 0 && !m[1]!.includes('%') && Number(m[2]) <= (family === 4 ? 32 : 128);
}

/** `*`, a prefix ending in `/*`, or an exact identity (no other `*`). */
function isIdentityPattern(s: string): boolean {
  if (s === '*') return true;
  const body = s.endsWith('/*') ? s.slice(0, -2) : s;
  return body.length > 0 && !body.includes('*');
}

/** Named when no allow rule matches: not available to configured rules. */
const RESERVED_RULE_NAME = 'default-deny';

/**
 * One authorization rule. Every field that is set must match (AND); within a
 * list any entry matches (OR). Deny rules are checked first (Envoy RBAC,
 * Istio); once a listener or route has rules, a request no allow rule matches
 * is refused.
 */
export const authorizationRuleSchema = z
  .object({
    name: z.string().min(1).max(100).regex(/^[a-z0-9][a-z0-9._-]*$/, 'must match [a-z0-9][a-z0-9._-]*')
      .refine((n) => n !== RESERVED_RULE_NAME, `${RESERVED_RULE_NAME} is the name of the implicit last rule`)
      .describe('Named in the refusal and in `switchyard_authz_denied_total{rule}`; unique within the list; `default-deny` is reserved.'),
    action: z.enum(['allow', 'deny']).default('allow').describe('What a match does.'),
    identities: z.array(z.string().min(1).max(2048).refine(isIdentityPattern, 'must be *, an identity, or a prefix ending in /* (no other *)')).min(1).optional().describe(
      'Client identities (from the verified client certificate: its SPIFFE ID, else its DNS name): exact, a prefix ending in `/*` (`spiffe://example.org/ns/prod/*`: anything below it), or `*` for any authenticated client. A client without an identity matches none of them. Unset: any client.',
    ),
    networks: z.array(z.string().refine(isCidr, 'must be a CIDR such as 10.0.0.0/8 or fd00::/8')).min(1).optional().describe(
      'Client source networks (CIDR), IPv4 or IPv6 (`10.0.0.0/8`, `fd00::/8`). IPv4 networks also match IPv4-mapped client addresses (`::ffff:10.1.2.3`). Unset: any.',
    ),
    paths: z.array(z.string().startsWith('/', 'must start with "/"')).min(1).optional().describe(
      'Request path prefixes, by whole segments: `/api` matches `/api`, `/api/x` and `/api?q`, not `/apis`; `/static/` matches what is below it. The query is ignored. Unset: any.',
    ),
    grpcServices: z.array(z.string().min(1)).min(1).optional().describe('gRPC services (`pkg.Greeter`): request paths `/pkg.Greeter/…`. Unset: any.'),
    grpcMethods: z.array(z.string().regex(/^[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/, 'must be "pkg.Service/Method"')).min(1).optional().describe(
      'gRPC methods (`pkg.Greeter/SayHello`): the request path `/pkg.Greeter/SayHello`. Unset: any.',
    ),
  })
  .strict();

export const authorizationSchema = z.array(authorizationRuleSchema).min(1).superRefine((rules, ctx) => {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'name'], message: `rule ${r.name} is already defined in this list` });
    seen.add(r.name);
  });
});

export const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)+$/;

/**
 * The proxy's own workload identity, issued and renewed by itself from an
 * issuer made by `switchyard identity init` (Linkerd's model: 24 h
 * certificates, renewed well before they expire). Listeners and services
 * with `tls` but no cert/key use this certificate.
 */
export const identitySettingsSchema = z
  .object({
    name: z.string().regex(SPIFFE_ID, 'must be a SPIFFE ID such as spiffe://example.org/ns/prod/sa/gateway').describe(
      "This proxy's SPIFFE ID (`spiffe://trust-domain/path`), put in its certificate's URI SAN. Must be in the issuer's trust domain (the start fails otherwise).",
    ),
    trustAnchor: pathSchema.describe(
      "PEM trust anchor made by `switchyard identity init` (a bundle during anchor rotation). The issuer must chain to it; services' default `ca` (a listener's `clientCa` stays explicit).",
    ),
    issuer: z
      .object({
        cert: pathSchema.describe("The issuer's PEM certificate."),
        key: pathSchema.describe('Its PEM private key.'),
      })
      .strict()
      .describe("The issuer's PEM certificate and key. Read again at every renewal: a replaced issuer is used from the next one on."),
    ttl: duration({ positive: true }).default('24h').describe('Lifetime of the certificates the proxy issues itself.'),
    renewAt: z.number().min(10).max(90).default(70).describe(
      'Renew once this share (percent) of the lifetime has passed (a failed renewal keeps the certificate and retries after 1 s, 2 s … 1 min).',
    ),
    expiryWarning: duration({ positive: true }).default('6h').describe(
      'Log a warning when a certificate in use has less than this left (`switchyard_certificate_expiry_seconds` shows every one); see [security](security.md#watching-expiry).',
    ),
  })
  .strict();

export type IdentitySettings = z.output<typeof identitySettingsSchema>;
export type ListenerTlsConfig = z.output<typeof listenerTlsSchema>;
export type ServiceTlsConfig = z.output<typeof serviceTlsSchema>;
export type AuthorizationRule = z.output<typeof authorizationRuleSchema>;
