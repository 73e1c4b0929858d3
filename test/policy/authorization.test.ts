import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationSchema, type AuthorizationRule } from '../../src/config/security-schema.js';
import { compileAuthorization, DEFAULT_DENY } from '../../src/policy/authorization.js';
import { ProxyErrors } from '../../src/errors.js';
import { parseConfig } from '../../src/config/index.js';

/** Rules as the configuration gives them (defaults filled in). */
function rules(raw: unknown[]): AuthorizationRule[] {
  return authorizationSchema.parse(raw);
}

/** The outcome of one check: 'allow', or `code:rule`. */
function decide(raw: unknown[]) {
  const authz = compileAuthorization(rules(raw));
  return (identity: string, address: string | undefined, path: string): string => {
    const d = authz.check(identity, address, path);
    if (d === null) return 'allow';
    return `${d.kind === ProxyErrors.UNAUTHENTICATED ? 401 : 403}:${d.rule}`;
  };
}

const PROD = 'spiffe://example.org/ns/prod/sa/frontend';

test('identities: exact, prefix ending in /*, and * for any authenticated client', () => {
  const exact = decide([{ name: 'fe', identities: [PROD, 'web.example.org'] }]);
  assert.equal(exact(PROD, '10.0.0.1', '/'), 'allow');
  assert.equal(exact('web.example.org', '10.0.0.1', '/'), 'allow');
  assert.equal(exact(`${PROD}x`, '10.0.0.1', '/'), `403:${DEFAULT_DENY}`);
  assert.equal(exact('spiffe://example.org/ns/prod/sa/other', '10.0.0.1', '/'), `403:${DEFAULT_DENY}`);

  const prefix = decide([{ name: 'prod', identities: ['spiffe://example.org/ns/prod/*'] }]);
  assert.equal(prefix(PROD, '10.0.0.1', '/'), 'allow');
  assert.equal(prefix('spiffe://example.org/ns/prod/', '10.0.0.1', '/'), `403:${DEFAULT_DENY}`, 'the prefix alone is no identity under it');
  assert.equal(prefix('spiffe://example.org/ns/production/sa/x', '10.0.0.1', '/'), `403:${DEFAULT_DENY}`, 'prefixes end at a /');
  assert.equal(prefix('spiffe://example.org/ns/staging/sa/frontend', '10.0.0.1', '/'), `403:${DEFAULT_DENY}`);

  const any = decide([{ name: 'authenticated', identities: ['*'] }]);
  assert.equal(any(PROD, '10.0.0.1', '/'), 'allow');
  assert.equal(any('db.internal', '10.0.0.1', '/'), 'allow');
  assert.equal(any('', '10.0.0.1', '/'), '401:authenticated');
});

