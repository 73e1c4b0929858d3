/**
 * Network addresses: "host:port", "[::1]:8080", ":8080" (listeners only).
 * Parsed into { host, port } with IPv6 brackets stripped.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { describe } from './duration.js';

export interface HostPort {
  /** Hostname (lower-cased), IPv4 address or IPv6 address without brackets. */
  host: string;
  port: number;
}

export interface ParseAddressOptions {
  /** Host used when the address is ":port" (or a bare port number). Without it a host is required. */
  defaultHost?: string;
  /** Accept port 0 (ephemeral; used by tests). */
  allowPortZero?: boolean;
}

/** Thrown by parseAddress; the message explains what was wrong. */
export class AddressError extends Error {
  override readonly name = 'AddressError';
}

const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function checkHost(host: string, original: string): string {
  if (isIPv4(host)) return host;
  if (/^[0-9.]+$/.test(host)) throw new AddressError(`invalid address "${original}": "${host}" is not a valid IPv4 address`);
  const lower = host.toLowerCase().replace(/\.$/, '');
  if (lower.length > 253 || !lower.split('.').every((label) => HOST_LABEL.test(label))) {
    throw new AddressError(`invalid address "${original}": "${host}" is not a valid hostname or IP address`);
  }
  return lower;
}

function checkPort(text: string, original: string, allowZero: boolean): number {
  if (text === '') throw new AddressError(`invalid address "${original}": missing port (expected host:port)`);
  if (!/^\d{1,5}$/.test(text)) throw new AddressError(`invalid address "${original}": port "${text}" is not a number`);
  const port = Number(text);
  const min = allowZero ? 0 : 1;
  if (port < min || port > 65535) {
    throw new AddressError(`invalid address "${original}": port ${port} is out of range (${min}-65535)`);
  }
  return port;
}

/** Parses "host:port", "[v6]:port" or ":port" (when options.defaultHost is set). */
export function parseAddress(input: string, options: ParseAddressOptions = {}): HostPort {
  const allowZero = options.allowPortZero ?? false;
  const text = input.trim();
  if (text === '') throw new AddressError('empty address (expected host:port)');
  if (/\s/.test(text)) throw new AddressError(`invalid address "${input}": contains whitespace`);
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new AddressError(`invalid address "${input}": missing "]"`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (!rest.startsWith(':')) throw new AddressError(`invalid address "${input}": missing port after "]" (expected [host]:port)`);
    portText = rest.slice(1);
    if (!isIPv6(host)) throw new AddressError(`invalid address "${input}": "${host}" is not a valid IPv6 address`);
    return { host: host.toLowerCase(), port: checkPort(portText, input, allowZero) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new AddressError(`invalid address "${input}": missing port (expected host:port)`);
  host = text.slice(0, colon);
  portText = text.slice(colon + 1);
  if (host.includes(':')) {
    throw new AddressError(`invalid address "${input}": IPv6 addresses must be written in brackets, e.g. "[::1]:8080"`);
  }
  if (host === '') {
    if (options.defaultHost === undefined) throw new AddressError(`invalid address "${input}": missing host (expected host:port)`);
    host = options.defaultHost;
    return { host, port: checkPort(portText, input, allowZero) };
  }
  return { host: checkHost(host, input), port: checkPort(portText, input, allowZero) };
}

/** "10.0.0.1:80", "example.com:443", "[::1]:80". */
export function formatAddress(address: HostPort): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** True for 0.0.0.0 and ::, which bind every interface. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';
}

function addressSchema(options: ParseAddressOptions, allowBarePort: boolean) {
  return z.unknown().transform((value, ctx): HostPort => {
    if (value === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'Required: expected an address such as "10.0.0.1:8080" or "[::1]:8080"' });
      return z.NEVER;
    }
    let text: string;
    // "8080" (from a command line) and 8080 (YAML) both mean ":8080" where a bare port is allowed.
    if (typeof value === 'string') text = allowBarePort && /^\d+$/.test(value.trim()) ? `:${value.trim()}` : value;
    else if (typeof value === 'number' && allowBarePort && Number.isInteger(value)) text = `:${value}`;
    else {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `invalid address (got ${describe(value)}): expected a string such as "10.0.0.1:8080" or "[::1]:8080"`,
      });
      return z.NEVER;
    }
    try {
      return parseAddress(text, options);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
  });
}

/** Listener address: port 0..65535; ":8080" or a bare port number means host 0.0.0.0. */
export const listenAddressSchema = addressSchema({ defaultHost: '0.0.0.0', allowPortZero: true }, true);
/** Upstream endpoint address: host required, port 1..65535. */
export const endpointAddressSchema = addressSchema({ allowPortZero: false }, false);
