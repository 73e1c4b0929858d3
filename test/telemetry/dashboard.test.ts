import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeSession, connect, h2Request, startH2Backend, waitReady } from '../helpers/proxy-harness.js';
import { startTelemetryProxy } from './harness.js';

// Functions below run in the page, where document exists.
declare const document: any;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve('test-artifacts');

test('dashboard: loads without console errors and its numbers move under traffic', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium)` }, async (t) => {
  const { chromium } = await import('playwright-core');
  const backends = await Promise.all(['a', 'b', 'c'].map((n) => startH2Backend(n, { delayMs: n === 'c' ? 5 : 0 })));
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', balancer: 'round-robin', endpoints: backends.map((b) => `127.0.0.1:${b.port}`) }],
  });
  const profile = mkdtempSync(path.join(tmpdir(), 'swy-chromium-'));
  // A fresh profile directory for every run.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  let traffic: Promise<void> | undefined;
  let stopTraffic = false;
  t.after(async () => {
    stopTraffic = true;
    await traffic;
    await browser.close();
    await p.stop();
    for (const b of backends) await b.close();
    rmSync(profile, { recursive: true, force: true });
  });
  await waitReady({ proxy: p.proxy } as never);

  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${p.adminUrl}/dashboard`);
  await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'live');
  // The topology is drawn before any traffic: every endpoint is a node of the graph.
  await page.waitForFunction(() => document.querySelectorAll('#graph rect').length === 1 + 1 + 3 + 1);
  const before = await page.textContent('#total-requests');
  assert.equal(before, '0');

  // Traffic until the test ends; the page must show it without a reload.
  const s = await connect(p.port());
  traffic = (async () => {
    while (!stopTraffic) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => h2Request(s, { ':path': `/item/${i % 3}` }).catch(() => {})));
      await new Promise((r) => setTimeout(r, 10));
    }
    await closeSession(s).catch(() => {});
  })();
  await page.waitForFunction(() => Number(document.getElementById('total-requests')?.textContent) >= 100);
  await page.waitForFunction(() => Number(document.getElementById('total-rps')?.textContent) > 0);
  const firstRequests = Number(await page.textContent('#total-requests'));
  // Numbers keep moving: a later poll shows more requests, and the charts have points.
  await page.waitForFunction((n) => Number(document.getElementById('total-requests')?.textContent) > n, firstRequests);
  await page.waitForFunction(() => document.querySelector('#chart-rps polyline') !== null);
  // Services → endpoints table with a share bar for each endpoint.
  const rows = await page.$$eval('#services tbody tr.ep', (trs: any[]) => trs.map((tr) => Array.from(tr.children as ArrayLike<any>).map((td) => String(td.textContent ?? ''))));
  assert.equal(rows.length, 3);
  for (const r of rows) {
    assert.match(r[0]!, /^127\.0\.0\.1:\d+$/);
    assert.equal(r[1], 'ready');
    assert.match(r[8]!, /\d+%/);
  }
  // The live tap shows requests.
  await page.waitForFunction(() => document.querySelectorAll('#tap tbody tr').length > 0);
  const tapRow = await page.textContent('#tap tbody tr');
  assert.match(tapRow ?? '', /\/item\/\d/);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('dashboard: a discovered service shows its source, a failing source raises an alert, and new endpoints appear live', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium)` }, async (t) => {
  const { chromium } = await import('playwright-core');
  const backends = await Promise.all(['a', 'b'].map((n) => startH2Backend(n)));
  const dir = mkdtempSync(path.join(tmpdir(), 'swy-dash-discovery-'));
  const file = path.join(dir, 'web.yaml');
  const replace = (text: string): void => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  replace(`- 127.0.0.1:${backends[0]!.port}\n`);
  const p = await startTelemetryProxy({
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', discovery: { file } }],
  });
  const profile = mkdtempSync(path.join(tmpdir(), 'swy-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => {
    await browser.close();
    await p.stop();
    for (const b of backends) await b.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${p.adminUrl}/dashboard`);
  await page.waitForFunction(() => /file: ok, updated \d+ s ago/.test(document.querySelector('#services tbody tr.svc')?.textContent ?? ''));
  await page.waitForFunction(() => document.querySelectorAll('#services tbody tr.ep').length === 1);

  // A second endpoint in the file: a new row without a reload.
  replace(`- 127.0.0.1:${backends[0]!.port}\n- 127.0.0.1:${backends[1]!.port}\n`);
  await page.waitForFunction(() => document.querySelectorAll('#services tbody tr.ep').length === 2);

  // A broken file: the source reads as failing, an alert says why, both endpoints stay.
  replace('- 127.0.0.1:notaport\n');
  await page.waitForFunction(() => /file: failing/.test(document.querySelector('#services tbody tr.svc')?.textContent ?? ''));
  const alert = await page.textContent('#alerts');
  assert.match(alert ?? '', /^web: file .*web\.yaml failed \(keeping the last endpoint set\): file .*web\.yaml line 1: \[0\]\.address: /);
  assert.equal(await page.$$eval('#services tbody tr.ep', (trs: any[]) => trs.length), 2);
  assert.deepEqual(problems, []);
});
