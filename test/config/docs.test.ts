import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  configObjectSchema,
  listenerObjectSchema,
  serviceObjectSchema,
  routeObjectSchema,
  routeMatchSchema,
  backendRefSchema,
  http2SettingsSchema,
  adminSchema,
  logSchema,
  shutdownSchema,
  endpointObjectSchema,
  reconnectBackoffSchema,
  serviceHttp1Schema,
  policySchemas,
  slowStartSchema,
  hashOnSchema,
  parseConfigText,
  discoverySchema,
  dnsDiscoverySchema,
  kubernetesDiscoverySchema,
  listenerTlsSchema,
  serviceTlsSchema,
  sniCertificateSchema,
  authorizationRuleSchema,
  identitySettingsSchema,
  processLimitsSchema,
  listenerLimitsSchema,
  forwardedSchema,
  zoneAwareSchema,
} from '../../src/config/index.js';

const DOCS = readFileSync(join(process.cwd(), 'docs', 'configuration.md'), 'utf8');

/** The object schema behind optional/default/effects wrappers. */
function objectOf(schema: z.ZodTypeAny): z.AnyZodObject {
  let s: z.ZodTypeAny = schema;
  for (;;) {
    if (s instanceof z.ZodObject) return s;
    if (s instanceof z.ZodEffects) s = s.innerType();
    else if (s instanceof z.ZodDefault) s = s.removeDefault();
    else if (s instanceof z.ZodOptional) s = s.unwrap();
    else throw new Error(`not an object schema: ${s.constructor.name}`);
  }
}

function keysOf(schema: z.ZodTypeAny): string[] {
  return Object.keys(objectOf(schema).shape);
}

function assertDocumented(section: string, schema: z.ZodTypeAny): void {
  const missing = keysOf(schema).filter((k) => !DOCS.includes(`\`${k}\``));
  assert.deepEqual(missing, [], `${section}: keys not documented in docs/configuration.md`);
}

test('every top-level, listener and service key is documented', () => {
  const top = keysOf(configObjectSchema);
  assert.deepEqual(top.sort(), ['admin', 'identity', 'limits', 'listeners', 'log', 'services', 'shutdown', 'watch', 'zone']);
  assertDocumented('top level', configObjectSchema);
  assertDocumented('listeners[]', listenerObjectSchema);
  assertDocumented('services[]', serviceObjectSchema);
  // The nested listener/service key lists are reachable through .shape as well.
  assert.deepEqual(keysOf(objectOf(configObjectSchema.shape.listeners.element)), keysOf(listenerObjectSchema));
  assert.deepEqual(keysOf(objectOf(configObjectSchema.shape.services.element)), keysOf(serviceObjectSchema));
});

test('every nested key is documented', () => {
  const nested: Record<string, z.ZodTypeAny> = {
    admin: adminSchema,
    log: logSchema,
    shutdown: shutdownSchema,
    'listeners[].http2': http2SettingsSchema,
    limits: processLimitsSchema,
    'listeners[].limits': listenerLimitsSchema,
    'listeners[].forwarded': forwardedSchema,
    'listeners[].routes[]': routeObjectSchema,
    'routes[].match': routeMatchSchema,
    'routes[].backends[]': backendRefSchema,
    'services[].endpoints[]': endpointObjectSchema,
    'services[].reconnectBackoff': reconnectBackoffSchema,
    'services[].http1': serviceHttp1Schema,
    'services[].zoneAware': zoneAwareSchema,
    'services[].discovery': discoverySchema,
    'services[].discovery.dns': dnsDiscoverySchema,
    'services[].discovery.kubernetes': kubernetesDiscoverySchema,
    'listeners[].tls': listenerTlsSchema,
    'listeners[].tls.sni[]': sniCertificateSchema,
    'services[].tls': serviceTlsSchema,
    'authorization[]': authorizationRuleSchema,
    identity: identitySettingsSchema,
    slowStart: slowStartSchema,
    hashOn: hashOnSchema,
    ...Object.fromEntries(Object.entries(policySchemas).map(([name, s]) => [`balancer ${name}`, s])),
  };
  for (const [section, schema] of Object.entries(nested)) assertDocumented(section, schema);
  for (const name of Object.keys(policySchemas)) assert.ok(DOCS.includes(`\`${name}\``), `policy ${name} not documented`);
});

test('the complete example in the docs is valid', () => {
  const block = /```yaml\n([\s\S]*?)```/.exec(DOCS);
  assert.ok(block, 'docs/configuration.md has no yaml example');
  const config = parseConfigText(block[1]!, 'docs/configuration.md');
  assert.equal(config.listeners.length, 1);
  assert.equal(config.listeners[0]!.routes.length, 3);
});
