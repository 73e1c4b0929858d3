import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { CertificateRegistry, recordConfiguredCertificates } from '../../src/security/certificate-expiry.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';
import { testPki } from '../helpers/test-pki.js';

const HOUR = 3_600_000;

function recorder() {
  const lines: Array<{ level: string; msg: string; obj: Record<string, unknown> }> = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { log: { warn: at('warn'), error: at('error') }, lines };
}

test('a warning once a certificate enters the expiryWarning window, an error once it has expired, each once; a replacement starts over', (t) => {
  const registry = new CertificateRegistry();
  t.after(() => registry.reset());
  let now = 1_000_000_000_000;
  const { log, lines } = recorder();
  registry.set('listener', 'edge', now + 10 * HOUR);
  registry.set('identity', 'spiffe://example.org/gw', now + 24 * HOUR);
  registry.watch({ log, warningMs: 6 * HOUR, now: () => now });
  assert.equal(lines.length, 0);

  now += 4 * HOUR + 1; // edge: just under 6 h left
  registry.check();
  registry.check();
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.obj.kind, l.obj.name]), [['warn', 'certificate expires soon', 'listener', 'edge']]);
  assert.equal(lines[0]!.obj.secondsLeft, 6 * 3600);

  now += 6 * HOUR; // edge expired
  registry.check();
  registry.check();
  assert.deepEqual(lines.slice(1).map((l) => [l.level, l.msg, l.obj.name]), [['error', 'certificate expired', 'edge']]);

  // A replaced certificate is tracked afresh: nothing to say about a new one, a warning again when it nears its end.
  registry.set('listener', 'edge', now + 7 * HOUR);
  registry.check();
  assert.equal(lines.length, 2);
  now += 2 * HOUR;
  registry.check();
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.level, 'warn');
  // Recording a certificate that is already inside the window warns at once.
  registry.set('service', 'api', now + HOUR);
  assert.equal(lines.length, 4);
  assert.equal(lines[3]!.obj.kind, 'service');
});

test('switchyard_certificate_expiry_seconds gives the seconds left for each recorded certificate', async (t) => {
  const registry = new CertificateRegistry();
  t.after(() => registry.reset());
  const now = Date.now();
  registry.set('identity', 'spiffe://example.org/gw', now + 24 * HOUR);
  registry.set('listener', 'edge', now - 60_000);
  const telemetry = new Telemetry({ processMetrics: false, certificates: registry });
  t.after(() => telemetry.close());
  const text = await telemetry.metrics();
  const value = (kind: string, name: string): number => {
    const m = new RegExp(`^switchyard_certificate_expiry_seconds\\{kind="${kind}",name="${name.replace(/[/.]/g, '\\$&')}"\\} (-?\\d+)$`, 'm').exec(text);
    assert.ok(m, text);
    return Number(m[1]);
  };
  assert.ok(Math.abs(value('identity', 'spiffe://example.org/gw') - 24 * 3600) <= 2);
  assert.ok(Math.abs(value('listener', 'edge') + 60) <= 2);
  assert.match(text, /# TYPE switchyard_certificate_expiry_seconds gauge/);
});

test('every certificate file the configuration names is recorded at start (a bundle by its earliest expiry)', (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('root');
  const short = ca.issue('short', { dns: ['edge.local'] }, { days: 1 });
  const long = ca.issue('long', { dns: ['api.local'] }, { days: 5 });
  const bundle = `${pki.dir}/bundle.crt`;
  writeFileSync(bundle, short.certPem + long.certPem);
  const registry = new CertificateRegistry();
  recordConfiguredCertificates(
    {
      listeners: [{ name: 'edge', tls: { cert: short.cert, clientCa: ca.cert, sni: [{ serverNames: ['api.local'], cert: long.cert }] } }, { name: 'plain' }],
      services: [{ name: 'api', tls: { cert: long.cert, ca: bundle } }, { name: 'missing', tls: { ca: `${pki.dir}/nope.crt` } }],
      identity: { trustAnchor: ca.cert, issuer: { cert: ca.cert } },
    },
    registry,
  );
  const got = Object.fromEntries(registry.list().map((e) => [`${e.kind} ${e.name}`, Math.round((e.notAfter - Date.now()) / 86_400_000)]));
  assert.deepEqual(got, {
    'listener edge': 1,
    'client-ca edge': 30,
    'listener-sni edge/api.local': 5,
    'service api': 5,
    'service-ca api': 1,
    [`trust-anchor ${ca.cert}`]: 30,
    [`issuer ${ca.cert}`]: 30,
  });
});
