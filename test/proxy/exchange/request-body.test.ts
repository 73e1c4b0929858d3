import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestBody } from '../../../src/proxy/exchange/request-body.js';

const chunk = (n: number, fill = 0x61): Buffer => Buffer.alloc(n, fill);

test('a request without a body keeps nothing and owes nothing', () => {
  const b = new RequestBody();
  b.ended = true;
  assert.equal(b.hasPending, false);
  assert.equal(b.takePending(), null);
  assert.equal(b.replayBody.length, 0);
  assert.equal(b.rewind(), true, 'an empty body can always be sent again');
  assert.equal(b.takePending(), null);
  assert.equal(b.credit(0), 0);
});

test('a resend carries the kept octets ahead of those still held, and the client is credited for each octet once', () => {
  const b = new RequestBody(1000);
  let credited = 0;
  // First attempt: 300 octets go up and are taken by the endpoint.
  const first = [chunk(100), chunk(200)];
  for (const d of first) b.keep(d);
  b.sent(300);
  credited += b.credit(300);
  // 50 more arrive while there is no upstream.
  const later = chunk(50, 0x62);
  b.hold(later);
  // The endpoint did not process it (REFUSED_STREAM): send again.
  assert.equal(b.rewind(), true);
  const resend = b.takePending()!;
  assert.deepEqual(resend, [...first, later]);
  // The new upstream takes all 350: only the 50 new ones are owed to the client.
  for (const d of resend) b.keep(d);
  b.sent(350);
  credited += b.credit(350);
  assert.equal(credited, 350);
  assert.equal(b.credit(10), 10, 'nothing left to skip');
});

test('past the limit of octets sent, the body can no longer be resent; octets only queued do not count', () => {
  const b = new RequestBody(100);
  b.keep(chunk(80));
  b.keep(chunk(80));
  // 160 octets handed over but only 60 left for the endpoint (its window): still replayable.
  b.sent(60);
  assert.equal(b.replayable, true);
  assert.equal(b.replayBody.length, 2);
  b.sent(60);
  assert.equal(b.replayable, false);
  assert.equal(b.replayBody.length, 0);
  assert.equal(b.rewind(), false);
  b.keep(chunk(10));
  assert.equal(b.replayBody.length, 0, 'nothing is kept any more');
});

test('octets still queued on a winning hedge are skipped: the client had its credit from the first attempt', () => {
  const b = new RequestBody();
  b.keep(chunk(500));
  assert.equal(b.credit(500), 500);
  b.skipCredit(200);
  assert.equal(b.credit(150), 0);
  assert.equal(b.credit(100), 50);
});

test('octets held when the exchange ends are all credited back', () => {
  const b = new RequestBody();
  b.hold(chunk(30));
  b.hold(chunk(12));
  assert.equal(b.dropPending(), 42);
  assert.equal(b.dropPending(), 0);
});
