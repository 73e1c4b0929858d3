import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { closeSession, connect, h2Request, startProxy, waitReady } from '../helpers/proxy-harness.js';
import { findExecutable } from '../helpers/h1-peers.js';
import { testPki } from '../helpers/test-pki.js';
import { startNginxTls } from '../helpers/tls-peers.js';

const nginx = findExecutable('nginx');
const skip = nginx === undefined ? 'nginx is not installed' : false;

test('nginx as a TLS + HTTP/2 upstream that requires a client certificate: served with ours, refused without it', { skip }, async (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('mesh');
  const other = pki.ca('foreign');
  const server = ca.issue('nginx', { dns: ['nginx.internal'] });
  const client = ca.issue('proxy', { uri: ['spiffe://test.example/ns/edge/sa/proxy'] });
  const stranger = other.issue('stranger', { uri: ['spiffe://test.example/ns/edge/sa/proxy'] });
  // nginx checks the client certificate per request, after the handshake: a
  // missing or untrusted one gets 400 from it (its own 496/495 codes).
  const ng = await startNginxTls(nginx!, server, `        ssl_client_certificate ${ca.cert};
        ssl_verify_client on;
        location / {
            add_header x-client-serial $ssl_client_serial always;
            add_header x-client-verify $ssl_client_verify always;
            add_header x-alpn $ssl_alpn_protocol always;
            return 200 "ok";
        }`);
  t.after(() => ng.stop());

  const serve = async (tls: Record<string, unknown>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => {
    const p = await startProxy({
      listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'nginx' }],
      services: [{ name: 'nginx', endpoints: [`127.0.0.1:${ng.port}`], tls }],
    });
    try {
      await waitReady(p);
      const session = await connect(p.port());
      const r = await h2Request(session, { ':path': '/' });
      await closeSession(session);
      return { status: r.status, headers: r.headers, body: r.body.toString() };
    } finally {
      await p.stop();
    }
  };

  const ok = await serve({ ca: ca.cert, cert: client.cert, key: client.key, serverName: 'nginx.internal' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ok');
  assert.equal(ok.headers['x-client-verify'], 'SUCCESS');
  assert.equal(ok.headers['x-alpn'], 'h2', 'HTTP/2 was agreed by ALPN');
  assert.equal(String(ok.headers['x-client-serial']).toUpperCase(), new X509Certificate(client.certPem).serialNumber.toUpperCase(), 'nginx saw our certificate');

  const without = await serve({ ca: ca.cert, serverName: 'nginx.internal' });
  assert.equal(without.status, 400);
  assert.match(without.body, /No required SSL certificate was sent/);

  const untrusted = await serve({ ca: ca.cert, cert: stranger.cert, key: stranger.key, serverName: 'nginx.internal' });
  assert.equal(untrusted.status, 400);
  assert.match(untrusted.body, /The SSL certificate error/);
});