test('networks: IPv4 and IPv6 CIDRs, IPv4-mapped client addresses match IPv4 networks', () => {
  const check = decide([{ name: 'local', networks: ['127.0.0.0/8', '10.1.0.0/16', 'fd00:1::/32'] }]);
  assert.equal(check('', '127.0.0.1', '/'), 'allow');
  assert.equal(check('', '::ffff:127.0.0.1', '/'), 'allow');
  assert.equal(check('', '::FFFF:7f00:1', '/'), 'allow', 'hex form of the mapped address');
  assert.equal(check('', '10.1.255.3', '/'), 'allow');
  assert.equal(check('', '10.2.0.1', '/'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', '::ffff:10.2.0.1', '/'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', 'fd00:1:abcd::5', '/'), 'allow');
  assert.equal(check('', 'fd00:1::5%eth0', '/'), 'allow', 'a zone is ignored');
  assert.equal(check('', 'fd00:2::5', '/'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', '::1', '/'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', '::127.0.0.1', '/'), `403:${DEFAULT_DENY}`, 'IPv4-compatible is not IPv4-mapped');
  assert.equal(check('', undefined, '/'), `403:${DEFAULT_DENY}`, 'no address: an allow rule does not match');
  assert.equal(check('', 'garbage', '/'), `403:${DEFAULT_DENY}`);

  const v6only = decide([{ name: 'loopback6', networks: ['::1/128'] }]);
  assert.equal(v6only('', '::1', '/'), 'allow');
  assert.equal(v6only('', '0:0:0:0:0:0:0:1', '/'), 'allow');
  assert.equal(v6only('', '127.0.0.1', '/'), `403:${DEFAULT_DENY}`);

  const everything = decide([{ name: 'v4', networks: ['0.0.0.0/0'] }]);
  assert.equal(everything('', '203.0.113.9', '/'), 'allow');
  assert.equal(everything('', '::ffff:203.0.113.9', '/'), 'allow');
  assert.equal(everything('', '2001:db8::1', '/'), `403:${DEFAULT_DENY}`, '0.0.0.0/0 is every IPv4 client, not every client');

  const hostBits = decide([{ name: 'odd', networks: ['192.168.1.77/24', '2001:db8:0:1:ffff::/63'] }]);
  assert.equal(hostBits('', '192.168.1.1', '/'), 'allow', 'host bits of the network are ignored');
  assert.equal(hostBits('', '2001:db8:0:0::1', '/'), 'allow');
  assert.equal(hostBits('', '2001:db8:0:2::1', '/'), `403:${DEFAULT_DENY}`);

  const noAddress = decide([{ name: 'outside', action: 'deny', networks: ['0.0.0.0/0'] }]);
  assert.equal(noAddress('', undefined, '/'), '403:outside', 'no address: a deny rule applies (fail closed)');
});

