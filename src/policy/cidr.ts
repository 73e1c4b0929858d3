/** The matcher lives in src/config (the proxy's forwarded headers use it too, and may not import this layer). */
export { Cidr, parseCidr, parseIp } from '../config/cidr.js';
