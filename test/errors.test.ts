import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ProxyErrors } from '../src/errors.js';

test('every proxy error code is documented with its HTTP and gRPC status', () => {
  const doc = readFileSync('docs/errors.md', 'utf8');
  const codes = new Set<string>();
  for (const kind of Object.values(ProxyErrors)) {
    assert.ok(!codes.has(kind.code), `duplicate code ${kind.code}`);
    codes.add(kind.code);
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${kind.code}\``));
    assert.ok(row, `${kind.code} is not in docs/errors.md`);
    assert.ok(row.includes(`| ${kind.httpStatus} |`), `${kind.code}: HTTP ${kind.httpStatus}`);
    assert.ok(row.includes(`(${kind.grpcStatus})`), `${kind.code}: gRPC ${kind.grpcStatus}`);
  }
});
