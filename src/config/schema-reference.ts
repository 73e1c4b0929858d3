/**
 * The configuration reference, read off the schema: one table per mapping
 * (key, type, default, description), so docs/configuration.md cannot drift
 * from what the parser accepts. Descriptions are the fields' `.describe()`
 * texts; the types and defaults come from the zod definitions themselves.
 *
 * `npm run docs:config` writes the tables between the markers of the doc;
 * a test regenerates them in memory and fails when the doc is stale or a key
 * has no description.
 */
import { z } from 'zod';
import { configObjectSchema, nameSchema, serviceRefSchema } from './schema.js';
import { durationSchema } from './duration.js';
import { endpointAddressSchema, listenAddressSchema } from './address.js';
import { byteSizeSchema } from './limits-schema.js';
import { zoneNameSchema } from './zone-schema.js';

export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  description: string | undefined;
}

export interface ReferenceTable {
  /** Key path of the mapping, as markers name it: `listeners[].http2`, `services[].balancer(peak-ewma)`. */
  path: string;
  rows: ReferenceRow[];
}

/** The root table's marker name. */
export const TOP_LEVEL = 'top-level';

/** Types the zod definition cannot tell (a preprocess step accepts a shorter form). */
const TYPE_OVERRIDES: Readonly<Record<string, string>> = {
  'services[].balancer': 'policy name or mapping',
  'services[].endpoints': 'list of `host:port` or mappings',
  'services[].balancer(ring-hash).fallback': 'policy name without a hash key',
  'services[].balancer(maglev).fallback': 'policy name without a hash key',
};

const PLURALS: Readonly<Record<string, string>> = { string: 'strings', address: 'addresses', name: 'names' };

// zod v3 keeps each schema's parts in `_def`; typeName tells the kinds apart
// without `instanceof`, which fails across two copies of the package.
type Def = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
function def(s: z.ZodTypeAny): Def {
  return s._def as Def;
}
function kind(s: z.ZodTypeAny): string {
  return def(s).typeName as string;
}

/** Effects that make a value of a kind users know by name. */
const NAMED_EFFECTS = new Map<unknown, string>([
  [def(byteSizeSchema).effect, 'size'],
  [def(listenAddressSchema).effect, 'address'],
  [def(endpointAddressSchema).effect, 'address'],
]);
// `.describe()` clones a schema but shares its checks: key strings by those.
const NAMED_STRINGS = new Map<unknown, string>([
  [def(nameSchema).checks, 'name'],
  [def(zoneNameSchema).checks, 'zone name'],
  [def(serviceRefSchema).checks, 'service name'],
]);
// duration() builds a fresh transform per call: recognize its source text.
const DURATION_SOURCE = String(def(durationSchema).effect.transform);

function isDuration(s: z.ZodTypeAny): boolean {
  const effect = def(s).effect as { type: string; transform?: unknown } | undefined;
  return effect?.type === 'transform' && String(effect.transform) === DURATION_SOURCE;
}

/** "duration", "duration > 0", "duration ≥ 100ms": the lower bound read from the refusal of 0. */
function durationLabel(s: z.ZodTypeAny): string {
  const r = s.safeParse(0);
  if (r.success) return 'duration';
  const message = r.error.issues[0]?.message ?? '';
  const atLeast = /must be at least (\S+)/.exec(message);
  return atLeast ? `duration ≥ ${atLeast[1]}` : 'duration > 0';
}

function numberLabel(checks: Def[], base = 'number'): string {
  let int = false;
  let min: { value: number; inclusive: boolean } | undefined;
  let max: { value: number; inclusive: boolean } | undefined;
  for (const c of checks) {
    if (c.kind === 'int') int = true;
    else if (c.kind === 'min') min = c as typeof min;
    else if (c.kind === 'max') max = c as typeof max;
  }
  const name = base === 'number' && int ? 'integer' : base;
  if (min && max) {
    if (min.inclusive && max.inclusive) return `${name} ${min.value}..${max.value}`;
    return `${name} in ${min.inclusive ? '[' : '('}${min.value}, ${max.value}${max.inclusive ? ']' : ')'}`;
  }
  if (min) return `${name} ${min.inclusive ? '≥' : '>'} ${min.value}`;
  if (max) return `${name} ${max.inclusive ? '≤' : '<'} ${max.value}`;
  return name;
}

