import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startCli } from '../helpers/cli-process.js';
import { testPki } from '../helpers/test-pki.js';

const CLI = path.resolve('dist/src/cli/main.js');

test('switchyard run: a listener certificate that cannot be read is named on stderr, without a stack trace, and the exit code is 1', async (t) => {
  const pki = testPki();
  t.after(() => pki.cleanup());
  const ca = pki.ca('ca');
  const missing = path.join(pki.dir, 'missing.crt');
  const file = path.join(pki.dir, 'config.json');
  writeFileSync(file, JSON.stringify({
    admin: { enabled: false },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web', tls: { cert: missing, key: ca.key } }],
    services: [{ name: 'web', endpoints: ['127.0.0.1:1'] }],
  }));
  const r = await new Promise<{ code: number; stderr: string; stdout: string }>((resolve) => {
    execFile(process.execPath, [CLI, 'run', '--config', file], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number((err as NodeJS.ErrnoException).code), stderr, stdout }));
  });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `listeners[0].tls.cert ${missing}: cannot read: no such file\n`);
  assert.doesNotMatch(r.stdout, /listening/);
});

test('switchyard run logs a replaced listener certificate, and an unusable replacement as an error that keeps the old one', async (t) => {
  const pki = testPki();
  const ca = pki.ca('ca');
  const first = ca.issue('first', { ip: ['127.0.0.1'] });
  const second = ca.issue('second', { dns: ['second.test'], ip: ['127.0.0.1'] });
  const cert = path.join(pki.dir, 'live.crt');
  const key = path.join(pki.dir, 'live.key');
  copyFileSync(first.cert, cert);
  copyFileSync(first.key, key);
  const cli = await startCli({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', service: 'web', tls: { cert, key } }],
    services: [{ name: 'web', endpoints: ['127.0.0.1:1'] }],
  });
  t.after(() => {
    cli.kill();
    pki.cleanup();
  });
  copyFileSync(second.key, `${key}.tmp`);
  copyFileSync(second.cert, `${cert}.tmp`);
  renameSync(`${key}.tmp`, key);
  renameSync(`${cert}.tmp`, cert);
  const reloaded = await cli.waitLog('certificate reloaded');
  assert.equal(reloaded.listener, 'edge');
  assert.equal(reloaded.setting, 'listeners[0].tls');
  assert.equal(reloaded.identity, 'second.test');
  writeFileSync(`${cert}.tmp`, 'garbage');
  renameSync(`${cert}.tmp`, cert);
  const failed = await cli.waitLog('certificate not reloaded; the previous one stays in use');
  assert.equal(failed.level, 50);
  assert.match(String(failed.error), /^listeners\[0\]\.tls\.cert .*live\.crt: not a PEM certificate/);
});
