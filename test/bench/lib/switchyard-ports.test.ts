import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startSwitchyard } from '../../../bench/lib/switchyard.js';
import { testPki } from '../../helpers/test-pki.js';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('bench Switchyard with --workers 2 and a plain and a TLS listener on port 0: the ports come from its "listening" lines and accept', async (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const cert = pki.ca('ca').issue('server', { ip: ['127.0.0.1'] });
  const held = net.createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
  t.after(() => held.close());
  const backend = (held.address() as net.AddressInfo).port;
  const sy = await startSwitchyard({
    port: 0,
    extraArgs: ['--workers', '2'],
    configYaml: [
      'admin: { enabled: false }',
      'listeners:',
      '  - { name: plain, listen: "127.0.0.1:0", protocol: http2, service: s }',
      `  - { name: tls, listen: "127.0.0.1:0", protocol: http2, service: s, tls: { cert: "${cert.cert}", key: "${cert.key}" } }`,
      'services:',
      `  - { name: s, endpoints: ["127.0.0.1:${backend}"] }`,
      '',
    ].join('\n'),
  });
  t.after(() => sy.stop());
  assert.equal(sy.ports.length, 2);
  assert.ok(sy.ports.every((p) => p > 0) && sy.ports[0] !== sy.ports[1], String(sy.ports));
  assert.equal(sy.port, sy.ports[0]);
  for (const p of sy.ports) assert.ok(await accepts(p), `port ${p} accepts`);
});
