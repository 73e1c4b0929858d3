import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsDiscoverySchema } from '../../src/config/discovery-schema.js';
import { DnsSource, splitWeights, type DnsSourceOptions, type DnsTimer } from '../../src/discovery/dns-source.js';
import type { DiscoveredEndpoint, DiscoverySink } from '../../src/discovery/types.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

type SinkEvent = { kind: 'update'; endpoints: readonly DiscoveredEndpoint[] } | { kind: 'error'; message: string };

/** A sink that records every call and lets a test wait for the next one. */
class RecordingSink implements DiscoverySink {
  readonly events: SinkEvent[] = [];
  private read = 0;
  private wake: (() => void) | undefined;
  update(endpoints: readonly DiscoveredEndpoint[]): void {
    this.push({ kind: 'update', endpoints });
  }
  error(message: string): void {
    this.push({ kind: 'error', message });
  }
  get updates(): number {
    return this.events.filter((e) => e.kind === 'update').length;
  }
  get errors(): number {
    return this.events.filter((e) => e.kind === 'error').length;
  }
  /** The next call not yet returned by next(); fails the test after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<SinkEvent> {
    if (this.read >= this.events.length) {
      let timer: NodeJS.Timeout | undefined;
      // A referenced timer: the source's own timers are unref'd and would not keep the test alive.
      await new Promise<void>((resolve, reject) => {
        this.wake = resolve;
        timer = setTimeout(() => reject(new Error(`no sink call within ${timeoutMs} ms`)), timeoutMs);
      }).finally(() => {
        clearTimeout(timer);
        this.wake = undefined;
      });
    }
    return this.events[this.read++]!;
  }
  async nextUpdate(): Promise<readonly DiscoveredEndpoint[]> {
    const e = await this.next();
    assert.equal(e.kind, 'update', `expected an update, got ${JSON.stringify(e)}`);
    return (e as { endpoints: readonly DiscoveredEndpoint[] }).endpoints;
  }
  async nextError(): Promise<string> {
    const e = await this.next();
    assert.equal(e.kind, 'error', `expected an error, got ${JSON.stringify(e)}`);
    return (e as { message: string }).message;
  }
  private push(e: SinkEvent): void {
    this.events.push(e);
    this.wake?.();
  }
}

/** Timers the test fires by hand, recording the delay each was asked for. */
class ManualTimers {
  readonly delays: number[] = [];
  private pending: { fn: () => void; cancelled: boolean } | undefined;
  readonly setTimer: NonNullable<DnsSourceOptions['setTimer']> = (delayMs, fn): DnsTimer => {
    const t = { fn, cancelled: false };
    this.delays.push(delayMs);
    this.pending = t;
    return { cancel: () => (t.cancelled = true) };
  };
  get lastDelay(): number | undefined {
    return this.delays[this.delays.length - 1];
  }
  fire(): void {
    const t = this.pending;
    assert.ok(t !== undefined && !t.cancelled, 'a resolution is scheduled');
    this.pending = undefined;
    t.fn();
  }
}

function source(dns: TestDnsServer, raw: Record<string, unknown>, options?: DnsSourceOptions): DnsSource {
  return new DnsSource(dnsDiscoverySchema.parse({ servers: [dns.address], timeout: '300ms', ...raw }), options);
}

function hosts(endpoints: readonly DiscoveredEndpoint[]): string[] {
  return endpoints.map((e) => `${e.address.host}:${e.address.port}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withServer(fn: (dns: TestDnsServer) => Promise<void>): Promise<void> {
  const dns = await startDnsServer();
  try {
    await fn(dns);
  } finally {
    await dns.close();
  }
}

test('describes what it resolves and through which servers', () => {
  const a = new DnsSource(dnsDiscoverySchema.parse({ name: 'api.internal', port: 8080 }));
  assert.equal(a.kind, 'dns');
  assert.equal(a.description, 'dns api.internal:8080');
  const b = new DnsSource(dnsDiscoverySchema.parse({ srv: '_grpc._tcp.api.internal', servers: ['127.0.0.1:5353', '[::1]:53'] }));
  assert.equal(b.description, 'dns srv _grpc._tcp.api.internal via 127.0.0.1:5353, [::1]:53');
  assert.throws(() => new DnsSource(dnsDiscoverySchema.parse({ name: 'a.test', port: 1, servers: ['ns.test:53'] })), /must be an IP address/);
});

test('A records: every address with the port, and a change is followed at the TTL, not the interval', () =>
  withServer(async (dns) => {
    dns.setAddresses('svc.test', 'A', ['10.0.0.2', '10.0.0.1'], 0);
    // TTL 0 is clamped up to minTtl (50 ms); the interval (1 min) would be far too slow.
    const src = source(dns, { name: 'svc.test', port: 8080, minTtl: '50ms', interval: '1m' });
    const sink = new RecordingSink();
    const started = Date.now();
    src.start(sink);
    try {
      const first = await sink.nextUpdate();
      assert.deepEqual(first, [
        { address: { host: '10.0.0.1', port: 8080 }, weight: 1, ready: true, serving: true, terminating: false, name: 'svc.test' },
        { address: { host: '10.0.0.2', port: 8080 }, weight: 1, ready: true, serving: true, terminating: false, name: 'svc.test' },
      ]);
      // Unchanged answers are not passed on.
      await dns.waitForQueries('svc.test', 'A', 4);
      assert.equal(sink.events.length, 1);
      dns.setAddresses('svc.test', 'A', ['10.0.0.3', '10.0.0.2'], 0);
      const changedAt = Date.now();
      const second = await sink.nextUpdate();
      const took = Date.now() - changedAt;
      assert.deepEqual(hosts(second), ['10.0.0.2:8080', '10.0.0.3:8080']);
      assert.ok(took < 1000, `followed within ${took} ms`);
      // Queries are paced by minTtl: at most one per 50 ms (plus the first).
      const elapsed = Date.now() - started;
      assert.ok(dns.queries('svc.test', 'A') <= elapsed / 50 + 2, `${dns.queries('svc.test', 'A')} queries in ${elapsed} ms`);
      // family any asks AAAA as well; its NODATA is fine while A answers.
      assert.ok(dns.queries('svc.test', 'AAAA') >= 1);
      assert.equal(sink.errors, 0);
    } finally {
      src.stop();
    }
  }));

test('AAAA records for family ipv6, and both families for any (IPv4 first)', () =>
  withServer(async (dns) => {
    dns.setAddresses('v6.test', 'AAAA', ['fd00::2', 'fd00::1'], 30);
    dns.setAddresses('v6.test', 'A', ['10.0.0.9'], 30);
    const v6 = source(dns, { name: 'v6.test', port: 443, family: 'ipv6' });
    const sink6 = new RecordingSink();
    v6.start(sink6);
    const both = source(dns, { name: 'v6.test', port: 443 });
    const sinkAny = new RecordingSink();
    both.start(sinkAny);
    try {
      assert.deepEqual(hosts(await sink6.nextUpdate()), ['fd00::1:443', 'fd00::2:443']);
      assert.deepEqual(hosts(await sinkAny.nextUpdate()), ['10.0.0.9:443', 'fd00::1:443', 'fd00::2:443']);
      assert.equal(dns.queries('v6.test', 'A'), 1, 'family ipv6 asks no A question');
      // A failed AAAA question fails the attempt: taking the A answer alone would drop every IPv6 endpoint.
      dns.fault('v6.test', 'servfail', 'AAAA');
      const timers = new ManualTimers();
      const partial = source(dns, { name: 'v6.test', port: 443 }, { setTimer: timers.setTimer });
      const sinkPartial = new RecordingSink();
      partial.start(sinkPartial);
      assert.equal(await sinkPartial.nextError(), `dns v6.test: server failure (ESERVFAIL) from ${dns.address}`);
      partial.stop();
    } finally {
      v6.stop();
      both.stop();
    }
  }));

test('SRV: the lowest priority group with addresses, weights from the records, ports from the records', () =>
  withServer(async (dns) => {
    dns.setSrv('_grpc._tcp.svc.test', [
      { priority: 10, weight: 30, port: 9001, target: 'a.svc.test' },
      { priority: 10, weight: 10, port: 9002, target: 'b.svc.test' },
      { priority: 20, weight: 50, port: 9003, target: 'c.svc.test' },
    ]);
    dns.setAddresses('a.svc.test', 'A', ['10.0.1.1'], 0);
    dns.setAddresses('b.svc.test', 'A', ['10.0.1.2'], 0);
    dns.setAddresses('c.svc.test', 'A', ['10.0.1.3'], 0);
    const src = source(dns, { srv: '_grpc._tcp.svc.test', family: 'ipv4', minTtl: '20ms', interval: '20ms' });
    const sink = new RecordingSink();
    src.start(sink);
    try {
      const first = await sink.nextUpdate();
      assert.deepEqual(first.map((e) => [e.address.host, e.address.port, e.weight, e.name]), [
        ['10.0.1.1', 9001, 30, 'a.svc.test'],
        ['10.0.1.2', 9002, 10, 'b.svc.test'],
      ]);
      assert.equal(dns.queries('c.svc.test', 'A'), 0, 'the backup group is not resolved while the first has addresses');
      // The whole first group loses its addresses: the backup group takes over.
      dns.remove('a.svc.test');
      dns.setAddresses('b.svc.test', 'A', [], 0);
      const second = await sink.nextUpdate();
      assert.deepEqual(second.map((e) => [e.address.host, e.address.port, e.weight, e.name]), [['10.0.1.3', 9003, 50, 'c.svc.test']]);
      assert.equal(sink.errors, 0);
    } finally {
      src.stop();
    }
  }));

test('SRV weights: split across a target\'s addresses, 0 raised to 1, scaled into 1..1000', () => {
  assert.deepEqual(splitWeights([{ weight: 0, count: 1 }, { weight: 10, count: 1 }]), [1, 10]);
  assert.deepEqual(splitWeights([{ weight: 0, count: 1 }, { weight: 0, count: 1 }]), [1, 1]);
  assert.deepEqual(splitWeights([{ weight: 4, count: 2 }, { weight: 2, count: 1 }]), [2, 2]);
  assert.deepEqual(splitWeights([{ weight: 3, count: 2 }, { weight: 1, count: 1 }]), [1000, 667]);
  assert.deepEqual(splitWeights([{ weight: 65535, count: 1 }, { weight: 6553, count: 1 }, { weight: 1, count: 1 }]), [1000, 100, 1]);
});

test('SERVFAIL: one error per attempt naming name, cause and server; the last set stays; recovery updates', () =>
  withServer(async (dns) => {
    dns.setAddresses('svc.test', 'A', ['10.0.0.1'], 0);
    const src = source(dns, { name: 'svc.test', port: 80, family: 'ipv4', minTtl: '20ms', interval: '30ms' });
    const sink = new RecordingSink();
    src.start(sink);
    try {
      const before = await sink.nextUpdate();
      dns.fault('svc.test', 'servfail');
      const message = await sink.nextError();
      assert.equal(message, `dns svc.test: server failure (ESERVFAIL) from ${dns.address}`);
      const queries = dns.queries('svc.test', 'A');
      await sink.nextError();
      assert.equal(dns.queries('svc.test', 'A'), queries + 1, 'one error per attempt');
      dns.fault('svc.test', undefined);
      // Same set as before the failures, and still passed on: it says the source recovered.
      assert.deepEqual(await sink.nextUpdate(), before);
      assert.equal(sink.updates, 2);
    } finally {
      src.stop();
    }
  }));

test('a server that does not answer: a timeout error, then recovery', () =>
  withServer(async (dns) => {
    dns.setAddresses('svc.test', 'A', ['10.0.0.1'], 0);
    dns.fault('svc.test', 'timeout');
    const src = source(dns, { name: 'svc.test', port: 80, family: 'ipv4', timeout: '100ms', interval: '50ms', minTtl: '20ms' });
    const sink = new RecordingSink();
    const started = Date.now();
    src.start(sink);
    try {
      assert.equal(await sink.nextError(), `dns svc.test: no answer within 100 ms (ETIMEOUT) from ${dns.address}`);
      assert.ok(Date.now() - started >= 90, 'the error comes after the timeout');
      dns.fault('svc.test', undefined);
      assert.deepEqual(hosts(await sink.nextUpdate()), ['10.0.0.1:80']);
    } finally {
      src.stop();
    }
  }));

test('NXDOMAIN, empty answers and refused connections are errors that keep the last set', () =>
  withServer(async (dns) => {
    dns.setAddresses('svc.test', 'A', ['10.0.0.1'], 0);
    const src = source(dns, { name: 'svc.test', port: 80, minTtl: '20ms', interval: '20ms' });
    const sink = new RecordingSink();
    src.start(sink);
    try {
      await sink.nextUpdate();
      dns.remove('svc.test');
      assert.equal(await sink.nextError(), `dns svc.test: no such name (NXDOMAIN, ENOTFOUND) from ${dns.address}`);
      dns.setAddresses('svc.test', 'A', [], 0);
      let message = await sink.nextError();
      while (message.includes('NXDOMAIN')) message = await sink.nextError();
      assert.equal(message, `dns svc.test: no A or AAAA records (ENODATA) from ${dns.address}`);
      assert.equal(sink.updates, 1);
    } finally {
      src.stop();
    }
    // Nothing listens on port 1: ICMP port unreachable.
    const refused = new DnsSource(dnsDiscoverySchema.parse({ name: 'svc.test', port: 80, family: 'ipv4', servers: ['127.0.0.1:1'] }));
    const sink2 = new RecordingSink();
    refused.start(sink2);
    try {
      assert.match(await sink2.nextError(), /^dns svc\.test: connection refused \(ECONNREFUSED\) from 127\.0\.0\.1:1$/);
    } finally {
      refused.stop();
    }
  }));

test('the next resolution comes at the shortest TTL clamped to [minTtl, maxTtl]; interval after failures and for SRV', () =>
  withServer(async (dns) => {
    const timers = new ManualTimers();
    const src = source(dns, { name: 'svc.test', port: 80, family: 'ipv4', minTtl: '2s', maxTtl: '10s', interval: '7s' }, { setTimer: timers.setTimer });
    const sink = new RecordingSink();
    dns.setAddresses('svc.test', 'A', ['10.0.0.1'], 5);
    src.start(sink);
    try {
      await sink.nextUpdate();
      assert.equal(timers.lastDelay, 5000, 'TTL 5 s');
      dns.setAddresses('svc.test', 'A', ['10.0.0.1', '10.0.0.2'], 0);
      timers.fire();
      await sink.nextUpdate();
      assert.equal(timers.lastDelay, 2000, 'TTL 0 raised to minTtl');
      dns.setAddresses('svc.test', 'A', ['10.0.0.1'], 86400);
      timers.fire();
      await sink.nextUpdate();
      assert.equal(timers.lastDelay, 10_000, 'a day lowered to maxTtl');
      dns.fault('svc.test', 'servfail');
      timers.fire();
      await sink.nextError();
      assert.equal(timers.lastDelay, 7000, 'interval after a failure');
    } finally {
      src.stop();
    }
    const srvTimers = new ManualTimers();
    dns.setSrv('_h._tcp.svc.test', [{ priority: 1, weight: 1, port: 81, target: 'a.svc.test' }], 60);
    dns.setAddresses('a.svc.test', 'A', ['10.0.0.5'], 3);
    const srv = source(dns, { srv: '_h._tcp.svc.test', family: 'ipv4', minTtl: '1s', interval: '7s' }, { setTimer: srvTimers.setTimer });
    const srvSink = new RecordingSink();
    srv.start(srvSink);
    try {
      await srvSink.nextUpdate();
      assert.equal(srvTimers.lastDelay, 3000, 'the targets\' address TTL when shorter than the interval');
      dns.setAddresses('a.svc.test', 'A', ['10.0.0.6'], 300);
      srvTimers.fire();
      assert.deepEqual(hosts(await srvSink.nextUpdate()), ['10.0.0.6:81']);
      assert.equal(srvTimers.lastDelay, 7000, 'SRV records carry no TTL here: the interval bounds it');
    } finally {
      srv.stop();
    }
  }));

test('stop(): no sink call and no query after it, even for a query in flight', () =>
  withServer(async (dns) => {
    dns.setAddresses('svc.test', 'A', ['10.0.0.1'], 0);
    const src = source(dns, { name: 'svc.test', port: 80, family: 'ipv4', minTtl: '10ms', interval: '10ms', timeout: '100ms' });
    const sink = new RecordingSink();
    src.start(sink);
    await sink.nextUpdate();
    // A query in flight when stop() comes: its (timeout) answer must not reach the sink.
    dns.fault('svc.test', 'timeout');
    const asked = dns.queries('svc.test', 'A');
    await dns.waitForQueries('svc.test', 'A', asked + 1);
    src.stop();
    const queries = dns.queries('svc.test', 'A');
    const calls = sink.events.length;
    dns.fault('svc.test', undefined);
    dns.setAddresses('svc.test', 'A', ['10.0.0.2'], 0);
    // Ten resolution periods and more than the timeout.
    await sleep(150);
    assert.equal(dns.queries('svc.test', 'A'), queries);
    assert.equal(sink.events.length, calls);
  }));
