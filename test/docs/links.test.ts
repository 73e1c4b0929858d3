/**
 * Every link in README.md, docs/**\/*.md and examples/**\/README.md resolves:
 * relative files exist inside the repository, `#anchors` name a heading of
 * the target (GitHub's slugs), and external links are well-formed URLs (no
 * network). A failure lists each broken link as `file:line: link: why`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface Link {
  line: number;
  /** As written, for the message: `[text](target)`. */
  source: string;
  target: string;
}

/** The lines outside fenced code blocks and HTML comments, with inline code spans blanked unless `keepCode` (links inside code are not links). */
function proseLines(text: string, keepCode = false): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  // HTML comments are not rendered: blanked, keeping line numbers.
  const uncommented = text.replace(/<!--[\s\S]*?-->/g, (c) => c.replace(/[^\n]/g, ' '));
  uncommented.split('\n').forEach((raw, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(raw);
    if (m !== null) {
      if (fence === undefined) fence = m[1]!;
      else if (m[1]![0] === fence[0] && m[1]!.length >= fence.length && raw.trim() === m[1]) fence = undefined;
      return;
    }
    if (fence !== undefined) return;
    // Indented code blocks are not used in these documents; list continuations are indented prose.
    out.push({ line: i + 1, text: keepCode ? raw : raw.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, (s) => ' '.repeat(s.length)) });
  });
  return out;
}

