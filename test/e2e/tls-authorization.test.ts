import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_ID, h2Get, h2Session, httpsGet, listenerPki } from '../helpers/listener-tls.js';
import { connect, h2Request, startH2Backend, startProxy, waitReady } from '../helpers/proxy-harness.js';

test('authorization sees the identity of the TLS client: its SPIFFE ID is allowed, another is refused (403), a plaintext client has none (401)', async (t) => {
  const pki = listenerPki();
  const other = pki.ca.issue('batch', { uri: ['spiffe://example.org/ns/prod/sa/batch'] });
  const backend = await startH2Backend('b');
  const rules = [{ name: 'frontend', identities: [CLIENT_ID] }];
  const p = await startProxy({
    listeners: [
      { name: 'mtls', listen: '127.0.0.1:0', service: 'web', tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert }, authorization: rules },
      // Permissive: TLS without clientCa, plaintext allowed; no client certificates, so no identity.
      { name: 'open', listen: '127.0.0.1:0', service: 'web', tls: { cert: pki.server.cert, key: pki.server.key }, authorization: rules },
    ],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
    pki.cleanup();
  });
  await waitReady(p);
  const o = { ca: pki.ca.certPem };
  const s = await h2Session(p.port('mtls'), { ...o, client: pki.client });
  assert.equal((await h2Get(s, '/')).status, 200);
  s.close();
  assert.equal((await httpsGet(p.port('mtls'), '/', { ...o, client: pki.client })).status, 200);
  const b = await h2Session(p.port('mtls'), { ...o, client: other });
  assert.equal((await h2Get(b, '/')).status, 403);
  b.close();
  assert.equal((await httpsGet(p.port('mtls'), '/', { ...o, client: other })).status, 403);
  const plain = await connect(p.port('open'));
  assert.equal((await h2Request(plain, { ':path': '/' })).status, 401);
  plain.close();
  assert.equal((await httpsGet(p.port('open'), '/', o)).status, 401);
  assert.equal(backend.requests, 2);
});
