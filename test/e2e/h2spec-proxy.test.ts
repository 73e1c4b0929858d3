import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startEngineServer } from '../../bench/servers/engine-server.js';
import { H2SPEC, failures, runH2spec } from '../helpers/h2spec.js';
import { startProxy, waitReady } from '../helpers/proxy-harness.js';

for (const protocol of ['auto', 'http2'] as const) {
  test(`h2spec: the proxy's ${protocol} listener passes all 146 cases`, { skip: existsSync(H2SPEC) ? false : `h2spec not found at ${H2SPEC}` }, async (t) => {
    const backend = await startEngineServer(0);
    const p = await startProxy({
      listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol, service: 'web' }],
      services: [{ name: 'web', endpoints: [`127.0.0.1:${(backend.address() as AddressInfo).port}`] }],
    });
    t.after(async () => {
      await p.stop();
      backend.close();
    });
    await waitReady(p);
    const r = await runH2spec(p.port());
    assert.equal(r.failed, 0, failures(r));
    assert.equal(r.passed, 146);
  });
}
