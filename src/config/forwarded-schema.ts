/**
 * `listeners[].forwarded`: the headers that tell endpoints who the client
 * is (X-Forwarded-For, X-Forwarded-Proto, RFC 7239 Forwarded, RFC 9110 Via),
 * and which peers may pass such headers on from their own clients.
 */
import { z } from 'zod';
import { parseCidr } from './cidr.js';

/** `10.0.0.0/8`, `2001:db8::/32`, or a lone address (a /32 or /128). */
const cidrSchema = z.string().superRefine((s, ctx) => {
  try {
    parseCidr(s.includes('/') ? s : `${s}/${s.includes(':') ? 128 : 32}`);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
  }
});

export const forwardedSchema = z
  .object({
    xForwardedFor: z.boolean().default(true).describe("Append the client's address to `X-Forwarded-For`."),
    xForwardedProto: z
      .boolean()
      .default(true)
      .describe('Set `X-Forwarded-Proto` to the scheme the client used (`http`, or `https` over TLS).'),
    forwarded: z.boolean().default(false).describe('Append an RFC 7239 `Forwarded` element: `for=ADDRESS;proto=SCHEME`.'),
    via: z
      .boolean()
      .default(false)
      .describe('Append `1.1 switchyard` (`2 switchyard` for HTTP/2 clients) to `Via` (RFC 9110 §7.6.3).'),
    trustedProxies: z
      .array(cidrSchema)
      .default([])
      .describe(
        'CIDRs or addresses of peers that are proxies themselves: their `X-Forwarded-For`, `X-Forwarded-Proto` and `Forwarded` are kept and appended to. From any other peer these headers are replaced, so a client cannot choose the address an endpoint reads.',
      ),
  })
  .strict();

export type ForwardedConfig = z.output<typeof forwardedSchema>;
