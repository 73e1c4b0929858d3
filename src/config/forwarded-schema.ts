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
    /** Append the client's address to X-Forwarded-For. */
    xForwardedFor: z.boolean().default(true),
    /** Set X-Forwarded-Proto to the scheme the client used (http or https). */
    xForwardedProto: z.boolean().default(true),
    /** Append an RFC 7239 Forwarded element (for, proto). */
    forwarded: z.boolean().default(false),
    /** Append this proxy to Via (RFC 9110 §7.6.3). */
    via: z.boolean().default(false),
    /** Peers whose X-Forwarded-* / Forwarded headers are kept and appended to; from any other peer they are replaced. */
    trustedProxies: z.array(cidrSchema).default([]),
  })
  .strict();

export type ForwardedConfig = z.output<typeof forwardedSchema>;
