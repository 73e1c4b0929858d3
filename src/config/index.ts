/** Switchyard configuration: schema, types, parsing and loading. */
export * from './schema.js';
export * from './load.js';
export {
  parseDuration,
  formatDuration,
  durationSchema,
  positiveDurationSchema,
  duration,
  DurationError,
  MAX_DURATION_MS,
} from './duration.js';
export {
  parseAddress,
  formatAddress,
  isWildcardHost,
  listenAddressSchema,
  endpointAddressSchema,
  AddressError,
  type ParseAddressOptions,
} from './address.js';
export {
  balancerSchema,
  balancerWithDefault,
  hashOnSchema,
  slowStartSchema,
  normalizePolicyName,
  isPrime,
  policySchemas,
  BALANCER_POLICIES,
  FALLBACK_POLICIES,
  DEFAULT_BALANCER_POLICY,
  MAGLEV_MAX_TABLE_SIZE,
  type BalancerPolicyName,
  type FallbackPolicyName,
  type RoundRobinConfig,
  type WeightedRoundRobinConfig,
  type RandomConfig,
  type LeastRequestConfig,
  type PeakEwmaConfig,
  type RingHashConfig,
  type MaglevConfig,
} from './balancer-options.js';
export * from './resilience-schema.js';
export { discoverySchema, dnsDiscoverySchema, kubernetesDiscoverySchema } from './discovery-schema.js';
export { listenerTlsSchema, serviceTlsSchema, sniCertificateSchema, authorizationRuleSchema, authorizationSchema, identitySettingsSchema, SPIFFE_ID, TLS_VERSIONS, ALPN_PROTOCOLS } from './security-schema.js';
export { byteSizeSchema, parseByteSize, processLimitsSchema, listenerLimitsSchema, BYTE_SIZE_HINT } from './limits-schema.js';
export { forwardedSchema } from './forwarded-schema.js';
export { Cidr, parseCidr, parseIp } from './cidr.js';
export { zoneAwareSchema, zoneNameSchema, ZONE_MODES, type ZoneAwareConfig } from './zone-schema.js';
export { orcaSchema, orcaCrossCheck, type OrcaConfig } from './orca-schema.js';
