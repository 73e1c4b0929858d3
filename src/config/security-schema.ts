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
 * docs/configuration.md documents every key (a test checks it).
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
    /** Server names (SNI) this certificate answers; `*.example.com` matches one label. */
    serverNames: z.array(z.string().min(1).max(253)).min(1),
    cert: pathSchema,
    key: pathSchema,
  })
  .strict();

export const listenerTlsSchema = z
  .object({
    /** PEM certificate chain presented to clients (watched: replaced files are used by new handshakes). Default: the proxy's own identity certificate (top-level `identity`). */
    cert: pathSchema.optional(),
    /** PEM private key of `cert`. */
    key: pathSchema.optional(),
    /** PEM CA bundle: when set, clients must present a certificate it signed (mTLS), and plaintext is refused. */
    clientCa: pathSchema.optional(),
    /** Other certificates chosen by the client's server name (SNI). */
    sni: z.array(sniCertificateSchema).default([]),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2'),
    /** ALPN protocols offered, in preference order (default: what the listener's protocol serves). */
    alpn: z.array(z.enum(ALPN_PROTOCOLS)).min(1).optional(),
    /** A TLS handshake must finish within this. */
    handshakeTimeout: positiveDurationSchema.default('10s'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.cert === undefined) !== (t.key === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [t.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together' });
    }
  });

export const serviceTlsSchema = z
  .object({
    /** PEM CA bundle that verifies endpoints' certificates (default: Node's built-in public CAs). */
    ca: pathSchema.optional(),
    /** Client certificate for mTLS to the endpoints (with `key`). */
    cert: pathSchema.optional(),
    key: pathSchema.optional(),
    /** Server name sent (SNI) and verified against the certificate's DNS SANs (default: the endpoint's hostname; none for IPs). */
    serverName: z.string().min(1).max(253).optional(),
    /** Expected identity of every endpoint: a SPIFFE ID (URI SAN) or a DNS name (DNS SAN). */
    identity: identitySchema.optional(),
    minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2'),
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
    /** Named in metrics (`switchyard_authz_denied_total{rule}`) and in the refusal. */
    name: z.string().min(1).max(100).regex(/^[a-z0-9][a-z0-9._-]*$/, 'must match [a-z0-9][a-z0-9._-]*')
      .refine((n) => n !== RESERVED_RULE_NAME, `${RESERVED_RULE_NAME} is the name of the implicit last rule`),
    action: z.enum(['allow', 'deny']).default('allow'),
    /** Client identities: exact, or a prefix ending in `/*` (`spiffe://example.org/ns/prod/*`, `spiffe://example.org/*`), or `*` for any authenticated client. */
    identities: z.array(z.string().min(1).max(2048).refine(isIdentityPattern, 'must be *, an identity, or a prefix ending in /* (no other *)')).min(1).optional(),
    /** Client source networks (CIDR). */
    networks: z.array(z.string().refine(isCidr, 'must be a CIDR such as 10.0.0.0/8 or fd00::/8')).min(1).optional(),
    /** Request path prefixes, by whole segments (`/api` matches `/api` and `/api/x`, not `/apis`). */
    paths: z.array(z.string().startsWith('/', 'must start with "/"')).min(1).optional(),
    /** gRPC services (`pkg.Greeter`). */
    grpcServices: z.array(z.string().min(1)).min(1).optional(),
    /** gRPC methods (`pkg.Greeter/SayHello`). */
    grpcMethods: z.array(z.string().regex(/^[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/, 'must be "pkg.Service/Method"')).min(1).optional(),
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
    /** This proxy's SPIFFE ID (spiffe://trust-domain/path), put in its certificate's URI SAN. */
    name: z.string().regex(SPIFFE_ID, 'must be a SPIFFE ID such as spiffe://example.org/ns/prod/sa/gateway'),
    /** PEM trust anchor: peers' certificates must chain to it (services' default `ca`; a listener's `clientCa` stays explicit). */
    trustAnchor: pathSchema,
    /** The issuer's PEM certificate and key. */
    issuer: z.object({ cert: pathSchema, key: pathSchema }).strict(),
    /** Lifetime of the certificates it issues itself. */
    ttl: duration({ positive: true }).default('24h'),
    /** Renew once this share (percent) of the lifetime has passed. */
    renewAt: z.number().min(10).max(90).default(70),
    /** Warn (log and metric) when a certificate in use has less than this left. */
    expiryWarning: duration({ positive: true }).default('6h'),
  })
  .strict();

export type IdentitySettings = z.output<typeof identitySettingsSchema>;
export type ListenerTlsConfig = z.output<typeof listenerTlsSchema>;
export type ServiceTlsConfig = z.output<typeof serviceTlsSchema>;
export type AuthorizationRule = z.output<typeof authorizationRuleSchema>;
