/**
 * `switchyard check --config FILE`: validate a configuration file and report
 * every problem in it. Exit status 0 = valid, 1 = invalid, 2 = usage error.
 */
import { parse as parseYaml } from 'yaml';
import { loadConfigFileText, ConfigError, formatIssues } from '../config/index.js';
import { normalizationsIn } from '../config/vocabulary.js';
import { describeSource } from '../discovery/index.js';

export const CHECK_USAGE = `Usage: switchyard check --config FILE

Validate a configuration file (YAML or JSON) and report every problem found.
Discovery settings are validated without reading endpoint files, asking DNS
or contacting Kubernetes; each service's endpoint source is listed. Names
written the way Envoy or Linkerd spell them (ROUND_ROBIN, least-loaded,
"5xx,reset", DEADLINE_EXCEEDED, ...) are listed with what they became.

Options:
  -c, --config FILE   the configuration file to check
  -h, --help          show this help

Exit status: 0 valid, 1 invalid, 2 usage error.
`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export async function runCheck(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') {
      out.write(CHECK_USAGE);
      return 0;
    }
    if (arg === '-c' || arg === '--config') {
      const value = args[i + 1];
      if (value === undefined || value === '') {
        err.write(`switchyard check: ${arg} needs a file name\n\n${CHECK_USAGE}`);
        return 2;
      }
      file = value;
      i++;
    } else if (arg.startsWith('--config=')) {
      file = arg.slice('--config='.length);
    } else {
      err.write(`switchyard check: unexpected argument "${arg}"\n\n${CHECK_USAGE}`);
      return 2;
    }
  }
  if (file === undefined || file === '') {
    err.write(`switchyard check: missing --config FILE\n\n${CHECK_USAGE}`);
    return 2;
  }

  try {
    const { config, text } = await loadConfigFileText(file);
    out.write(`${file}: valid (${plural(config.listeners.length, 'listener')}, ${plural(config.services.length, 'service')})\n`);
    // Discovery settings are checked above; nothing is read or contacted here.
    for (const s of config.services) {
      const source = describeSource(s);
      if (source !== undefined) out.write(`  service ${s.name}: endpoints from ${source}\n`);
    }
    // The text is valid YAML here (it just parsed); read it again as written, before normalization.
    const normalized = normalizationsIn(parseYaml(text, { merge: true, maxAliasCount: 1000 }));
    if (normalized.length > 0) {
      out.write('normalised (names from other proxies, see docs/vocabulary.md):\n');
      for (const n of normalized) out.write(`  ${n.path}: ${n.written} → ${n.became}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`${formatIssues(e)}\n`);
      err.write(`${file}: invalid (${plural(e.issues.length, 'problem')})\n`);
      return 1;
    }
    throw e;
  }
}
