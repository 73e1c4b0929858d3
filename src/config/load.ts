/**
 * Reading configuration text (YAML, or JSON as a subset of YAML) into a
 * validated `Config`, with every problem reported at once and, where the YAML
 * document allows, pointed at by line and column.
 */
import { readFile } from 'node:fs/promises';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { yaml } from './yaml.js';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { unknownKeyMessage } from './vocabulary.js';

export interface ConfigIssue {
  /** Where in the configuration, e.g. "listeners[0].routes[1].service"; "" for the file as a whole. */
  path: string;
  message: string;
  /** 1-based line in the source text, when known. */
  line?: number;
  /** 1-based column in the source text, when known. */
  col?: number;
}

/** A configuration that could not be read or is invalid. `message` lists every issue, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'SWY_ERR_CONFIG' as const;
  readonly issues: ConfigIssue[];
  /** The file name (or other label) the configuration came from, when known. */
  readonly sourceName: string | undefined;

  constructor(issues: ConfigIssue[], sourceName?: string) {
    super('');
    this.issues = issues;
    this.sourceName = sourceName;
    this.message = formatIssues(this);
  }
}

/** One issue per line: `file:line:col path: message` (location parts omitted when unknown). */
export function formatIssues(err: Pick<ConfigError, 'issues' | 'sourceName'>): string {
  return err.issues.map((i) => formatIssue(i, err.sourceName)).join('\n');
}

export function formatIssue(issue: ConfigIssue, sourceName?: string): string {
  let loc = '';
  if (issue.line !== undefined) loc = `${sourceName ?? '<config>'}:${issue.line}:${issue.col ?? 1} `;
  else if (sourceName !== undefined) loc = `${sourceName}: `;
  return `${loc}${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`;
}

/** `['listeners', 0, 'routes', 1, 'service']` → `listeners[0].routes[1].service`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * Validates an already-parsed value (e.g. from JSON or built in code).
 * Throws ConfigError listing every problem.
 */
export function parseConfig(value: unknown, sourceName?: string): Config {
  return validate(value, undefined, sourceName);
}

/** Parses and validates YAML (or JSON) text. Throws ConfigError listing every problem. */
export function parseConfigText(text: string, sourceName?: string): Config {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        return { path: '', message: `YAML syntax error: ${firstLine(e.message)}`, line: pos.line, col: pos.col };
      }),
      sourceName,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ConfigError([{ path: '', message: `YAML error: ${(e as Error).message}` }], sourceName);
  }
  return validate(value, { doc, lineCounter }, sourceName);
}

/** Reads, parses and validates a configuration file. Throws ConfigError (also when the file cannot be read). */
export async function loadConfigFile(path: string): Promise<Config> {
  return (await loadConfigFileText(path)).config;
}

/** loadConfigFile, also giving the text that was parsed (a reload compares versions by it). */
export async function loadConfigFileText(path: string): Promise<{ config: Config; text: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new ConfigError([{ path: '', message: `cannot read configuration: ${why}` }], path);
  }
  return { config: parseConfigText(text, path), text };
}

// ---------------------------------------------------------------------------

interface Source {
  doc: Document;
  lineCounter: LineCounter;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '').trim();
}

function validate(value: unknown, source: Source | undefined, sourceName: string | undefined): Config {
  if (value === null || value === undefined) {
    throw new ConfigError([{ path: '', message: 'the configuration is empty', ...(source ? { line: 1, col: 1 } : {}) }], sourceName);
  }
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;

  const issues: (ConfigIssue & { order: number })[] = [];
  const seen = new Set<string>();
  const add = (segments: (string | number)[], message: string, keyPosition: boolean): void => {
    const path = formatPath(segments);
    const id = `${path}\0${message}`;
    if (seen.has(id)) return;
    seen.add(id);
    const pos = source ? locate(source, segments, keyPosition) : undefined;
    issues.push({ path, message, ...(pos ?? {}), order: issues.length });
  };
  for (const zi of result.error.issues) {
    if (zi.code === z.ZodIssueCode.unrecognized_keys) {
      const known = knownKeysAt(zi.path);
      for (const key of zi.keys) {
        add([...zi.path, key], unknownKeyMessage(key, known.filter((k) => !zi.keys.includes(k))), true);
      }
    } else {
      add(zi.path, zi.message, false);
    }
  }
  // Report in file order; issues without a position keep their relative order at the end.
  issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.col ?? 0) - (b.col ?? 0) || a.order - b.order);
  throw new ConfigError(
    issues.map(({ order: _order, ...i }) => i),
    sourceName,
  );
}

/** Line and column of the node at `path`, or of its nearest existing ancestor. */
function locate(source: Source, path: readonly (string | number)[], keyPosition: boolean): { line: number; col: number } | undefined {
  const { isMap, isSeq, isScalar } = yaml();
  let node: unknown = source.doc.contents;
  let best: YamlNode | undefined = node as YamlNode | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      const key = pair.key as YamlNode | null;
      const val = pair.value as YamlNode | null;
      if (last && (keyPosition || val === null || val.range === undefined)) {
        best = key ?? best;
        node = undefined;
        break;
      }
      node = val;
      if (val) best = val;
      else {
        best = key ?? best;
        break;
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item) break;
      node = item;
      best = item;
    } else {
      break;
    }
  }
  const offset = best?.range?.[0];
  if (offset === undefined) return undefined;
  return source.lineCounter.linePos(offset);
}

/** The keys the schema allows in the object at `path` (for "did you mean" hints). */
function knownKeysAt(path: readonly (string | number)[]): string[] {
  let schemas: z.ZodTypeAny[] = [configSchema];
  for (const seg of [...path, null]) {
    const next: z.ZodTypeAny[] = [];
    for (const s of schemas.flatMap(unwrap)) {
      if (seg === null) {
        if (s instanceof z.ZodObject) next.push(s);
      } else if (s instanceof z.ZodObject && typeof seg === 'string') {
        const child = (s.shape as Record<string, z.ZodTypeAny>)[seg];
        if (child) next.push(child);
      } else if (s instanceof z.ZodArray && typeof seg === 'number') {
        next.push(s.element as z.ZodTypeAny);
      } else if (s instanceof z.ZodRecord) {
        next.push(s.valueSchema as z.ZodTypeAny);
      }
    }
    schemas = next;
  }
  return [...new Set(schemas.flatMap((s) => Object.keys((s as z.AnyZodObject).shape)))];
}

function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny[] {
  if (schema instanceof z.ZodEffects) return unwrap(schema.innerType());
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return unwrap(schema.unwrap());
  if (schema instanceof z.ZodDefault) return unwrap(schema.removeDefault());
  if (schema instanceof z.ZodDiscriminatedUnion || schema instanceof z.ZodUnion) {
    return (schema.options as z.ZodTypeAny[]).flatMap(unwrap);
  }
  return [schema];
}
