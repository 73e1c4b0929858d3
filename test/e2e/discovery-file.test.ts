/**
 * File discovery under live traffic: the endpoint file is replaced by atomic
 * rename (what editors, `mv` and ConfigMap volumes do) while requests flow
 * through one long-lived proxy. Nothing fails, a removed endpoint gets no new
 * request, its in-flight request finishes there, and a broken file keeps the
 * last good set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSession, connect, h2Request, startH2Backend, startProxy, type H2Backend } from '../helpers/proxy-harness.js';
import { startH1Backend, type H1Backend } from '../helpers/h1-peers.js';
import { waitFor } from '../helpers/wait.js';


/** Writes the file the way `mv` and editors replace it: a new inode renamed over the old one. */
function replaceFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.hrtime.bigint()}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

test('file discovery: atomic replacement under load loses nothing, drains the removed endpoint, and a broken file keeps the last set', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-file-discovery-'));
  const file = join(dir, 'web.yaml');
  let releaseSlow: () => void = () => {};
  const slowHeld = new Promise<void>((r) => (releaseSlow = r));
  let slowArrived = false;
  // Backend a holds /slow until the test lets it go: an in-flight request at the moment a is removed.
  const slowHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, b: H2Backend): void => {
    stream.on('error', () => {});
    stream.resume();
    const answer = (): void => {
      if (!stream.destroyed) {
        stream.respond({ ':status': 200, 'x-backend': b.name });
        stream.end(`hello from ${b.name}\n`);
      }
    };
    if (headers[':path'] === '/slow') {
      slowArrived = true;
      void slowHeld.then(answer);
    } else stream.on('end', answer);
  };
  const a = await startH2Backend('a', { handler: slowHandler });
  const b = await startH2Backend('b');
  const c = await startH2Backend('c');
  const at = (x: H2Backend): string => `127.0.0.1:${x.port}`;
  writeFileSync(file, `- ${at(a)}\n`);
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', discovery: { file }, drainTimeout: '20s' }],
  });
  const session = await connect(p.port());
  t.after(async () => {
    releaseSlow();
    await closeSession(session).catch(() => {});
    await p.stop();
    await Promise.all([a.close(), b.close(), c.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  const svc = p.proxy.services.get('web')!;
  await waitFor(() => svc.endpoints.length === 1 && svc.hasPickable, 'the first set from the file');

  // Steady traffic through one client connection, 8 requests at a time, until told to stop.
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const byBackend = new Map<string, number>();
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        const r = await h2Request(session, { ':method': 'GET', ':path': '/' });
        if (r.status === 200) {
          ok++;
          const name = String(r.headers['x-backend']);
          byBackend.set(name, (byBackend.get(name) ?? 0) + 1);
        } else failures.push(`status ${r.status}: ${r.body.toString()}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  };
  const workers = Array.from({ length: 8 }, worker);

  const slow = h2Request(session, { ':method': 'GET', ':path': '/slow' });
  await waitFor(() => slowArrived, 'the slow request to reach a');

  replaceFile(file, `- ${at(a)}\n- { address: ${at(b)}, weight: 1 }\n`);
  await waitFor(() => b.requests > 20, 'b to take traffic');

  replaceFile(file, `[${at(b)}, ${at(c)}]\n`);
  await waitFor(() => !svc.endpoints.some((e) => e.port === a.port), 'a to leave the set');
  const aAtRemoval = a.requests;
  assert.equal(svc.draining.size, 1, 'a drains');
  await waitFor(() => c.requests > 20, 'c to take traffic');
  const okBefore = ok;
  await waitFor(() => ok > okBefore + 300, 'more traffic after the removal', 10_000);
  assert.equal(a.requests, aAtRemoval, 'no new request reached the removed endpoint');

  // The request in flight on a when it left finishes there.
  releaseSlow();
  const slowAnswer = await slow;
  assert.equal(slowAnswer.status, 200);
  assert.equal(slowAnswer.headers['x-backend'], 'a');
  await waitFor(() => svc.draining.size === 0, 'a to finish draining');
  await waitFor(() => a.sessions > 0 && [...svc.endpoints].every((e) => e.port !== a.port), 'a forgotten');

  // A broken file: the last good set stays, the source says where and why, traffic goes on.
  replaceFile(file, `- ${at(b)}\n- { address: ${at(c)}, weight: many }\n`);
  await waitFor(() => svc.discovery?.healthy === false, 'the broken file to be noticed');
  assert.match(svc.discovery!.lastError, new RegExp(`^file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} line 2: \\[1\\]\\.weight: `));
  assert.deepEqual(svc.endpoints.map((e) => e.port).sort(), [b.port, c.port].sort());
  const okBroken = ok;
  await waitFor(() => ok > okBroken + 100, 'traffic with the last good set');

  // Fixed again: the source recovers by itself.
  replaceFile(file, `- ${at(c)}\n`);
  await waitFor(() => svc.discovery?.healthy === true && svc.endpoints.length === 1, 'the fixed file');
  stop = true;
  await Promise.all(workers);
  assert.deepEqual(failures, [], 'no request failed across the changes');
  assert.ok(ok > 500, `${ok} requests`);
  assert.ok((byBackend.get('b') ?? 0) > 0 && (byBackend.get('c') ?? 0) > 0);
  await waitFor(() => svc.draining.size === 0, 'b to finish draining');
  // End state: nothing in flight anywhere.
  for (const e of svc.endpoints) assert.equal(e.load.pending, 0);
});

test('file discovery, HTTP/1.1 endpoints: a removed endpoint finishes its in-flight request and then its connections close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-file-discovery-h1-'));
  const file = join(dir, 'web.yaml');
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  let heldArrived = false;
  const handler = (name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    req.resume();
    if (req.url === '/hold') {
      heldArrived = true;
      void held.then(() => res.end(`held by ${name}\n`));
    } else res.end(`hello from ${name}\n`);
  };
  const a = await startH1Backend(handler('a'));
  const b = await startH1Backend(handler('b'));
  const at = (x: H1Backend): string => `127.0.0.1:${x.port}`;
  writeFileSync(file, `- ${at(a)}\n`);
  const p = await startProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', protocol: 'http1', discovery: { file }, drainTimeout: '20s' }],
  });
  const session = await connect(p.port());
  let openToA = 0;
  a.server.on('connection', (sock) => {
    openToA++;
    sock.on('close', () => openToA--);
  });
  t.after(async () => {
    release();
    await closeSession(session).catch(() => {});
    await p.stop();
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  const svc = p.proxy.services.get('web')!;
  await waitFor(() => svc.hasPickable, 'the first set');
  const slow = h2Request(session, { ':method': 'GET', ':path': '/hold' });
  await waitFor(() => heldArrived, 'the held request at a');
  replaceFile(file, `- ${at(b)}\n`);
  await waitFor(() => svc.draining.size === 1, 'a to drain');
  const aRequests = a.requests;
  for (let i = 0; i < 20; i++) {
    const r = await h2Request(session, { ':method': 'GET', ':path': '/' });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello from b\n');
  }
  assert.equal(a.requests, aRequests, 'nothing new reached a');
  release();
  const r = await slow;
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'held by a\n');
  await waitFor(() => svc.draining.size === 0, 'the drain to end');
  await waitFor(() => openToA === 0, 'the connections to a to close');
});