function code(v: unknown): string {
  return `\`${String(v)}\``;
}

/** The type column for a schema. */
export function typeLabel(s: z.ZodTypeAny): string {
  const d = def(s);
  const named = kind(s) === 'ZodString' ? NAMED_STRINGS.get(d.checks) : undefined;
  if (named !== undefined) return named;
  switch (kind(s)) {
    case 'ZodOptional':
    case 'ZodNullable':
    case 'ZodDefault':
      return typeLabel(d.innerType);
    case 'ZodEffects': {
      const effectName = NAMED_EFFECTS.get(d.effect);
      if (effectName !== undefined) return effectName;
      if (isDuration(s)) return durationLabel(s);
      return typeLabel(d.schema);
    }
    case 'ZodPipeline': {
      const out = d.out as z.ZodTypeAny;
      return kind(out) === 'ZodNumber' ? numberLabel(def(out).checks, typeLabel(d.in)) : typeLabel(d.in);
    }
    case 'ZodObject':
    case 'ZodDiscriminatedUnion':
      return 'mapping';
    case 'ZodRecord':
      return 'mapping name → value';
    case 'ZodArray': {
      const element = typeLabel(d.type);
      return `list of ${element === 'mapping' ? 'mappings' : (PLURALS[element] ?? element)}`;
    }
    case 'ZodEnum':
      return (d.values as string[]).map(code).join(' \\| ');
    case 'ZodLiteral':
      return code(d.value);
    case 'ZodUnion':
      return (d.options as z.ZodTypeAny[]).map(typeLabel).join(' \\| ');
    case 'ZodNumber':
      return numberLabel(d.checks);
    case 'ZodString': {
      const prefix = (d.checks as Def[]).find((c) => c.kind === 'startsWith');
      return prefix ? `string starting with ${code(prefix.value)}` : 'string';
    }
    case 'ZodBoolean':
      return 'boolean';
    default:
      return 'any';
  }
}

