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

test('a connection writing one small request at a time keeps a 4 KiB write slab; a batch of many frames grows it; referenced DATA does not', async () => {
  const server = await startEngineTestServer();
  const client = connectEngine(server.port);
  try {
    await client.settings;
    for (let i = 0; i < 40; i++) {
      const r = await engineRequest(client.conn, get(`/download?size=10&seed=${i}`));
      assert.equal(r.status, 200);
    }
    const [serverConn] = [...server.connections];
    assert.ok(serverConn !== undefined);
    assert.equal(client.conn.writer.slab.length, 4 * 1024);
    assert.equal(serverConn.writer.slab.length, 4 * 1024);
    // Responses of 1 MB: their DATA payloads are referenced, not copied, so
    // the server's slab carries only frame headers and stays small.
    for (let i = 0; i < 4; i++) {
      const r = await engineRequest(client.conn, get('/download?size=1000000&seed=5'));
      assert.equal(r.length, 1000000);
    }
    assert.ok(serverConn.writer.slab.length <= 8 * 1024, `server slab ${serverConn.writer.slab.length}`);
    // 100 requests started in one turn go out in one batch of HEADERS frames.
    const many = [];
    for (let i = 0; i < 100; i++) many.push(engineRequest(client.conn, get(`/download?size=10&seed=${i}&pad=${'x'.repeat(100)}`)));
    for (const r of await Promise.all(many)) assert.equal(r.status, 200);
    assert.ok(client.conn.writer.slab.length > 4 * 1024, `client slab ${client.conn.writer.slab.length}`);
    assert.ok(client.conn.writer.slab.length <= 64 * 1024);
    assert.equal(client.conn.recvLeaked, 0);
  } finally {
    client.conn.destroy();
    await server.close();
  }
});
