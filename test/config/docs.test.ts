import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { durationSchema, duration, parseConfigText, policySchemas } from '../../src/config/index.js';
import {
  generatedRegions,
  referenceTables,
  renderTable,
  undescribedKeys,
} from '../../src/config/schema-reference.js';
import { missingRegions, regenerateConfigurationDoc, unknownRegions } from '../../src/cli/config-reference-doc.js';

const DOC_PATH = join(process.cwd(), 'docs', 'configuration.md');
const DOCS = readFileSync(DOC_PATH, 'utf8');

test('every key of the schema has a .describe() text', () => {
  assert.deepEqual(undescribedKeys(), [], 'add .describe("…") to these fields in src/config/*schema*.ts');
});

test('every mapping of the schema has a generated table in docs/configuration.md, and every marker names one', () => {
  assert.deepEqual(missingRegions(DOCS), [], 'add <!-- generated:begin PATH --><!-- generated:end --> for these, then npm run docs:config');
  assert.deepEqual(unknownRegions(DOCS), []);
  const paths = referenceTables().map((t) => t.path);
  // Keys added lately are reached through the walk like the others.
  for (const p of ['limits', 'listeners[].limits', 'listeners[].forwarded', 'services[].zoneAware', 'services[].orca', 'services[].discovery.kubernetes']) {
    assert.ok(paths.includes(p), `${p} has no table`);
  }
  for (const name of Object.keys(policySchemas)) assert.ok(DOCS.includes(`\`${name}\``), `policy ${name} not documented`);
});

test('the generated tables and check transcripts in docs/configuration.md are up to date', async () => {
  const fresh = await regenerateConfigurationDoc(DOCS);
  if (fresh === DOCS) return;
  const now = new Map(generatedRegions(DOCS).map((r) => [r.name, DOCS.slice(r.start, r.end)]));
  const stale = generatedRegions(fresh)
    .filter((r) => now.get(r.name) !== fresh.slice(r.start, r.end))
    .map((r) => r.name);
  assert.fail(`docs/configuration.md is stale (${stale.join(', ') || 'outside the regions'}): run npm run docs:config`);
});

test('a stale table or a field without a description is caught', async () => {
  const region = generatedRegions(DOCS).find((r) => r.name === 'services[]')!;
  const edited = DOCS.slice(0, region.start) + DOCS.slice(region.start, region.end).replace('`8`', '`9`') + DOCS.slice(region.end);
  assert.notEqual(edited, DOCS);
  assert.equal(await regenerateConfigurationDoc(edited), DOCS);

  const schema = z.object({ described: durationSchema.default('1s').describe('Has a text.'), bare: z.number().int().min(1).optional() }).strict();
  const tables = referenceTables(schema);
  assert.deepEqual(undescribedKeys(tables), ['top-level.bare']);
  assert.equal(
    renderTable(tables[0]!),
    ['| Key | Type | Default | Meaning |', '| --- | --- | --- | --- |', '| `described` | duration | `1s` | Has a text. |', '| `bare` | integer ≥ 1 | unset |  |'].join('\n'),
  );
});

test('types and defaults are read off the zod definitions', () => {
  const schema = z
    .object({
      a: duration({ positive: true }).describe('a'),
      b: duration({ min: 100 }).default('1s').describe('b'),
      c: z.enum(['x', 'y']).default('y').describe('c'),
      d: z.array(z.string()).default([]).describe('d'),
      e: z.object({ f: z.number().gt(0).max(1).default(0.5).describe('f') }).default({}).describe('e'),
      g: z.union([z.literal('auto'), z.number()]).default('auto').describe('g'),
    })
    .strict();
  const [top, nested] = referenceTables(schema);
  assert.deepEqual(
    top!.rows.map((r) => [r.key, r.type, r.default]),
    [
      ['a', 'duration > 0', 'required'],
      ['b', 'duration ≥ 100ms', '`1s`'],
      ['c', '`x` \\| `y`', '`y`'],
      ['d', 'list of strings', '`[]`'],
      ['e', 'mapping', '`{ f: 0.5 }`'],
      ['g', '`auto` \\| number', '`auto`'],
    ],
  );
  assert.equal(nested!.path, 'e');
  assert.deepEqual(nested!.rows.map((r) => r.type), ['number in (0, 1]']);
});

test('the complete example in the docs is valid', () => {
  const at = DOCS.indexOf('## Complete example');
  const block = /```yaml\n([\s\S]*?)```/.exec(DOCS.slice(at));
  assert.ok(at >= 0 && block, 'docs/configuration.md has no complete yaml example');
  const config = parseConfigText(block[1]!, 'docs/configuration.md');
  assert.equal(config.listeners.length, 1);
  assert.equal(config.listeners[0]!.routes.length, 3);
});
