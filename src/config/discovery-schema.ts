/**
 * `services[].discovery`: where a service's endpoints come from when they are
 * not listed in `endpoints`. Exactly one source per service:
 *
 *   discovery: { file: /etc/switchyard/web.yaml }
 *   discovery: { dns: { name: api.internal, port: 8080, interval: 5s } }
 *   discovery: { dns: { srv: _grpc._tcp.api.internal, servers: [127.0.0.1:5353] } }
 *   discovery: { kubernetes: { service: greeter, namespace: default, port: grpc } }
 *
 * docs/configuration.md documents every key (a test checks it).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, positiveDurationSchema } from './duration.js';
import { endpointAddressSchema } from './address.js';

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const dnsDiscoverySchema = z
  .object({
    /** A/AAAA name; needs `port`. */
    name: z.string().regex(HOSTNAME, 'must be a DNS name').optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /** SRV name (`_grpc._tcp.api.internal`): targets and ports come from the records. */
    srv: z.string().regex(HOSTNAME, 'must be a DNS name').optional(),
    /** Re-resolution period when records carry no usable TTL, and the retry period after a failure. */
    interval: positiveDurationSchema.default('5s'),
    /** Record TTLs are clamped to [minTtl, maxTtl] before they schedule the next resolution. */
    minTtl: duration({ positive: true }).default('1s'),
    maxTtl: duration({ positive: true }).default('5m'),
    /** Resolution timeout per attempt. */
    timeout: positiveDurationSchema.default('2s'),
    /** DNS servers to ask instead of the system's (`ip:port`). */
    servers: z.array(endpointAddressSchema.refine((a) => isIP(a.host) !== 0, 'must be an IP address (a DNS server cannot be found by name)')).min(1).optional(),
    /** A and/or AAAA for `name`. */
    family: z.enum(['any', 'ipv4', 'ipv6']).default('any'),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.name !== undefined && d.srv !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['srv'], message: 'set either name (A/AAAA) or srv, not both' });
    else if (d.name === undefined && d.srv === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'set name (with port) or srv' });
    if (d.name !== undefined && d.port === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['port'], message: 'required with name (the records carry no port)' });
    if (d.srv !== undefined && d.port !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['port'], message: 'SRV records carry the port: remove port' });
    if (d.maxTtl < d.minTtl) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['maxTtl'], message: 'must be at least minTtl' });
  });

export const kubernetesDiscoverySchema = z
  .object({
    /** The Service whose EndpointSlices are watched (label kubernetes.io/service-name). */
    service: z.string().max(63).regex(K8S_NAME, 'must be a Kubernetes Service name (RFC 1123 label)'),
    /** Default: the namespace Switchyard runs in (in cluster), else the kubeconfig context's, else "default". */
    namespace: z.string().max(63).regex(K8S_NAME, 'must be a Kubernetes namespace name').optional(),
    /** The port's name in the slices (the Service port's name) or its number. */
    port: z.union([z.number().int().min(1).max(65535), z.string().min(1).max(63)]),
    /** A kubeconfig file; default: in-cluster service account, else $KUBECONFIG, else ~/.kube/config. */
    kubeconfig: z.string().min(1).optional(),
  })
  .strict();

export const discoverySchema = z
  .object({
    /** A YAML or JSON list of endpoints, the same forms as `endpoints`; watched. */
    file: z.string().min(1).optional(),
    dns: dnsDiscoverySchema.optional(),
    kubernetes: kubernetesDiscoverySchema.optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    const set = [d.file, d.dns, d.kubernetes].filter((v) => v !== undefined).length;
    if (set !== 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `set exactly one source (file, dns or kubernetes); ${set === 0 ? 'none is' : `${set} are`} set` });
  });

export type DiscoveryConfig = z.output<typeof discoverySchema>;
export type DnsDiscoveryConfig = z.output<typeof dnsDiscoverySchema>;
export type KubernetesDiscoveryConfig = z.output<typeof kubernetesDiscoverySchema>;
