import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startEngineServer } from '../../bench/servers/engine-server.js';
import { H2SPEC, failures, runH2spec } from '../helpers/h2spec.js';
import { listenerPki } from '../helpers/listener-tls.js';
import { startProxy, waitReady } from '../helpers/proxy-harness.js';

for (const protocol of ['auto', 'http2'] as const) {
  test(`h2spec over TLS (ALPN h2): the proxy's ${protocol} listener with tls passes all 146 cases`, { skip: existsSync(H2SPEC) ? false : `h2spec not found at ${H2SPEC}` }, async (t) => {
    const pki = listenerPki();
    const backend = await startEngineServer(0);
    const p = await startProxy({
      listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol, service: 'web', tls: { cert: pki.server.cert, key: pki.server.key } }],
      services: [{ name: 'web', endpoints: [`127.0.0.1:${(backend.address() as AddressInfo).port}`] }],
    });
    t.after(async () => {
      await p.stop();
      backend.close();
      pki.cleanup();
    });
    await waitReady(p);
    const r = await runH2spec(p.port(), { tls: true });
    assert.equal(r.failed, 0, failures(r));
    assert.equal(r.passed, 146);
    assert.ok(p.proxy.listeners[0]!.tls!.handshakes.ok >= 146, 'every case ran over TLS');
  });
}
