import { test } from 'node:test';
import assert from 'node:assert/strict';
import { have, run } from '../helpers/external-tools.js';
import { listenerPki, type ListenerPki } from '../helpers/listener-tls.js';
import { startH2Backend, startProxy, waitReady, type H2Backend, type RunningProxy } from '../helpers/proxy-harness.js';

const hasCurl = await have('curl');
const skip = hasCurl ? false : 'curl is not installed';

interface Curl {
  code: number;
  status: string;
  version: string;
  body: string;
}

async function curl(args: string[], url: string): Promise<Curl> {
  const r = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code} %{http_version}', ...args, url], 15_000);
  const out = r.stdout.toString();
  const nl = out.lastIndexOf('\n');
  const [status, version] = out.slice(nl + 1).split(' ');
  return { code: r.code, status: status!, version: version!, body: out.slice(0, nl) };
}

async function setup(t: import('node:test').TestContext, tls: (pki: ListenerPki) => Record<string, unknown>): Promise<{ pki: ListenerPki; p: RunningProxy; backend: H2Backend; url: string; http: string }> {
  const pki = listenerPki();
  const backend = await startH2Backend('b', {
    handler: (stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(`${String(headers[':scheme'])} ${String(headers[':path'])}\n`);
    },
  });
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'auto', service: 'web', tls: tls(pki) }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  t.after(async () => {
    await p.stop();
    await backend.close();
    pki.cleanup();
  });
  await waitReady(p);
  return { pki, p, backend, url: `https://127.0.0.1:${p.port()}`, http: `http://127.0.0.1:${p.port()}` };
}

test('curl --http2 and --http1.1 over mTLS through an auto listener; another CA, no certificate and plaintext are refused while the others keep being served', { skip }, async (t) => {
  const { pki, p, backend, url, http } = await setup(t, (k) => ({ cert: k.server.cert, key: k.server.key, clientCa: k.ca.cert }));
  const mtls = ['--cacert', pki.ca.cert, '--cert', pki.client.cert, '--key', pki.client.key];

  const h2 = await curl(['--http2', ...mtls], `${url}/two`);
  assert.deepEqual(h2, { code: 0, status: '200', version: '2', body: 'https /two\n' });
  const h1 = await curl(['--http1.1', ...mtls], `${url}/one`);
  assert.deepEqual(h1, { code: 0, status: '200', version: '1.1', body: 'https /one\n' });

  // Refusals interleaved with served requests.
  const results = await Promise.all([
    curl(['--http2', '--cacert', pki.ca.cert, '--cert', pki.rogueClient.cert, '--key', pki.rogueClient.key], `${url}/rogue`),
    curl(['--http2', ...mtls], `${url}/a`),
    curl(['--http2', '--cacert', pki.ca.cert], `${url}/anonymous`),
    curl(['--http1.1', ...mtls], `${url}/b`),
    curl(['--http2-prior-knowledge'], `${http}/h2c`),
    curl(['--http1.1'], `${http}/plain`),
    curl(['--http2', ...mtls], `${url}/c`),
  ]);
  const [rogue, a, anonymous, b, h2c, plain, c] = results;
  for (const r of [rogue!, anonymous!, h2c!]) {
    assert.notEqual(r.code, 0);
    assert.equal(r.status, '000');
  }
  assert.equal(plain!.status, '400');
  assert.equal(plain!.body, 'this port requires TLS\n');
  for (const [r, path] of [[a!, '/a'], [b!, '/b'], [c!, '/c']] as const) assert.deepEqual([r.status, r.body], ['200', `https ${path}\n`]);
  assert.equal(backend.requests, 5, 'nothing refused reached the backend');
  const h = p.proxy.listeners[0]!.tls!.handshakes;
  assert.equal(h.client_cert_refused, 2);
  assert.equal(h.plaintext_refused, 2);
  assert.equal(h.ok, 5);
});

test('curl over TLS without clientCa: https with either protocol, and plaintext still served on the same auto port', { skip }, async (t) => {
  const { pki, url, http } = await setup(t, (k) => ({ cert: k.server.cert, key: k.server.key }));
  assert.deepEqual(await curl(['--http2', '--cacert', pki.ca.cert], `${url}/x`), { code: 0, status: '200', version: '2', body: 'https /x\n' });
  assert.deepEqual(await curl(['--http1.1', '--cacert', pki.ca.cert], `${url}/y`), { code: 0, status: '200', version: '1.1', body: 'https /y\n' });
  assert.deepEqual(await curl(['--http2-prior-knowledge'], `${http}/z`), { code: 0, status: '200', version: '2', body: 'http /z\n' });
  // TLS 1.2 only on the client still meets the default minVersion; TLS 1.1 does not.
  assert.equal((await curl(['--tlsv1.2', '--tls-max', '1.2', '--cacert', pki.ca.cert], `${url}/v`)).status, '200');
  assert.notEqual((await curl(['--tlsv1.1', '--tls-max', '1.1', '--cacert', pki.ca.cert], `${url}/w`)).code, 0);
});