/** Inline links and images `[x](target "title")`, autolinks `<https://…>`, reference definitions `[x]: target`, and HTML `href`/`src`. */
export function linksOf(text: string): Link[] {
  const links: Link[] = [];
  const lines = proseLines(text);
  // Inline links may wrap inside a paragraph: match over the prose with fenced blocks blanked, keeping line numbers.
  const prose: string[] = text.split('\n').map(() => '');
  for (const l of lines) prose[l.line - 1] = l.text;
  const joined = prose.join('\n');
  // The same text with code spans as written (blanking keeps offsets), for the message.
  for (const l of proseLines(text, true)) prose[l.line - 1] = l.text;
  const written = prose.join('\n');
  const lineAt = (index: number): number => joined.slice(0, index).split('\n').length;
  // The link text may hold one level of brackets (`[see [x]](y)`); the target may hold balanced parentheses.
  for (const m of joined.matchAll(/!?\[((?:[^[\]]|\[[^[\]]*\])*)\]\(\s*(<[^>\n]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) {
    if (/\n[ \t]*\n/.test(m[1]!)) continue;
    links.push({ line: lineAt(m.index), source: written.slice(m.index, m.index + m[0].length).replace(/\s*\n\s*/g, ' '), target: m[2]!.replace(/^<(.*)>$/, '$1') });
  }
  for (const { line, text: l } of lines) {
    for (const m of l.matchAll(/<((?:https?|mailto):[^>\s]+)>/g)) links.push({ line, source: m[0], target: m[1]! });
    const def = /^ {0,3}\[(?!\^)([^\]]+)\]:\s*(\S+)/.exec(l);
    if (def !== null) links.push({ line, source: def[0], target: def[2]!.replace(/^<(.*)>$/, '$1') });
    for (const m of l.matchAll(/<(?:a|img)\s[^>]*?\b(?:href|src)="([^"]*)"/gi)) links.push({ line, source: m[0], target: m[1]! });
  }
  return links.sort((a, b) => a.line - b.line);
}

/** The text GitHub renders for a heading's inline Markdown. */
function renderedText(md: string): string {
  return md
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(^|[^\w*])\*(?!\s)(.+?)\*(?!\w)/g, '$1$2')
    .replace(/(^|[^\w])_(?!\s)(.+?)_(?!\w)/g, '$1$2')
    .replace(/~~(.+?)~~/g, '$1')
    .replace(/&(amp|lt|gt|quot);/g, (_s, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"' })[e]!);
}

/**
 * GitHub's heading slug: lower-case, every character that is not a letter,
 * digit, space, '-' or '_' removed, each space a '-' (runs are not merged).
 */
export function slug(heading: string): string {
  return renderedText(heading.trim()).toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The anchors a Markdown document offers: heading slugs (duplicates get -1, -2, …) and HTML `id`/`name` attributes. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const add = (heading: string): void => {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  };
  const lines = proseLines(text, true);
  lines.forEach(({ line, text: l }, i) => {
    const atx = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(l);
    if (atx !== null) return add(atx[1] ?? '');
    // Setext: a text line underlined with === or --- (a blank line or a list item before the underline is not one).
    if (/^ {0,3}(=+|-+)\s*$/.test(l) && i > 0) {
      const prev = lines[i - 1]!;
      if (prev.line === line - 1 && prev.text.trim() !== '' && !/^ {0,3}([-*+]|\d+[.)])\s|^ {0,3}#|^\s*\|/.test(prev.text) && !/^ {0,3}(=+|-+)\s*$/.test(prev.text)) add(prev.text);
    }
    for (const m of l.matchAll(/<[a-z]+\s[^>]*?\b(?:id|name)="([^"]+)"/gi)) anchors.add(m[1]!);
  });
  return anchors;
}

/** The documents whose links are checked, relative to `root`. */
export function documentsUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, keep: (name: string) => boolean): void => {
    if (!existsSync(path.join(root, dir))) return;
    for (const name of readdirSync(path.join(root, dir)).sort()) {
      const rel = path.join(dir, name);
      if (statSync(path.join(root, rel)).isDirectory()) walk(rel, keep);
      else if (keep(name)) out.push(rel);
    }
  };
  if (existsSync(path.join(root, 'README.md'))) out.push('README.md');
  walk('docs', (n) => n.endsWith('.md'));
  walk('examples', (n) => n === 'README.md');
  return out;
}

/** Every broken link of one document, as `file:line: link: why`. */
export function brokenLinks(root: string, file: string, anchorCache = new Map<string, Set<string>>()): string[] {
  const anchors = (rel: string): Set<string> => {
    let a = anchorCache.get(rel);
    if (a === undefined) {
      a = anchorsOf(readFileSync(path.join(root, rel), 'utf8'));
      anchorCache.set(rel, a);
    }
    return a;
  };
  const problems: string[] = [];
  for (const link of linksOf(readFileSync(path.join(root, file), 'utf8'))) {
    const why = check(link.target);
    if (why !== undefined) problems.push(`${file}:${link.line}: ${link.source}: ${why}`);
  }
  return problems;

  function check(target: string): string | undefined {
    if (target === '') return 'empty link target';
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(target)?.[1]?.toLowerCase();
    if (scheme === 'http' || scheme === 'https') {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return 'not a valid URL';
      }
      if (!/^https?:\/\/[^/?#\s]+/.test(target) || url.hostname === '' || !url.hostname.includes('.') && url.hostname !== 'localhost') return `not a valid URL (host "${url.hostname}")`;
      if (/\s/.test(target)) return 'URL contains white space';
      return undefined;
    }
    if (scheme === 'mailto') return /^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$/i.test(target) ? undefined : 'not a valid mailto: address';
    if (scheme !== undefined) return `unsupported link scheme "${scheme}:" (use a relative path or an https URL)`;
    if (target.startsWith('//')) return 'protocol-relative URL (write https://)';
    const hash = target.indexOf('#');
    const pathPart = hash < 0 ? target : target.slice(0, hash);
    const fragment = hash < 0 ? undefined : target.slice(hash + 1);
    let decodedPath: string;
    let decodedFragment: string | undefined;
    try {
      decodedPath = decodeURIComponent(pathPart.replace(/\?.*$/, ''));
      decodedFragment = fragment === undefined ? undefined : decodeURIComponent(fragment);
    } catch {
      return 'malformed percent-encoding';
    }
    let rel = file;
    if (decodedPath !== '') {
      // GitHub resolves a leading '/' from the repository root.
      const abs = decodedPath.startsWith('/') ? path.join(root, decodedPath) : path.resolve(root, path.dirname(file), decodedPath);
      rel = path.relative(root, abs);
      if (rel.startsWith('..') || path.isAbsolute(rel)) return 'points outside the repository';
      if (/^(dist|node_modules)(\/|$)/.test(rel)) return `${rel} is build output or an installed package, not part of the repository`;
      if (!existsSync(abs)) return `${rel} does not exist`;
      if (statSync(abs).isDirectory()) {
        return decodedFragment === undefined ? undefined : `${rel} is a directory: an anchor cannot point into it`;
      }
    }
    if (decodedFragment === undefined) return undefined;
    if (decodedFragment === '') return 'empty anchor "#"';
    if (!rel.endsWith('.md')) {
      // Source files: GitHub's line anchors only.
      return /^L\d+(-L\d+)?$/.test(decodedFragment) ? undefined : `${rel} is not Markdown: only line anchors (#L10, #L10-L20) point into it`;
    }
    const offered = anchors(rel);
    if (offered.has(decodedFragment)) return undefined;
    const near = [...offered].filter((a) => a.includes(decodedFragment.toLowerCase()) || decodedFragment.toLowerCase().includes(a)).slice(0, 3);
    const hint = decodedFragment !== decodedFragment.toLowerCase() && offered.has(decodedFragment.toLowerCase()) ? ` (anchors are lower-case: #${decodedFragment.toLowerCase()})` : near.length > 0 ? ` (similar: ${near.map((a) => `#${a}`).join(', ')})` : '';
    return `no heading in ${rel} has the anchor #${decodedFragment}${hint}`;
  }
}

test('slugs follow GitHub: lower-case, punctuation dropped except - and _, spaces to -, markup rendered', () => {
  assert.equal(slug('Worker mode (`--workers N`)'), 'worker-mode---workers-n');
  assert.equal(slug('What a reload does'), 'what-a-reload-does');
  assert.equal(slug('`GET /api/v1/config`'), 'get-apiv1config');
  assert.equal(slug('Limits (options.ts)'), 'limits-optionsts');
  assert.equal(slug('snake_case and kebab-case: 2 of them!'), 'snake_case-and-kebab-case-2-of-them');
  assert.equal(slug('[The engine](http2-engine.md) and **bold** *it*'), 'the-engine-and-bold-it');
  assert.equal(slug('Zones — in-zone first'), 'zones--in-zone-first');
  assert.equal(slug('Größe & Ümlaut'), 'größe--ümlaut');
  assert.equal(slug('RFC 9113 §5.1'), 'rfc-9113-51');
});

test('anchors: duplicate headings get -1, -2; setext headings and HTML ids count; headings in code blocks do not', () => {
  const doc = ['# Title', '', '## Example', 'text', '## Example', '', '## Example', '', 'Setext heading', '---', '', '<a id="custom"></a>', '```sh', '# not a heading', '```', '- item', '---'].join('\n');
  assert.deepEqual([...anchorsOf(doc)].sort(), ['custom', 'example', 'example-1', 'example-2', 'setext-heading', 'title']);
});

test('the checker reports each kind of broken link with file, line and reason, and ignores links in code', (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'swy-links-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'docs', 'guide'), { recursive: true });
  mkdirSync(path.join(root, 'examples', 'one'), { recursive: true });
  writeFileSync(path.join(root, 'src.ts'), '');
  writeFileSync(path.join(root, 'docs', 'a.md'), '# A\n\n## Kept section\n');
  writeFileSync(path.join(root, 'docs', 'guide', 'b.md'), '# B\n\n## Same\n\n## Same\n');
  writeFileSync(path.join(root, 'examples', 'one', 'README.md'), 'See [docs](../../docs/a.md#nope).\n');
  writeFileSync(path.join(root, 'README.md'), [
    '# Readme', '',
    '[ok](docs/a.md) [ok](docs/a.md#kept-section) [ok](docs/guide/b.md#same-1) [ok](#readme) [ok](src.ts#L3) [ok](docs/) [ok](https://example.org/x?y#z)',
    '[missing](docs/none.md)',
    '[bad anchor](docs/a.md#kept)',
    '[bad local](#nowhere) ![img](img/none.png)',
    '`[in code](docs/none.md)` <!-- [in a comment](docs/none.md) -->',
    '```', '[in fence](docs/none.md)', '```',
    '[outside](../x.md) [built](dist/src/index.js) [scheme](ftp://example.org/) [url](https://) [anchor in code](src.ts#top) [caps](docs/a.md#Kept-Section)',
    '[ref]: docs/gone.md',
    'A link that [wraps over', 'two lines](docs/wrapped.md).',
  ].join('\n'));
  assert.deepEqual(documentsUnder(root), ['README.md', path.join('docs', 'a.md'), path.join('docs', 'guide', 'b.md'), path.join('examples', 'one', 'README.md')]);
  const problems = documentsUnder(root).flatMap((f) => brokenLinks(root, f));
  assert.deepEqual(problems, [
    'README.md:4: [missing](docs/none.md): docs/none.md does not exist',
    'README.md:5: [bad anchor](docs/a.md#kept): no heading in docs/a.md has the anchor #kept (similar: #kept-section)',
    'README.md:6: [bad local](#nowhere): no heading in README.md has the anchor #nowhere',
    'README.md:6: ![img](img/none.png): img/none.png does not exist',
    'README.md:11: [outside](../x.md): points outside the repository',
    'README.md:11: [built](dist/src/index.js): dist/src/index.js is build output or an installed package, not part of the repository',
    'README.md:11: [scheme](ftp://example.org/): unsupported link scheme "ftp:" (use a relative path or an https URL)',
    'README.md:11: [url](https://): not a valid URL',
    'README.md:11: [anchor in code](src.ts#top): src.ts is not Markdown: only line anchors (#L10, #L10-L20) point into it',
    'README.md:11: [caps](docs/a.md#Kept-Section): no heading in docs/a.md has the anchor #Kept-Section (anchors are lower-case: #kept-section)',
    'README.md:12: [ref]: docs/gone.md: docs/gone.md does not exist',
    'README.md:13: [wraps over two lines](docs/wrapped.md): docs/wrapped.md does not exist',
    'examples/one/README.md:1: [docs](../../docs/a.md#nope): no heading in docs/a.md has the anchor #nope',
  ]);
});

test('every link in README.md, docs/ and examples/ READMEs resolves', () => {
  const root = process.cwd();
  const files = documentsUnder(root);
  assert.ok(files.includes('README.md') && files.some((f) => f.startsWith('docs/')), `documents found: ${files.join(', ')}`);
  const cache = new Map<string, Set<string>>();
  const problems = files.flatMap((f) => brokenLinks(root, f, cache));
  assert.equal(problems.length, 0, `${problems.length} broken link(s):\n${problems.join('\n')}`);
});
