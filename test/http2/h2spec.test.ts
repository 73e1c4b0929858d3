import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startEngineServer } from '../../bench/servers/engine-server.js';
import { H2SPEC, failures, runH2spec } from '../helpers/h2spec.js';

test('h2spec: the bare engine server passes all 146 cases', { skip: existsSync(H2SPEC) ? false : `h2spec not found at ${H2SPEC} (set H2SPEC)` }, async (t) => {
  const server = await startEngineServer(0);
  t.after(() => server.close());
  const r = await runH2spec((server.address() as AddressInfo).port);
  assert.equal(r.failed, 0, failures(r));
  assert.equal(r.skipped, 0);
  assert.equal(r.passed, 146);
});