/** A default as a user writes it in YAML (flow style). */
function yamlValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(yamlValue).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, x]) => `${k}: ${yamlValue(x)}`).join(', ')} }`;
  }
  return v === '' ? '""' : String(v);
}

/** The object schema under wrappers, or undefined when `s` holds no mapping. */
function objectOf(s: z.ZodTypeAny): z.AnyZodObject | undefined {
  const d = def(s);
  switch (kind(s)) {
    case 'ZodObject':
      return s as z.AnyZodObject;
    case 'ZodOptional':
    case 'ZodNullable':
    case 'ZodDefault':
      return objectOf(d.innerType);
    case 'ZodEffects':
      return NAMED_EFFECTS.has(d.effect) || isDuration(s) ? undefined : objectOf(d.schema);
    default:
      return undefined;
  }
}

function unionOf(s: z.ZodTypeAny): z.ZodDiscriminatedUnion<string, z.AnyZodObject[]> | undefined {
  const d = def(s);
  switch (kind(s)) {
    case 'ZodDiscriminatedUnion':
      return s as z.ZodDiscriminatedUnion<string, z.AnyZodObject[]>;
    case 'ZodOptional':
    case 'ZodNullable':
    case 'ZodDefault':
      return unionOf(d.innerType);
    case 'ZodEffects':
      return unionOf(d.schema);
    default:
      return undefined;
  }
}

function elementOf(s: z.ZodTypeAny): z.ZodTypeAny | undefined {
  const d = def(s);
  switch (kind(s)) {
    case 'ZodArray':
      return d.type;
    case 'ZodOptional':
    case 'ZodNullable':
    case 'ZodDefault':
      return elementOf(d.innerType);
    case 'ZodEffects':
      return elementOf(d.schema);
    default:
      return undefined;
  }
}

/** The first `.describe()` text, from the outermost wrapper in. */
function descriptionOf(s: z.ZodTypeAny): string | undefined {
  for (let cur: z.ZodTypeAny | undefined = s; cur !== undefined; ) {
    if (cur.description !== undefined) return cur.description;
    const d = def(cur);
    const k = kind(cur);
    cur = k === 'ZodOptional' || k === 'ZodNullable' || k === 'ZodDefault' ? d.innerType : k === 'ZodEffects' ? d.schema : undefined;
  }
  return undefined;
}

function defaultOf(s: z.ZodTypeAny): { value: unknown } | undefined {
  for (let cur: z.ZodTypeAny | undefined = s; cur !== undefined; ) {
    const d = def(cur);
    const k = kind(cur);
    if (k === 'ZodDefault') return { value: d.defaultValue() };
    if (k === 'ZodOptional' || k === 'ZodNullable') return undefined;
    cur = k === 'ZodEffects' && !NAMED_EFFECTS.has(d.effect) && !isDuration(cur) ? d.schema : undefined;
  }
  return undefined;
}

function acceptsUndefined(s: z.ZodTypeAny): boolean {
  return s.safeParse(undefined).success || kind(s) === 'ZodOptional';
}

/** The default column: the value written as a user would, `unset`, or `required`. */
function defaultLabel(s: z.ZodTypeAny): string {
  const found = defaultOf(s);
  if (found === undefined) return acceptsUndefined(s) || kind(s) === 'ZodOptional' ? 'unset' : 'required';
  const v = found.value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) {
    // `{}`: show what it becomes when it is small enough to read in a cell.
    const obj = objectOf(s);
    if (obj === undefined) return code('{}');
    const fields = Object.entries(obj.shape as Record<string, z.ZodTypeAny>);
    const parts: string[] = [];
    for (const [k, field] of fields) {
      const inner = defaultOf(field);
      if (inner !== undefined && objectOf(field) === undefined) parts.push(`${k}: ${yamlValue(inner.value)}`);
    }
    if (parts.length === 0) return code('{}');
    return parts.length === fields.length && parts.length <= 4 ? code(`{ ${parts.join(', ')} }`) : "each key's default";
  }
  if (typeof v === 'number' && v === 0 && isDurationLike(s)) return code('0');
  return code(yamlValue(v));
}

function isDurationLike(s: z.ZodTypeAny): boolean {
  return typeLabel(s).startsWith('duration');
}

interface Walk {
  tables: ReferenceTable[];
  seen: Set<z.ZodTypeAny>;
}

function row(key: string, field: z.ZodTypeAny, path: string): ReferenceRow {
  return {
    key,
    type: TYPE_OVERRIDES[path] ?? typeLabel(field),
    default: defaultLabel(field),
    description: descriptionOf(field),
  };
}

function childPath(parent: string, key: string): string {
  return parent === TOP_LEVEL ? key : `${parent}.${key}`;
}

/** Tables of the mappings and unions reachable from one field. */
function walkField(walk: Walk, path: string, field: z.ZodTypeAny): void {
  const element = elementOf(field);
  if (element !== undefined) {
    walkField(walk, `${path}[]`, element);
    return;
  }
  const union = unionOf(field);
  if (union !== undefined) {
    walkUnion(walk, path, union);
    return;
  }
  const obj = objectOf(field);
  if (obj !== undefined) walkObject(walk, path, obj);
}

function walkObject(walk: Walk, path: string, obj: z.AnyZodObject, skip: ReadonlySet<string> = new Set()): void {
  if (walk.seen.has(obj)) return; // one table per schema, at its first path
  walk.seen.add(obj);
  const shape = obj.shape as Record<string, z.ZodTypeAny>;
  const rows = Object.entries(shape)
    .filter(([key]) => !skip.has(key))
    .map(([key, field]) => row(key, field, childPath(path, key)));
  if (rows.length > 0) walk.tables.push({ path, rows });
  for (const [key, field] of Object.entries(shape)) {
    if (!skip.has(key)) walkField(walk, childPath(path, key), field);
  }
}

/**
 * A discriminated union (the balancer): one table of the keys every option
 * has (the discriminator's type lists all its values), then one per option
 * for the keys of its own, named `path(value)`.
 */
function walkUnion(walk: Walk, path: string, union: z.ZodDiscriminatedUnion<string, z.AnyZodObject[]>): void {
  const options = union.options as z.AnyZodObject[];
  const discriminator = union.discriminator;
  const shapes = options.map((o) => o.shape as Record<string, z.ZodTypeAny>);
  const common = Object.keys(shapes[0]!).filter((k) => shapes.every((s) => k in s));
  const rows = common.map((key) => {
    if (key === discriminator) {
      const values = shapes.map((s) => def(s[key]!).value as string);
      const description = shapes.map((s) => descriptionOf(s[key]!)).find((d) => d !== undefined);
      return { key, type: values.map(code).join(' \\| '), default: 'required', description };
    }
    return row(key, shapes[0]![key]!, childPath(path, key));
  });
  walk.tables.push({ path, rows });
  for (const key of common) if (key !== discriminator) walkField(walk, childPath(path, key), shapes[0]![key]!);
  const skip = new Set(common);
  options.forEach((option, i) => {
    const own = Object.keys(shapes[i]!).filter((k) => !skip.has(k));
    if (own.length === 0) return;
    const value = def(shapes[i]![discriminator]!).value as string;
    const before = walk.tables.length;
    walkObject(walk, `${path}(${value})`, option, skip);
    // Objects inside an option are named after the union, not the option.
    for (const t of walk.tables.slice(before + 1)) t.path = t.path.replace(`${path}(${value}).`, `${path}.`);
  });
}

/** Every table of the configuration, in schema order. */
export function referenceTables(root: z.AnyZodObject = configObjectSchema): ReferenceTable[] {
  const walk: Walk = { tables: [], seen: new Set() };
  walkObject(walk, TOP_LEVEL, root);
  return walk.tables;
}

/** `path.key` of every row without a description. */
export function undescribedKeys(tables: ReferenceTable[] = referenceTables()): string[] {
  return tables.flatMap((t) => t.rows.filter((r) => r.description === undefined || r.description.trim() === '').map((r) => `${t.path}.${r.key}`));
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

export function renderTable(table: ReferenceTable): string {
  const lines = ['| Key | Type | Default | Meaning |', '| --- | --- | --- | --- |'];
  for (const r of table.rows) {
    // Types are already escaped (enum and union bars); descriptions are prose.
    lines.push(`| \`${r.key}\` | ${r.type} | ${r.default} | ${cell(r.description ?? '')} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// generated regions of a markdown file

const BEGIN = /<!-- generated:begin (.+?) -->\n/g;
const END = '<!-- generated:end -->';

export interface GeneratedRegion {
  name: string;
  /** Offsets of the content between the markers. */
  start: number;
  end: number;
}

/** The marked regions of a document, in order. */
export function generatedRegions(doc: string): GeneratedRegion[] {
  const regions: GeneratedRegion[] = [];
  for (const m of doc.matchAll(BEGIN)) {
    const start = m.index! + m[0].length;
    const end = doc.indexOf(END, start);
    if (end < 0) throw new Error(`generated region "${m[1]}" has no ${END}`);
    regions.push({ name: m[1]!, start, end });
  }
  return regions;
}

/** The document with each region's content replaced by `content(name)` (undefined: left as it is). */
export function fillRegions(doc: string, content: (name: string, region: GeneratedRegion) => string | undefined): string {
  let out = '';
  let at = 0;
  for (const r of generatedRegions(doc)) {
    const text = content(r.name, r);
    if (text === undefined) continue;
    out += doc.slice(at, r.start) + text + (text.endsWith('\n') ? '' : '\n');
    at = r.end;
  }
  return out + doc.slice(at);
}

/** The reference tables by marker name. */
export function renderedTables(tables: ReferenceTable[] = referenceTables()): Map<string, string> {
  return new Map(tables.map((t) => [t.path, renderTable(t)]));
}
