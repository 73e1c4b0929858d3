import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, renameSync } from 'node:fs';
import https from 'node:https';
import type http2 from 'node:http2';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { parseConfig } from '../../src/config/index.js';
import { defaultPolicies } from '../../src/policy/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { h2Get, h2Session, listenerPki } from '../helpers/listener-tls.js';
import { startH2Backend, waitReady } from '../helpers/proxy-harness.js';

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

test('certificate files replaced under load: no request fails, handshakes after the reload present the new certificate, open connections carry on', async (t) => {
  const pki = listenerPki();
  const backend = await startH2Backend('b');
  const cert = join(pki.pki.dir, 'live.crt');
  const key = join(pki.pki.dir, 'live.key');
  copyFileSync(pki.server.cert, cert);
  copyFileSync(pki.server.key, key);
  let reloaded = false;
  let resolveReload: () => void = () => {};
  const reload = new Promise<void>((r) => (resolveReload = r));
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web', tls: { cert, key, clientCa: pki.ca.cert } }],
    services: [{ name: 'web', endpoints: [`127.0.0.1:${backend.port}`] }],
  }, 'test');
  const proxy = new Proxy(config, {
    policies: defaultPolicies,
    tlsPollInterval: 50,
    tlsEvents: {
      reloaded: () => {
        reloaded = true;
        resolveReload();
      },
      reloadFailed: (_l, _s, message) => assert.fail(message),
    },
  });
  await proxy.start();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const sessions: http2.ClientHttp2Session[] = [];
  t.after(async () => {
    for (const s of sessions) s.destroy();
    agent.destroy();
    await proxy.stop(100);
    await backend.close();
    pki.cleanup();
  });
  await waitReady({ proxy } as never);
  const port = proxy.listeners[0]!.address.port;
  const o = { ca: pki.ca.certPem, client: pki.client };
  const oldSerial = serialOf(pki.server.certPem);

  let stop = false;
  const failures: string[] = [];
  let served = 0;
  let servedAfterReload = 0;
  const count = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
    else {
      served++;
      if (reloaded) servedAfterReload++;
    }
  };

  // Connections opened before the rotation, kept busy through it: three HTTP/2 and one HTTP/1.1 keep-alive.
  const long = await Promise.all([0, 1, 2].map(() => h2Session(port, o)));
  sessions.push(...long);
  const perSessionAfter = long.map(() => 0);
  const h2Loop = async (s: http2.ClientHttp2Session, i: number): Promise<void> => {
    while (!stop) {
      try {
        const r = await h2Get(s, '/long');
        count(r.status === 200, `long h2 status ${r.status}`);
        if (reloaded) perSessionAfter[i]!++;
      } catch (e) {
        count(false, `long h2: ${(e as Error).message}`);
      }
    }
  };
  let h1Socket: TLSSocket | undefined;
  const h1Loop = async (): Promise<void> => {
    while (!stop) {
      const status = await new Promise<number>((resolve) => {
        const req = https.get({ host: '127.0.0.1', port, path: '/h1', ca: o.ca, cert: o.client.certPem, key: o.client.keyPem, agent }, (res) => {
          h1Socket ??= res.socket as TLSSocket;
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', (e) => {
          failures.push(`h1: ${e.message}`);
          resolve(-1);
        });
      });
      count(status === 200, `h1 status ${status}`);
    }
  };

  // New connections all along: each one handshakes, sends a request, and notes the certificate it was shown.
  const fresh: { afterReload: boolean; serial: string }[] = [];
  const freshLoop = async (): Promise<void> => {
    while (!stop) {
      const afterReload = reloaded;
      try {
        const s = await h2Session(port, o);
        const serial = (s.socket as TLSSocket).getPeerCertificate().serialNumber;
        const r = await h2Get(s, '/fresh');
        count(r.status === 200, `fresh status ${r.status}`);
        fresh.push({ afterReload, serial });
        s.close();
      } catch (e) {
        count(false, `fresh: ${(e as Error).message}`);
      }
    }
  };

  const loops = [...long.map((s, i) => h2Loop(s, i)), h1Loop(), freshLoop(), freshLoop()];
  const until = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cond(), 'load did not progress');
  };
  await until(() => served >= 100 && fresh.length >= 5);

  // The rotation, as cert-manager or a kubelet secret volume does it: new files renamed into place.
  const next = pki.ca.issue('server2', { dns: ['localhost'], ip: ['127.0.0.1'] });
  copyFileSync(next.key, `${key}.tmp`);
  copyFileSync(next.cert, `${cert}.tmp`);
  renameSync(`${key}.tmp`, key);
  renameSync(`${cert}.tmp`, cert);
  await reload;
  await until(() => fresh.filter((f) => f.afterReload).length >= 10 && perSessionAfter.every((n) => n >= 20) && servedAfterReload >= 150);
  stop = true;
  await Promise.all(loops);

  assert.deepEqual(failures, []);
  const before = fresh.filter((f) => !f.afterReload);
  const after = fresh.filter((f) => f.afterReload);
  assert.ok(before.length >= 5);
  assert.ok(before.slice(0, 5).every((f) => f.serial === oldSerial));
  assert.deepEqual(new Set(after.map((f) => f.serial)), new Set([serialOf(next.certPem)]), 'every handshake after the reload shows the new certificate');
  // The connections opened before still run on the certificate they were shown, and served requests after the reload.
  for (const s of long) assert.equal((s.socket as TLSSocket).getPeerCertificate().serialNumber, oldSerial);
  assert.equal(h1Socket?.getPeerCertificate().serialNumber, oldSerial);
  assert.ok(!h1Socket.destroyed, 'the HTTP/1.1 keep-alive connection is still open');
  assert.equal(proxy.listeners[0]!.tls!.handshakes.failed, 0);
});
