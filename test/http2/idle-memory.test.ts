import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectEngine, engineRequest, get } from '../helpers/engine-client.js';
import { startEngineTestServer } from '../helpers/engine-test-server.js';
import { waitFor } from '../helpers/wait.js';
import { TICK_INTERVAL_MS } from '../../src/http2/ticker.js';

test('idle connections give their write slabs back on both sides, and take a new one for the next request', async () => {
  const server = await startEngineTestServer();
  const client = connectEngine(server.port);
  try {
    await client.settings;
    const first = await engineRequest(client.conn, get('/download?size=200000&seed=3'));
    assert.equal(first.status, 200);
    assert.equal(first.length, 200000);
    const [serverConn] = [...server.connections];
    assert.ok(serverConn !== undefined);
    assert.ok(client.conn.writer.slab.length > 0 && serverConn.writer.slab.length > 0);
    // Two ticks without a write: the first one notes the position, the second releases.
    await waitFor(
      () => client.conn.writer.slab.length === 0 && serverConn.writer.slab.length === 0,
      'slabs released',
      TICK_INTERVAL_MS * 8,
    );
    const second = await engineRequest(client.conn, get('/download?size=200000&seed=3'));
    assert.equal(second.status, 200);
    assert.equal(second.sha, first.sha);
    assert.equal(client.conn.recvLeaked, 0);
    assert.equal(serverConn.queuedBytes, 0);
  } finally {
    client.conn.destroy();
    await server.close();
  }
});
