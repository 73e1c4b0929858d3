import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import test from 'node:test';

/**
 * Resident memory: quick mode parses no YAML, logs without pino and renders
 * /metrics without prom-client until scraped. A static import of one of them
 * on the run command's path would cost several MiB (npm run bench:memory --
 * --modules) and nothing else would notice.
 */
test('loading the run command loads neither yaml, nor pino, nor prom-client, nor undici', () => {
  const run = new URL('../../src/cli/run.js', import.meta.url).href;
  const script = `
    const { createRequire } = await import('node:module');
    await import(${JSON.stringify(run)});
    const packages = new Set(Object.keys(createRequire(import.meta.url).cache).map((k) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(k)?.[1]).filter(Boolean));
    console.log(JSON.stringify([...packages]));`;
  const packages = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  for (const p of ['yaml', 'pino', 'prom-client', 'undici']) assert.ok(!packages.includes(p), `${p} is loaded: ${packages.join(', ')}`);
});

/**
 * node:http2 (~1.5 MiB resident) serves only HTTP/2 and gRPC health checks:
 * the proxy's own engine handles traffic, so the run command must not load it.
 */
test('loading the run command does not load node:http2', () => {
  const run = new URL('../../src/cli/run.js', import.meta.url).href;
  const script = `await import(${JSON.stringify(run)}); console.log(JSON.stringify(process.moduleLoadList));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  assert.ok(loaded.includes('NativeModule net'), 'the module list names built-in modules');
  // From Node 24 node:http loads node:http2 itself; the check is about what the run command adds.
  const base = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', "await import('node:http'); console.log(JSON.stringify(process.moduleLoadList));"], { encoding: 'utf8' }),
  ) as string[];
  if (base.includes('NativeModule http2')) return;
  assert.ok(!loaded.includes('NativeModule http2'), 'node:http2 is loaded');
});
