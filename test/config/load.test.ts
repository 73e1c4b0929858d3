import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseConfigText, loadConfigFile, parseConfig, ConfigError, formatIssues, formatPath, type Config } from '../../src/config/index.js';

const EXAMPLE = join(process.cwd(), 'examples', 'switchyard.yaml');

/** Parses text expecting failure; returns the ConfigError. */
function fail(text: string, sourceName = 'test.yaml'): ConfigError {
  try {
    parseConfigText(text, sourceName);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the configuration to be rejected');
}

function issueAt(err: ConfigError, path: string): { path: string; message: string; line?: number; col?: number } {
  const found = err.issues.find((i) => i.path === path);
  assert.ok(found, `no issue at ${path}; got:\n${err.message}`);
  return found;
}

const MINIMAL = `
listeners:
  - name: edge
    listen: 127.0.0.1:0
    service: web
services:
  - name: web
    endpoints: [127.0.0.1:7001]
`;

test('the example file is valid and defaults are filled in', async () => {
  const config = await loadConfigFile(EXAMPLE);
  assert.deepEqual(config.admin, { enabled: true, listen: { host: '127.0.0.1', port: 9990 } });
  assert.equal(config.log.level, 'info');
  assert.equal(config.shutdown.drainTimeout, 30_000);
  const edge = config.listeners[0]!;
  assert.equal(edge.name, 'edge');
  assert.deepEqual(edge.listen, { host: '0.0.0.0', port: 8080 });
  assert.equal(edge.protocol, 'auto');
  assert.equal(edge.detectTimeout, 10_000);
  assert.equal(edge.http2.maxFrameSize, 16_384);
  assert.equal(edge.http2.keepaliveInterval, 0);
  assert.equal(edge.http2.resetWindow, 10_000);
  const greeter = edge.routes.find((r) => r.name === 'greeter')!;
  assert.deepEqual(greeter.match, { grpcService: 'helloworld.Greeter' });
  assert.deepEqual(greeter.backends, [{ service: 'greeter', weight: 1 }]);
  assert.equal(greeter.timeout, 5000);
  const split = edge.routes.find((r) => r.name === 'checkout')!;
  assert.deepEqual(split.backends, [
    { service: 'checkout-v1', weight: 90 },
    { service: 'checkout-v2', weight: 10 },
  ]);
  assert.equal(split.service, undefined);
  const web = config.services.find((s) => s.name === 'web')!;
  assert.equal(web.protocol, 'http1');
  assert.deepEqual(web.endpoints[0], { address: { host: '127.0.0.1', port: 7001 }, weight: 1 });
  assert.deepEqual(web.balancer, { policy: 'least-request', choiceCount: 2, activeRequestBias: 1 });
  const checkout = config.services.find((s) => s.name === 'checkout-v1')!;
  assert.equal(checkout.connectTimeout, 1000);
  assert.equal(checkout.maxConnectionsPerEndpoint, 8);
  assert.equal(checkout.keepaliveInterval, 10_000);
  assert.equal(checkout.keepaliveTimeout, 20_000);
  assert.deepEqual(checkout.reconnectBackoff, { base: 100, max: 60_000 });
  assert.deepEqual(checkout.http1, { maxConnectionsPerEndpoint: 64 });
});

test('a minimal config gets every default', () => {
  const config: Config = parseConfigText(MINIMAL);
  assert.deepEqual(config.services[0]!.balancer, { policy: 'peak-ewma', defaultRtt: 30, decay: 10_000, noiseFloor: 1, noiseFactor: 1, probeAfter: 5000 });
  assert.deepEqual(config.listeners[0]!.routes, []);
  assert.equal(config.listeners[0]!.protocol, 'auto');
  assert.equal(config.services[0]!.protocol, 'http2');
  assert.deepEqual(config.admin.listen, { host: '127.0.0.1', port: 9990 });
  // JSON input and already-parsed objects work too.
  const again = parseConfig(JSON.parse(JSON.stringify({ listeners: [{ name: 'a', listen: ':0', service: 's' }], services: [{ name: 's' }] })));
  assert.deepEqual(again.listeners[0]!.listen, { host: '0.0.0.0', port: 0 });
  assert.deepEqual(again.services[0]!.endpoints, []);
});

test('admin can be disabled and moved', () => {
  const off = parseConfigText(`admin: { enabled: false }\n${MINIMAL}`);
  assert.equal(off.admin.enabled, false);
  const moved = parseConfigText(`admin: { listen: "[::1]:9000" }\n${MINIMAL}`);
  assert.deepEqual(moved.admin.listen, { host: '::1', port: 9000 });
});

test('unknown key names the path, says "unknown key" and suggests the right one', () => {
  const err = fail(`
listeners:
  - name: edge
    listne: 0.0.0.0:8080
    service: web
services:
  - name: web
`, 'edge.yaml');
  assert.equal(err.code, 'SWY_ERR_CONFIG');
  const i = issueAt(err, 'listeners[0].listne');
  assert.match(i.message, /unknown key "listne" \(did you mean "listen"\?\)/);
  assert.equal(i.line, 4);
  assert.equal(i.col, 5);
  assert.match(err.message, /^edge\.yaml:4:5 listeners\[0\]\.listne: unknown key/m);
  // The missing required key is reported too.
  assert.match(issueAt(err, 'listeners[0].listen').message, /Required/);
});

test('unknown top-level and nested keys', () => {
  const err = fail(`
servics: []
listeners:
  - name: edge
    listen: :0
    service: web
    http2: { maxFrameSiz: 20000 }
services:
  - name: web
    balancer: { policy: rr, choiceCount: 2 }
`);
  assert.match(issueAt(err, 'servics').message, /unknown key "servics" \(did you mean "services"\?\)/);
  assert.match(issueAt(err, 'listeners[0].http2.maxFrameSiz').message, /did you mean "maxFrameSize"/);
  assert.match(issueAt(err, 'services[0].balancer.choiceCount').message, /unknown key "choiceCount"/);
});

test('dangling service references', () => {
  const err = fail(`
listeners:
  - name: edge
    listen: 0.0.0.0:0
    service: nope
    routes:
      - service: web
      - service: nosuch
      - backends: [{ service: web, weight: 1 }, { service: ghost, weight: 1 }]
services:
  - name: web
`);
  assert.match(issueAt(err, 'listeners[0].service').message, /unknown service "nope"/);
  const i = issueAt(err, 'listeners[0].routes[1].service');
  assert.match(i.message, /^unknown service "nosuch" \(defined services: web\)$/);
  assert.equal(i.line, 8);
  assert.match(err.message, /listeners\[0\]\.routes\[1\]\.service: unknown service "nosuch"/);
  assert.match(issueAt(err, 'listeners[0].routes[2].backends[1].service').message, /unknown service "ghost"/);
  assert.equal(err.issues.length, 3);
});

test('port out of range names listeners[0].listen', () => {
  const err = fail(`
listeners:
  - name: edge
    listen: 0.0.0.0:65536
    service: web
services:
  - name: web
    endpoints: ["10.0.0.1:0"]
`);
  const i = issueAt(err, 'listeners[0].listen');
  assert.match(i.message, /port 65536 is out of range/);
  assert.deepEqual([i.line, i.col], [4, 13]);
  assert.match(issueAt(err, 'services[0].endpoints[0].address').message, /port 0 is out of range \(1-65535\)/);
});

test('YAML syntax errors carry line and column', () => {
  const err = fail('listeners:\n  - name: edge\n    listen: [0.0.0.0:8080\nservices: []\n', 'broken.yaml');
  assert.ok(err.issues.length >= 1);
  const first = err.issues[0]!;
  assert.equal(typeof first.line, 'number');
  assert.equal(typeof first.col, 'number');
  assert.match(first.message, /YAML syntax error/);
  assert.match(err.message, /^broken\.yaml:\d+:\d+ YAML syntax error: /);

  const tab = fail('listeners:\n  - name: a\n   listen: b\n', 'indent.yaml');
  assert.match(tab.message, /^indent\.yaml:3:\d+ YAML syntax error/m);

  const dupKey = fail('log: { level: info }\nlog: { level: debug }\n', 'dup.yaml');
  assert.match(dupKey.message, /^dup\.yaml:2:1 YAML syntax error: Map keys must be unique/);
});

test('empty file and non-mapping root', () => {
  assert.match(fail('').message, /the configuration is empty/);
  assert.match(fail('# only a comment\n').message, /the configuration is empty/);
  assert.match(fail('- a\n- b\n').message, /Expected object, received array/);
});

test('duplicate names and clashing listen addresses', () => {
  const err = fail(`
admin: { listen: 127.0.0.1:9000 }
listeners:
  - { name: edge, listen: 0.0.0.0:8080, service: web }
  - { name: edge, listen: 127.0.0.1:8080, service: web }
  - { name: other, listen: 0.0.0.0:9000, service: web }
  - { name: t1, listen: 127.0.0.1:0, service: web }
  - { name: t2, listen: 127.0.0.1:0, service: web }
services:
  - name: web
  - name: web
`);
  assert.match(issueAt(err, 'listeners[1].name').message, /duplicate listener name "edge" \(also listeners\[0\]\)/);
  assert.match(issueAt(err, 'services[1].name').message, /duplicate service name "web" \(also services\[0\]\)/);
  assert.match(issueAt(err, 'listeners[1].listen').message, /127\.0\.0\.1:8080 is already used by listeners\[0\]/);
  assert.match(issueAt(err, 'admin.listen').message, /already used by listeners\[2\]/);
  assert.equal(err.issues.length, 4, err.message);
});

test('bad durations name their path', () => {
  const err = fail(`
shutdown: { drainTimeout: forever }
listeners:
  - name: edge
    listen: :0
    detectTimeout: 0s
    routes:
      - { service: web, timeout: 5 seconds }
services:
  - name: web
    connectTimeout: -1s
    reconnectBackoff: { base: 10s, max: 1s }
`);
  assert.match(issueAt(err, 'shutdown.drainTimeout').message, /invalid duration "forever"/);
  assert.match(issueAt(err, 'listeners[0].detectTimeout').message, /must be greater than 0/);
  assert.match(issueAt(err, 'listeners[0].routes[0].timeout').message, /invalid duration "5 seconds"/);
  assert.match(issueAt(err, 'services[0].connectTimeout').message, /negative/);
  assert.match(issueAt(err, 'services[0].reconnectBackoff.max').message, /at least base/);
});

test('IPv6 addresses in listeners and endpoints', () => {
  const config = parseConfigText(`
listeners:
  - { name: v6, listen: "[::]:0", service: web }
services:
  - name: web
    endpoints: ["[::1]:7001", { address: "[fd00::5]:7002", weight: 3 }]
`);
  assert.deepEqual(config.listeners[0]!.listen, { host: '::', port: 0 });
  assert.deepEqual(config.services[0]!.endpoints, [
    { address: { host: '::1', port: 7001 }, weight: 1 },
    { address: { host: 'fd00::5', port: 7002 }, weight: 3 },
  ]);
  const err = fail(`
listeners:
  - { name: v6, listen: "::1:8080", service: web }
services:
  - { name: web }
`);
  assert.match(issueAt(err, 'listeners[0].listen').message, /must be written in brackets/);
});

test('balancer aliases normalize inside a config; hash policies are validated', () => {
  const config = parseConfigText(`
listeners: [{ name: e, listen: ":0", service: a }]
services:
  - { name: a, balancer: roundRobin }
  - { name: b, balancer: least_request }
  - { name: c, balancer: { policy: ketama, hashOn: { grpcMetadata: X-Tenant } } }
  - { name: d, balancer: ewma }
`);
  assert.deepEqual(
    config.services.map((s) => s.balancer.policy),
    ['round-robin', 'least-request', 'ring-hash', 'peak-ewma'],
  );
  const c = config.services[2]!.balancer;
  assert.ok(c.policy === 'ring-hash');
  assert.deepEqual(c.hashOn, { grpcMetadata: 'x-tenant' });

  const err = fail(`
listeners: [{ name: e, listen: ":0", service: a }]
services:
  - { name: a, balancer: ring-hash }
  - { name: b, balancer: { policy: maglev, hashOn: { path: true }, tableSize: 65536 } }
`);
  assert.match(issueAt(err, 'services[0].balancer.hashOn').message, /hash policies need hashOn/);
  assert.match(issueAt(err, 'services[1].balancer.tableSize').message, /not a prime/);
});

test('listener and route rules', () => {
  const err = fail(`
listeners:
  - { name: raw, listen: ":0", protocol: tcp, routes: [{ service: web }] }
  - { name: empty, listen: ":0" }
  - name: both
    listen: ":0"
    routes:
      - { service: web, backends: [{ service: web }] }
      - { match: { path: /a } }
      - { service: web, match: { path: /a, pathPrefix: /b } }
      - { service: web, match: { grpcMethod: Foo } }
      - { backends: [{ service: web, weight: 0 }] }
      - { service: web, match: { headers: { "bad header": x } } }
services:
  - { name: web }
`);
  assert.match(issueAt(err, 'listeners[0].service').message, /tcp listener needs service/);
  assert.match(issueAt(err, 'listeners[0].routes').message, /tcp listener cannot have routes/);
  assert.match(issueAt(err, 'listeners[1]').message, /needs service .* or at least one route/);
  assert.match(issueAt(err, 'listeners[2].routes[0].backends').message, /either service or backends/);
  assert.match(issueAt(err, 'listeners[2].routes[1]').message, /needs service or backends/);
  assert.match(issueAt(err, 'listeners[2].routes[2].match').message, /either path or pathPrefix/);
  assert.match(issueAt(err, 'listeners[2].routes[3].match.grpcMethod').message, /needs grpcService/);
  assert.match(issueAt(err, 'listeners[2].routes[4].backends').message, /weight above 0/);
  assert.match(issueAt(err, 'listeners[2].routes[5].match.headers["bad header"]').message, /not a valid header name/);

  const ok = parseConfigText(`
listeners:
  - name: edge
    listen: ":0"
    routes:
      - match: { headers: { X-Env: canary }, host: Example.COM, grpcService: pkg.Greeter, grpcMethod: SayHello }
        service: web
services: [{ name: web }]
`);
  assert.deepEqual(ok.listeners[0]!.routes[0]!.match, {
    headers: { 'x-env': 'canary' },
    host: 'example.com',
    grpcService: 'pkg.Greeter',
    grpcMethod: 'SayHello',
  });
});

test('all errors are reported at once', () => {
  const err = fail(`
listeners:
  - name: edge
    listen: 0.0.0.0:99999
    service: nosuch
    protocl: http2
services:
  - name: web
`);
  assert.equal(err.issues.length, 3, err.message);
  assert.deepEqual(
    err.issues.map((i) => i.path),
    ['listeners[0].listen', 'listeners[0].service', 'listeners[0].protocl'],
  );
  assert.equal(err.message.split('\n').length, 3);
  assert.equal(formatIssues(err), err.message);
});

test('loadConfigFile reports unreadable files as ConfigError', async () => {
  await assert.rejects(loadConfigFile(join(process.cwd(), 'no-such-dir', 'missing.yaml')), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /missing\.yaml: cannot read configuration: file not found/);
    return true;
  });
});

test('formatPath', () => {
  assert.equal(formatPath(['listeners', 0, 'routes', 1, 'service']), 'listeners[0].routes[1].service');
  assert.equal(formatPath(['a', 'x-env']), 'a.x-env');
  assert.equal(formatPath(['a', 'b c']), 'a["b c"]');
  assert.equal(formatPath([]), '');
});
