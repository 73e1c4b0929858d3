/**
 * Fills the generated parts of docs/configuration.md: the reference tables
 * read off the schema, and the `switchyard check` output shown in it, which
 * comes from running check on the file the doc shows (or names). Run by
 * `npm run docs:config`; the docs test runs it in memory and compares.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fillRegions, generatedRegions, renderedTables, type ReferenceTable, referenceTables } from '../config/schema-reference.js';
import { runCheck } from './check.js';

class Lines extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** The last ```yaml block of `doc` before `offset`. */
function yamlBefore(doc: string, offset: number): string | undefined {
  const blocks = [...doc.slice(0, offset).matchAll(/```yaml\n([\s\S]*?)```/g)];
  return blocks.at(-1)?.[1];
}

/**
 * What `switchyard check --config FILE` prints, as a shell transcript. FILE is
 * read from the working directory when it exists there, else it is the last
 * YAML block shown before the region.
 */
export async function checkTranscript(file: string, shownText: string | undefined): Promise<string> {
  const out = new Lines();
  let dir: string | undefined;
  try {
    let path = file;
    if (!existsSync(file)) {
      if (shownText === undefined) throw new Error(`check ${file}: no such file, and no yaml block shown before it`);
      dir = await mkdtemp(join(tmpdir(), 'swy-doc-check-'));
      path = join(dir, file);
      await writeFile(path, shownText);
    }
    // One stream for both: the transcript shows what a terminal shows.
    await runCheck(['--config', path], out, out);
    const printed = dir === undefined ? out.text : out.text.split(`${dir}/`).join('');
    return `\`\`\`\n$ switchyard check --config ${file}\n${printed}\`\`\``;
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** Region names in `doc` that nothing generates. */
export function unknownRegions(doc: string, tables: ReferenceTable[] = referenceTables()): string[] {
  const names = new Set(tables.map((t) => t.path));
  return generatedRegions(doc)
    .map((r) => r.name)
    .filter((n) => !names.has(n) && !n.startsWith('check '));
}

/** Schema tables that have no region in `doc`. */
export function missingRegions(doc: string, tables: ReferenceTable[] = referenceTables()): string[] {
  const present = new Set(generatedRegions(doc).map((r) => r.name));
  return tables.map((t) => t.path).filter((p) => !present.has(p));
}

/** `doc` with every generated region filled in again. */
export async function regenerateConfigurationDoc(doc: string): Promise<string> {
  const unknown = unknownRegions(doc);
  if (unknown.length > 0) throw new Error(`generated regions that match no schema table: ${unknown.join(', ')}`);
  const tables = renderedTables();
  const transcripts = new Map<string, string>();
  for (const r of generatedRegions(doc)) {
    if (r.name.startsWith('check ')) {
      const file = r.name.slice('check '.length);
      transcripts.set(r.name, await checkTranscript(file, yamlBefore(doc, r.start)));
    }
  }
  return fillRegions(doc, (name) => tables.get(name) ?? transcripts.get(name));
}
