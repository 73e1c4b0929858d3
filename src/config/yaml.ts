/**
 * The YAML parser, loaded the first time a configuration or discovery file is
 * read. `switchyard run --listen … --to …` reads no YAML and does not carry
 * it: importing it costs ~7 MiB of resident memory (npm run bench:memory --
 * --modules). Synchronous (its CommonJS build through require) so the
 * parsing functions that use it stay synchronous.
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');

let loaded: Yaml | undefined;

export function yaml(): Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as Yaml;
  return loaded;
}