test('paths: prefixes by whole segments; the query does not take part', () => {
  const check = decide([{ name: 'api', paths: ['/api', '/static/'] }]);
  assert.equal(check('', '10.0.0.1', '/api'), 'allow');
  assert.equal(check('', '10.0.0.1', '/api/v1/users'), 'allow');
  assert.equal(check('', '10.0.0.1', '/api?x=/y'), 'allow');
  assert.equal(check('', '10.0.0.1', '/apis'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', '10.0.0.1', '/static/app.js'), 'allow');
  assert.equal(check('', '10.0.0.1', '/static'), `403:${DEFAULT_DENY}`, 'a prefix ending in / needs something below it');
  assert.equal(check('', '10.0.0.1', '/'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', '10.0.0.1', '/x?/api'), `403:${DEFAULT_DENY}`);
});

test('paths not in normal form: a deny rule matches either form, an allow rule needs both', () => {
  const check = decide([
    { name: 'no-admin', action: 'deny', paths: ['/admin'] },
    { name: 'public', paths: ['/public'] },
  ]);
  assert.equal(check('', '10.0.0.1', '/public/page'), 'allow');
  assert.equal(check('', '10.0.0.1', '/public/../admin/users'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', '/public/%2e%2e/admin'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', '/public/..%2Fadmin'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', '/public/..\\admin'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', '//admin'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', '/%61dmin'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', '/./admin'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', 'http://backend/admin'), '403:no-admin', 'absolute-form request-target');
  assert.equal(check('', '10.0.0.1', '/public/../secret'), `403:${DEFAULT_DENY}`, 'an allow rule must match the normalized path too');
  assert.equal(check('', '10.0.0.1', '/public/a%20b'), 'allow', 'other escapes stay as they are');
  assert.equal(check('', '10.0.0.1', '/public/./a//b'), 'allow');
});

test('gRPC services and methods match the request path /pkg.Service/Method', () => {
  const check = decide([
    { name: 'no-delete', action: 'deny', grpcMethods: ['acme.Users/Delete'] },
    { name: 'users', grpcServices: ['acme.Users'] },
    { name: 'health', grpcMethods: ['grpc.health.v1.Health/Check'] },
  ]);
  assert.equal(check('', '10.0.0.1', '/acme.Users/Get'), 'allow');
  assert.equal(check('', '10.0.0.1', '/acme.Users/Delete'), '403:no-delete');
  assert.equal(check('', '10.0.0.1', '/acme.Users/Delete?x'), '403:no-delete', 'a query does not sidestep a deny');
  assert.equal(check('', '10.0.0.1', '/acme.UsersAdmin/Get'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', '10.0.0.1', '/acme.Users/'), `403:${DEFAULT_DENY}`, 'a service needs a method');
  assert.equal(check('', '10.0.0.1', '/grpc.health.v1.Health/Check'), 'allow');
  assert.equal(check('', '10.0.0.1', '/grpc.health.v1.Health/Watch'), `403:${DEFAULT_DENY}`);
  assert.equal(check('', '10.0.0.1', '/grpc.health.v1.Health/CheckAll'), `403:${DEFAULT_DENY}`);
});

test('every field set in a rule must match (AND); any entry of a list (OR)', () => {
  const check = decide([{
    name: 'ops', identities: ['spiffe://example.org/ns/ops/*'], networks: ['10.0.0.0/8'], paths: ['/admin'],
  }]);
  const ops = 'spiffe://example.org/ns/ops/sa/cli';
  assert.equal(check(ops, '10.9.9.9', '/admin/x'), 'allow');
  assert.equal(check(ops, '192.168.0.1', '/admin/x'), `403:${DEFAULT_DENY}`);
  assert.equal(check(ops, '10.9.9.9', '/other'), `403:${DEFAULT_DENY}`);
  assert.equal(check(PROD, '10.9.9.9', '/admin/x'), `403:${DEFAULT_DENY}`);
});

test('deny rules come before allow rules, whatever their order in the list', () => {
  const check = decide([
    { name: 'everyone', networks: ['0.0.0.0/0'] },
    { name: 'blocked', action: 'deny', networks: ['10.6.6.0/24'] },
  ]);
  assert.equal(check('', '10.6.6.6', '/'), '403:blocked');
  assert.equal(check(PROD, '10.6.6.6', '/'), '403:blocked');
  assert.equal(check('', '10.6.7.1', '/'), 'allow');
});

test('only deny rules: anything they do not match passes', () => {
  const check = decide([{ name: 'no-admin', action: 'deny', paths: ['/admin'] }]);
  assert.equal(check('', '10.0.0.1', '/admin'), '403:no-admin');
  assert.equal(check('', '10.0.0.1', '/'), 'allow');
  assert.equal(check('', undefined, '/x'), 'allow');
});

test('no identity: 401 naming the rule that would allow it with one; 403 when no identity would help', () => {
  const check = decide([
    { name: 'frontend', identities: [PROD], paths: ['/api'] },
    { name: 'public', paths: ['/health'] },
    { name: 'blocked', action: 'deny', networks: ['10.6.6.0/24'] },
  ]);
  assert.equal(check('', '10.0.0.1', '/health'), 'allow');
  assert.equal(check('', '10.0.0.1', '/api/users'), '401:frontend');
  assert.equal(check('', '10.0.0.1', '/other'), `403:${DEFAULT_DENY}`, 'no rule would allow it with an identity');
  assert.equal(check('spiffe://example.org/ns/dev/sa/x', '10.0.0.1', '/api/users'), `403:${DEFAULT_DENY}`, 'a wrong identity is 403');
  assert.equal(check(PROD, '10.0.0.1', '/api/users'), 'allow');
  assert.equal(check('', '10.6.6.1', '/api/users'), '403:blocked', 'a matching deny rule stays 403');
});

test('a deny rule with identities never matches a client without one', () => {
  const check = decide([{ name: 'no-dev', action: 'deny', identities: ['spiffe://example.org/ns/dev/*'] }]);
  assert.equal(check('spiffe://example.org/ns/dev/sa/x', '10.0.0.1', '/'), '403:no-dev');
  assert.equal(check('', '10.0.0.1', '/'), 'allow');
});

test('the refusals name their rule and carry switchyard-error; they are made once', () => {
  const authz = compileAuthorization(rules([
    { name: 'frontend', identities: [PROD] },
    { name: 'blocked', action: 'deny', networks: ['10.6.6.0/24'] },
  ]));
  const deny = authz.check('', '10.6.6.1', '/')!;
  assert.equal(deny.kind, ProxyErrors.PERMISSION_DENIED);
  assert.equal(deny.response.httpBody.toString(), 'SWY_ERR_PERMISSION_DENIED: access denied by rule blocked\n');
  const h = deny.response.httpHeaders;
  assert.equal(h[h.indexOf('switchyard-error') + 1], 'SWY_ERR_PERMISSION_DENIED');
  assert.equal(h[h.indexOf(':status') + 1], '403');
  const g = deny.response.grpcHeaders;
  assert.equal(g[g.indexOf('grpc-status') + 1], '7');
  assert.equal(g[g.indexOf('switchyard-error') + 1], 'SWY_ERR_PERMISSION_DENIED');
  assert.equal(authz.check('', '10.6.6.2', '/x'), deny, 'the same object every time');

  const unauth = authz.check('', '10.0.0.1', '/')!;
  assert.equal(unauth.kind, ProxyErrors.UNAUTHENTICATED);
  assert.match(unauth.response.httpBody.toString(), /^SWY_ERR_UNAUTHENTICATED: .*rule frontend/);
  const u = unauth.response.grpcHeaders;
  assert.equal(u[u.indexOf('grpc-status') + 1], '16');
  assert.equal(unauth.response.httpHeaders[1], '401');
  assert.ok(!unauth.response.httpBody.toString().includes('10.0.0.1'), 'no client details in the answer');

  const dflt = authz.check('spiffe://example.org/ns/dev/sa/x', '10.0.0.1', '/')!;
  assert.equal(dflt.rule, DEFAULT_DENY);
  assert.match(dflt.response.httpBody.toString(), /default-deny/);
  assert.ok(!dflt.response.httpBody.toString().includes('ns/dev'), 'the client identity is not echoed');
});

test('the configuration rejects ambiguous rules', () => {
  const bad = (raw: unknown[], pattern: RegExp): void => {
    const r = authorizationSchema.safeParse(raw);
    assert.equal(r.success, false, JSON.stringify(raw));
    assert.match(JSON.stringify(r.error!.issues), pattern);
  };
  bad([{ name: 'a', networks: ['10.0.0.0/33'] }], /CIDR/);
  bad([{ name: 'a', networks: ['10.0.0/8'] }], /CIDR/);
  bad([{ name: 'a', networks: ['fe80::1%eth0/64'] }], /CIDR/);
  bad([{ name: 'a', networks: ['::/129'] }], /CIDR/);
  bad([{ name: 'a', identities: ['*.example.org'] }], /prefix ending in \/\*/);
  bad([{ name: 'a', identities: ['spiffe://example.org/*/sa/x'] }], /prefix ending in \/\*/);
  bad([{ name: 'a', paths: ['/x'] }, { name: 'a', paths: ['/y'] }], /already defined/);
  bad([{ name: 'default-deny', paths: ['/x'] }], /implicit last rule/);
  assert.ok(authorizationSchema.safeParse([{ name: 'a', networks: ['::ffff:10.0.0.0/104', '2001:db8::/32', '0.0.0.0/0'] }]).success);
});

test('a tcp listener cannot have authorization rules: they would never be enforced', () => {
  assert.throws(
    () => parseConfig({
      admin: { enabled: false },
      listeners: [{ name: 't', listen: '127.0.0.1:0', protocol: 'tcp', service: 's', authorization: [{ name: 'a', networks: ['10.0.0.0/8'] }] }],
      services: [{ name: 's', endpoints: ['127.0.0.1:1'] }],
    }, 'test'),
    (e: { issues: { path: string; message: string }[] }) => e.issues.some((i) => i.path === 'listeners[0].authorization' && /HTTP requests/.test(i.message)),
  );
});
