/**
 * HPACK micro-benchmark: ns per encode / decode of a typical gRPC request
 * header list with persistent dynamic tables (steady state after warmup).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/hpack.js
 */
import { HpackDecoder, HpackEncoder } from '../src/http2/hpack/index.js';

const TIMEOUTS = ['100m', '99m', '98m', '250m', '1S', '4999u', '30S', '1200m'];

function headers(timeout: string): string[] {
  return [
    ':method', 'POST',
    ':scheme', 'http',
    ':path', '/pkg.Svc/Method',
    ':authority', 'backend.internal:50051',
    'content-type', 'application/grpc',
    'te', 'trailers',
    'grpc-timeout', timeout,
    'user-agent', 'grpc-node-js/1.14.7',
  ];
}

function bench(label: string, iterations: number, fn: (i: number) => void): void {
  for (let i = 0; i < iterations; i++) fn(i); // warmup
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn(i);
    const ns = Number(process.hrtime.bigint() - t0) / iterations;
    if (ns < best) best = ns;
  }
  console.log(`${label.padEnd(44)} ${best.toFixed(1).padStart(8)} ns/op`);
}

const N = 1_000_000;
const lists = TIMEOUTS.map(headers);
let sink = 0;

// Encode: same list every time, and with a varying grpc-timeout value.
{
  const enc = new HpackEncoder();
  const fixed = lists[0]!;
  bench('encode (identical list)', N, () => {
    sink += enc.encode(fixed).length;
  });
  bench('encode (varying grpc-timeout)', N, (i) => {
    sink += enc.encode(lists[i & 7]!).length;
  });
}

// Decode: steady-state blocks (no table insertions), persistent table.
{
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const first = Buffer.from(enc.encode(lists[0]!));
  dec.decode(first, 0, first.length, []);
  const blocks = lists.map((l) => Buffer.from(enc.encode(l)));
  // Sanity check: every steady-state block decodes to its list.
  for (let k = 0; k < blocks.length; k++) {
    const out: string[] = [];
    dec.decode(blocks[k]!, 0, blocks[k]!.length, out);
    if (out.join('\n') !== lists[k]!.join('\n')) throw new Error('bench: decode mismatch');
  }
  console.log(`first block ${first.length} octets, steady-state block ${blocks[1]!.length} octets`);
  const out: string[] = [];
  bench('decode (steady state, varying grpc-timeout)', N, (i) => {
    out.length = 0;
    const b = blocks[i & 7]!;
    sink += dec.decode(b, 0, b.length, out);
  });
  // Cold-ish: fresh tables each time (first block of a connection, Huffman literals).
  bench('encode+decode first block (fresh tables)', N / 10, () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    const b = e.encode(lists[0]!);
    out.length = 0;
    sink += d.decode(b, 0, b.length, out);
  });
}

if (sink === 42) console.log('');
