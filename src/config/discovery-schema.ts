/**
 * `services[].discovery`: where a service's endpoints come from when they are
 * not listed in `endpoints`. Exactly one source per service:
 *
 *   discovery: { file: /etc/switchyard/web.yaml }
 *   discovery: { dns: { name: api.internal, port: 8080, interval: 5s } }
 *   discovery: { dns: { srv: _grpc._tcp.api.internal, servers: [127.0.0.1:5353] } }
 *   discovery: { kubernetes: { service: greeter, namespace: default, port: grpc } }
 *
 * Each key's `.describe()` text is its entry in the tables of
 * docs/configuration.md (`npm run docs:config`; a test checks they are current).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, positiveDurationSchema } from './duration.js';
import { endpointAddressSchema } from './address.js';

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const dnsDiscoverySchema = z
  .object({
    name: z.string().regex(HOSTNAME, 'must be a DNS name').optional().describe('DNS name whose A and/or AAAA records are the endpoints; needs `port`.'),
    port: z.number().int().min(1).max(65535).optional().describe("The endpoints' port with `name`."),
    srv: z.string().regex(HOSTNAME, 'must be a DNS name').optional().describe(
      'SRV records (`_grpc._tcp.api.internal`) instead of `name`: targets (resolved per `family`) and ports come from the records; the lowest priority group that has addresses is used (RFC 2782), and each record\'s weight is shared among its target\'s addresses.',
    ),
    interval: positiveDurationSchema.default('5s').describe(
      'Re-resolution period when the answer carries no TTL, and retry period after a failure.',
    ),
    // Record TTLs are clamped to [minTtl, maxTtl] before they schedule the next resolution.
    minTtl: duration({ positive: true }).default('1s').describe('Answers are asked again when their TTL runs out, but not sooner than this…'),
    maxTtl: duration({ positive: true }).default('5m').describe('…and not later than this.'),
    timeout: positiveDurationSchema.default('2s').describe('Time allowed for one resolution.'),
    servers: z.array(endpointAddressSchema.refine((a) => isIP(a.host) !== 0, 'must be an IP address (a DNS server cannot be found by name)')).min(1).optional().describe(
      'DNS servers to ask (`ip:port`), instead of those in `/etc/resolv.conf`. NXDOMAIN, an empty answer, SERVFAIL and timeouts all keep the last set (as Envoy does): a DNS hiccup must not empty a service.',
    ),
    family: z.enum(['any', 'ipv4', 'ipv6']).default('any').describe('Which address records to ask for with `name`.'),
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
    service: z.string().max(63).regex(K8S_NAME, 'must be a Kubernetes Service name (RFC 1123 label)').describe(
      'The Service whose EndpointSlices (label `kubernetes.io/service-name`) are merged into the endpoint set.',
    ),
    namespace: z.string().max(63).regex(K8S_NAME, 'must be a Kubernetes namespace name').optional().describe(
      "Unset: in a cluster, the namespace Switchyard runs in; outside, the kubeconfig context's, else `default`.",
    ),
    port: z.union([z.number().int().min(1).max(65535), z.string().min(1).max(63)]).describe(
      "Matched against each slice's `ports[]` by name (the Service port's name) or by number; slices can carry different ports during a rollout.",
    ),
    kubeconfig: z.string().min(1).optional().describe(
      'Credentials for the API server (unset: in-cluster, else `$KUBECONFIG`, else `~/.kube/config`). In a cluster the service account token is read again as the kubelet rotates it.',
    ),
  })
  .strict();

export const discoverySchema = z
  .object({
    file: z.string().min(1).optional().describe(
      'Path of a YAML or JSON list of endpoints in the same forms as `endpoints` (`- 10.0.0.1:8080`, `- { address: 10.0.0.2:8080, weight: 2 }`). Watched: writing it in place and replacing it by rename (editors, `mv`, Kubernetes ConfigMap volumes) are both seen within a fraction of a second (a 2 s poll covers file systems without change events). A file that does not parse keeps the last good set, and the error names the path, the line and the reason. An empty file is an error (a writer caught half-way must not empty the service); `[]` is an empty set.',
    ),
    dns: dnsDiscoverySchema.optional().describe('A/AAAA or SRV records, keys below.'),
    kubernetes: kubernetesDiscoverySchema.optional().describe("The EndpointSlices of a Kubernetes Service, keys below."),
  })
  .strict()
  .superRefine((d, ctx) => {
    const set = [d.file, d.dns, d.kubernetes].filter((v) => v !== undefined).length;
    if (set !== 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `set exactly one source (file, dns or kubernetes); ${set === 0 ? 'none is' : `${set} are`} set` });
  });

export type DiscoveryConfig = z.output<typeof discoverySchema>;
export type DnsDiscoveryConfig = z.output<typeof dnsDiscoverySchema>;
export type KubernetesDiscoveryConfig = z.output<typeof kubernetesDiscoverySchema>;
