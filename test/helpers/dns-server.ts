/**
 * A real DNS server on 127.0.0.1 (UDP, ephemeral port) for discovery tests.
 * It answers A, AAAA and SRV questions from a record table the test edits
 * while it runs, can be told to fail a name (SERVFAIL) or to ignore it (the
 * client times out), says NXDOMAIN for names it does not know and NODATA for
 * known names without records of the asked type, and counts the questions
 * per name and type so a test can bound how often a client asks.
 *
 * Answers stay far below 512 octets, so clients never need the TCP fallback
 * (RFC 1035 section 4.2.1: UDP messages up to 512 octets).
 */
import dgram from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import dnsPacket from 'dns-packet';

export type TestRecordType = 'A' | 'AAAA' | 'SRV';

export interface TestSrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** What the server does with questions for a name instead of answering them. */
export type TestDnsFault = 'servfail' | 'timeout' | 'refused';

interface RecordSet {
  ttl: number;
  /** IP addresses (A/AAAA) or SRV data. */
  data: readonly (string | TestSrvRecord)[];
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

export class TestDnsServer extends EventEmitter {
  readonly host = '127.0.0.1';
  port = 0;
  private readonly socket = dgram.createSocket('udp4');
  private readonly records = new Map<string, Map<TestRecordType, RecordSet>>();
  private readonly faults = new Map<string, TestDnsFault>();
  private readonly counts = new Map<string, number>();

  /** `127.0.0.1:port`, the form `discovery.dns.servers` takes. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async start(): Promise<this> {
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.bind(0, this.host);
    await once(this.socket, 'listening');
    this.port = this.socket.address().port;
    return this;
  }

  /** Replaces the A or AAAA records of `name` (an empty list: the name exists without them). */
  setAddresses(name: string, type: 'A' | 'AAAA', addresses: readonly string[], ttl = 0): void {
    this.table(name).set(type, { ttl, data: [...addresses] });
  }

  /** Replaces the SRV records of `name`. */
  setSrv(name: string, records: readonly TestSrvRecord[], ttl = 0): void {
    this.table(name).set('SRV', { ttl, data: records.map((r) => ({ ...r })) });
  }

  /** Forgets every record of `name`: it answers NXDOMAIN from now on. */
  remove(name: string): void {
    this.records.delete(key(name));
  }

  /** Makes questions for `name` (of `type`, or of any type) fail as told; undefined: answer again. */
  fault(name: string, fault: TestDnsFault | undefined, type?: TestRecordType): void {
    const k = type === undefined ? key(name) : `${key(name)} ${type}`;
    if (fault === undefined) this.faults.delete(k);
    else this.faults.set(k, fault);
  }

  /** Questions received for `name` and `type` so far (answered or not). */
  queries(name: string, type: TestRecordType): number {
    return this.counts.get(`${key(name)} ${type}`) ?? 0;
  }

  /** Resolves once the count of questions for `name`/`type` reaches `count`. */
  async waitForQueries(name: string, type: TestRecordType, count: number): Promise<void> {
    while (this.queries(name, type) < count) await once(this, 'query');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private table(name: string): Map<TestRecordType, RecordSet> {
    let t = this.records.get(key(name));
    if (t === undefined) {
      t = new Map();
      this.records.set(key(name), t);
    }
    return t;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (query.type !== 'query' || q === undefined) return;
    const name = key(q.name);
    const k = `${name} ${q.type}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    const fault = this.faults.get(k) ?? this.faults.get(name);
    let rcode: number = RCODE.NOERROR;
    const answers: dnsPacket.Answer[] = [];
    if (fault === 'timeout') {
      this.emit('query', q.name, q.type);
      return;
    } else if (fault === 'servfail') {
      rcode = RCODE.SERVFAIL;
    } else if (fault === 'refused') {
      rcode = RCODE.REFUSED;
    } else {
      const table = this.records.get(name);
      if (table === undefined) rcode = RCODE.NXDOMAIN;
      else {
        const set = table.get(q.type as TestRecordType);
        for (const data of set?.data ?? []) {
          if (typeof data === 'string') answers.push({ type: q.type as 'A' | 'AAAA', name: q.name, ttl: set!.ttl, data });
          else answers.push({ type: 'SRV', name: q.name, ttl: set!.ttl, data });
        }
      }
    }
    const rd = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    const reply = dnsPacket.encode({
      id: query.id ?? 0,
      type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | rd | rcode,
      // The question goes back exactly as asked: resolvers match it against theirs.
      questions: [q],
      answers,
    });
    this.socket.send(reply, rinfo.port, rinfo.address, () => this.emit('query', q.name, q.type));
  }
}

function key(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export async function startDnsServer(): Promise<TestDnsServer> {
  return new TestDnsServer().start();
}
