/**
 * Real clients against the PROXY's listeners (auto, http2 and http1), through
 * to a backend on the engine (test/helpers/engine-test-server.ts): curl with
 * HTTP/2 prior knowledge and HTTP/1.1, nghttp and h2load. Bodies are seeded
 * and checked by sha256 both ways.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededBytes, sha256 } from '../helpers/engine-frames.js';
import { startEngineTestServer, type EngineTestServer } from '../helpers/engine-test-server.js';
import { startProxy, waitReady, type RunningProxy } from '../helpers/proxy-harness.js';
import { have, run } from '../helpers/external-tools.js';

let backend: EngineTestServer;
let proxy: RunningProxy;
let tmp: string;

before(async () => {
  backend = await startEngineTestServer();
  proxy = await startProxy({
    listeners: [
      { name: 'auto', listen: '127.0.0.1:0', protocol: 'auto', service: 'engine' },
      { name: 'h2', listen: '127.0.0.1:0', protocol: 'http2', service: 'engine' },
      { name: 'h1', listen: '127.0.0.1:0', protocol: 'http1', service: 'engine' },
    ],
    services: [{ name: 'engine', endpoints: [`127.0.0.1:${backend.port}`] }],
  });
  await waitReady(proxy);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-interop-'));
});

after(async () => {
  await proxy?.stop();
  await backend?.close();
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});


/** After every client: nothing left in flight in the proxy. */
function assertQuiet(): void {
  const s = proxy.proxy.services.get('engine')!;
  assert.equal(s.inflight, 0);
  for (const ep of s.endpoints) assert.equal(ep.load.pending, 0);
}

function upload(name: string, size: number, seed: number): { file: string; body: Buffer } {
  const body = seededBytes(size, seed);
  const file = path.join(tmp, name);
  fs.writeFileSync(file, body);
  return { file, body };
}

// ------------------------------------------------------------------ curl

for (const [mode, flag, listeners] of [
  ['HTTP/2 prior knowledge', '--http2-prior-knowledge', ['auto', 'h2']],
  ['HTTP/1.1', '--http1.1', ['auto', 'h1']],
] as const) {
  test(`curl ${flag} through the ${listeners.join(' and ')} listeners: a seeded 3 MiB download, 2 MiB uploads echoed`, { timeout: 120_000 }, async (t) => {
    if (!(await have('curl'))) return t.skip('curl is not installed');
    const size = 3 * 1024 * 1024 + 17;
    const { file, body } = upload(`curl-${flag}.bin`, 2 * 1024 * 1024 + 5, 8);
    for (const l of listeners) {
      const base = `http://127.0.0.1:${proxy.port(l)}`;
      const got = await run('curl', ['-sS', '--fail', flag, `${base}/download?size=${size}&seed=7`]);
      assert.equal(got.code, 0, `${mode} via ${l}: ${got.stderr}`);
      assert.equal(got.stdout.length, size);
      assert.equal(sha256(got.stdout), sha256(seededBytes(size, 7)), `${mode} via ${l}: download body`);
      for (const route of ['buffered-echo', 'echo']) {
        const posted = await run('curl', [
          '-sS', '--fail', flag, '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`, `${base}/${route}`,
        ]);
        assert.equal(posted.code, 0, `${mode} via ${l} /${route}: ${posted.stderr}`);
        assert.equal(sha256(posted.stdout), sha256(body), `${mode} via ${l}: /${route} body`);
      }
      assertQuiet();
    }
  });
}

// ------------------------------------------------------------------ nghttp

test('nghttp -nv GET and nghttp -d uploads through the auto and http2 listeners', { timeout: 120_000 }, async (t) => {
  if (!(await have('nghttp'))) return t.skip('nghttp is not installed');
  const { file, body } = upload('nghttp-upload.bin', 1_500_000, 4);
  for (const l of ['auto', 'h2']) {
    const base = `http://127.0.0.1:${proxy.port(l)}`;
    const v = await run('nghttp', ['-nv', `${base}/download?size=300000&seed=3`]);
    assert.equal(v.code, 0, v.stderr);
    const out = v.stdout.toString();
    assert.match(out, /recv HEADERS frame/);
    assert.match(out, /:status: 200/);
    assert.match(out, /recv DATA frame <length=\d+, flags=0x01, stream_id=\d+>/);
    assert.doesNotMatch(out, /GOAWAY.*error_code=(?!NO_ERROR)/);
    assert.doesNotMatch(out, /RST_STREAM/);
    const got = await run('nghttp', [`${base}/download?size=300000&seed=3`]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(sha256(got.stdout), sha256(seededBytes(300_000, 3)));
    for (const route of ['buffered-echo', 'echo']) {
      const up = await run('nghttp', ['-d', file, `${base}/${route}`]);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(sha256(up.stdout), sha256(body), `via ${l}: /${route} body`);
    }
    assertQuiet();
  }
});

// ------------------------------------------------------------------ h2load

test('h2load -n 2000 -c 4 -m 10 through the proxy: 2000 succeeded, 0 errored', { timeout: 120_000 }, async (t) => {
  if (!(await have('h2load'))) return t.skip('h2load is not installed');
  for (const l of ['auto', 'h2']) {
    const r = await run('h2load', ['-n', '2000', '-c', '4', '-m', '10', `http://127.0.0.1:${proxy.port(l)}/`]);
    const out = r.stdout.toString();
    assert.equal(r.code, 0, out + r.stderr);
    assert.match(out, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/, `via ${l}: ${out}`);
    assert.match(out, /status codes: 2000 2xx/);
    assertQuiet();
  }
});

test('h2load --h1 -n 2000 -c 4 through the auto and http1 listeners: 2000 succeeded, 0 errored', { timeout: 120_000 }, async (t) => {
  if (!(await have('h2load'))) return t.skip('h2load is not installed');
  for (const l of ['auto', 'h1']) {
    const r = await run('h2load', ['--h1', '-n', '2000', '-c', '4', `http://127.0.0.1:${proxy.port(l)}/`]);
    const out = r.stdout.toString();
    assert.equal(r.code, 0, out + r.stderr);
    assert.match(out, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/, `via ${l}: ${out}`);
    assert.match(out, /status codes: 2000 2xx/);
    assertQuiet();
  }
});
