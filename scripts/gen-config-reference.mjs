// Regenerates the tables and the `switchyard check` transcripts between the
// `<!-- generated:begin … -->` markers of docs/configuration.md from the
// configuration schema. Run from the repository root after `npm run build`
// (`npm run docs:config` does both).
import { readFile, writeFile } from 'node:fs/promises';
import { missingRegions, regenerateConfigurationDoc } from '../dist/src/cli/config-reference-doc.js';
import { undescribedKeys } from '../dist/src/config/schema-reference.js';

const DOC = 'docs/configuration.md';
const before = await readFile(DOC, 'utf8');
const after = await regenerateConfigurationDoc(before);
if (after !== before) await writeFile(DOC, after);
console.log(`${DOC}: ${after === before ? 'up to date' : 'regenerated'}`);

let problems = 0;
for (const key of undescribedKeys()) {
  console.error(`  ${key}: no .describe() text in the schema`);
  problems++;
}
for (const path of missingRegions(after)) {
  console.error(`  ${path}: no <!-- generated:begin ${path} --> region in ${DOC}`);
  problems++;
}
process.exitCode = problems > 0 ? 1 : 0;
