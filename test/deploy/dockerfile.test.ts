/**
 * deploy/Dockerfile, read by a small parser (no container engine is needed):
 * the stages, what reaches the final image and whether what it runs exists
 * after `npm run build` — and runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { parseConfigText } from '../../src/config/index.js';

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  name: string | undefined;
  image: string;
  body: Instruction[];
}

/** Instructions with continuation lines joined; comments and parser directives dropped. */
function parseDockerfile(text: string): { globals: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return; // comments may sit inside a continued instruction
    if (pending === '') start = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = pending + line;
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: start });
  });
  assert.equal(pending, '', 'a continuation line ends the file');
  const globals = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `line ${ins.line}: FROM ${ins.args}`);
      const image = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_s, a: string | undefined, b: string | undefined) => {
        const v = globals.get((a ?? b)!);
        assert.ok(v !== undefined, `line ${ins.line}: ${a ?? b} has no default`);
        return v;
      });
      stages.push({ name: m[2], image, body: [] });
    } else if (stages.length === 0) {
      assert.equal(ins.op, 'ARG', `line ${ins.line}: only ARG may come before FROM`);
      const [k, v] = ins.args.split('=', 2) as [string, string | undefined];
      if (v !== undefined) globals.set(k, v);
    } else {
      stages.at(-1)!.body.push(ins);
    }
  }
  return { globals, stages };
}

function execForm(ins: Instruction | undefined): string[] {
  assert.ok(ins, 'missing instruction');
  const v = JSON.parse(ins.args) as unknown;
  assert.ok(Array.isArray(v) && v.every((s) => typeof s === 'string'), `line ${ins.line}: exec (JSON) form`);
  return v as string[];
}

interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

function copies(stage: Stage): Copy[] {
  let workdir = '/';
  const out: Copy[] = [];
  for (const ins of stage.body) {
    if (ins.op === 'WORKDIR') workdir = path.posix.resolve(workdir, ins.args);
    if (ins.op !== 'COPY') continue;
    const words = ins.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const rest = words.filter((w) => !w.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    out.push({ from, sources: rest.slice(0, -1), dest: path.posix.resolve(workdir, rest.at(-1)!) });
  }
  return out;
}

function workdirOf(stage: Stage): string {
  return stage.body.filter((i) => i.op === 'WORKDIR').reduce((w, i) => path.posix.resolve(w, i.args), '/');
}

const DOCKERFILE = readFileSync('deploy/Dockerfile', 'utf8');
const { stages } = parseDockerfile(DOCKERFILE);
const final = stages.at(-1)!;
const stageNamed = (name: string): Stage => {
  const s = stages.find((x) => x.name === name);
  assert.ok(s, `no stage ${name}`);
  return s;
};
const PKG = JSON.parse(readFileSync('package.json', 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
};

/**
 * Where a file of the final image comes from, as a path in the repository:
 * through a COPY from the build context, or from a build stage whose working
 * directory holds the repository's files and what `npm run build` makes of
 * them.
 */
function repoPathOf(imagePath: string): string {
  for (const c of copies(final).reverse()) {
    for (const src of c.sources) {
      const dest = c.sources.length === 1 ? c.dest : path.posix.join(c.dest, path.posix.basename(src));
      if (imagePath !== dest && !imagePath.startsWith(`${dest}/`)) continue;
      const rest = imagePath.slice(dest.length);
      if (c.from === undefined) return path.posix.normalize(src + rest);
      const stage = stageNamed(c.from);
      const inStage = path.posix.resolve(workdirOf(stage), src) + rest;
      const rel = path.posix.relative(workdirOf(stage), inStage);
      assert.ok(!rel.startsWith('..'), `${inStage} is outside the ${c.from} stage's working directory`);
      return rel;
    }
  }
  assert.fail(`nothing in the final stage puts ${imagePath} in the image`);
}

test('two stages from an official Node image pinned to a supported major version', () => {
  assert.ok(stages.length >= 2, `${stages.length} FROM`);
  const minMajor = Number(/^>=\s*(\d+)/.exec(PKG.engines.node)![1]);
  for (const s of stages) {
    const m = /^node:([^@:]+)$/.exec(s.image);
    assert.ok(m, `${s.image}: the official node image, by tag`);
    const tag = m[1]!;
    assert.notEqual(tag, 'latest');
    const major = /^(\d+)(?:\.\d+){0,2}-/.exec(tag);
    assert.ok(major, `${s.image}: the tag starts with a Node version`);
    assert.ok(Number(major[1]) >= minMajor, `${s.image}: package.json wants node ${PKG.engines.node}`);
  }
  // Dependencies are installed by the same Node and npm that run them.
  assert.equal(final.image, stages[0]!.image);
});

test('npm ci from the lockfile, and only production dependencies reach the final stage', () => {
  const modules = copies(final).find((c) => c.dest.endsWith('/node_modules'));
  assert.ok(modules?.from, 'node_modules comes from a build stage');
  const runs = stageNamed(modules.from).body.filter((i) => i.op === 'RUN').map((i) => i.args);
  const ci = runs.findIndex((r) => /\bnpm ci\b/.test(r));
  assert.ok(ci >= 0, 'npm ci');
  const build = runs.findIndex((r) => /\bnpm run build\b/.test(r));
  assert.ok(build >= ci, 'npm run build after npm ci');
  const prunedAt = runs.findIndex((r) => /\bnpm prune\b[^&;]*--omit=dev/.test(r) || /\bnpm ci\b[^&;]*--omit=dev/.test(r));
  assert.ok(prunedAt >= build, 'dev dependencies removed after the build that needs them');
  // `npm run build` and `npm prune` in one RUN: the prune must come after the build in it.
  if (prunedAt === build) assert.ok(runs[build]!.indexOf('npm prune') > runs[build]!.indexOf('npm run build'));
  assert.ok(copies(stageNamed(modules.from)).some((c) => c.from === undefined && c.sources.includes('package-lock.json')), 'the lockfile is copied for npm ci');
  assert.deepEqual(final.body.filter((i) => i.op === 'RUN').map((i) => i.args), [], 'the final stage installs nothing');
});

test('the final image holds the built program, production node_modules, package.json and the demo protos only', () => {
  const dests = copies(final).map((c) => c.dest).sort();
  const w = workdirOf(final);
  assert.deepEqual(dests, ['dist/src', 'node_modules', 'package.json', 'protos'].map((p) => path.posix.join(w, p)));
  // What the program reads at run time, relative to its own files, is there.
  assert.equal(repoPathOf(path.posix.join(w, 'package.json')), 'package.json'); // `switchyard --version`
  assert.ok(existsSync(repoPathOf(path.posix.join(w, 'protos/square.proto')))); // the demo's service
});

test('the final stage runs as a numeric, non-root user', () => {
  const users = final.body.filter((i) => i.op === 'USER');
  assert.equal(users.length, 1);
  const m = /^(\d+)(?::(\d+))?$/.exec(users[0]!.args);
  assert.ok(m, `USER ${users[0]!.args}: numeric, or the kubelet cannot check runAsNonRoot`);
  assert.notEqual(Number(m[1]), 0);
  const lastCopy = final.body.map((i) => i.op).lastIndexOf('COPY');
  assert.ok(final.body.indexOf(users[0]!) > lastCopy, 'files are copied as root, read-only to the user');
});

test('the entrypoint runs the built CLI with the launch flags of the switchyard program', () => {
  const entry = execForm(final.body.find((i) => i.op === 'ENTRYPOINT'));
  assert.equal(entry[0], 'node');
  // The flags the program's shell prologue passes, read from the source.
  const prologue = /^\/\/usr\/bin\/env true; exec \/usr\/bin\/env node (.*) "\$0" "\$@"$/m.exec(readFileSync('src/cli/main.ts', 'utf8'));
  assert.ok(prologue, 'src/cli/main.ts prologue');
  const flags = prologue[1]!.split(/\s+/);
  assert.deepEqual(entry.slice(1, -1), flags);
  const script = entry.at(-1)!;
  assert.ok(script.startsWith('/'), 'an absolute path');
  const built = repoPathOf(script);
  assert.equal(built, PKG.bin.switchyard, 'the program package.json installs as `switchyard`');
  assert.ok(existsSync(built), `${built} exists after npm run build`);
  // And it runs.
  const r = spawnSync(process.execPath, [...flags, built, '--version'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${PKG.version}\n`);
});

test('CMD runs the proxy on the configuration file the manifests mount, and EXPOSE names its ports', () => {
  const cmd = execForm(final.body.find((i) => i.op === 'CMD'));
  const deployment = readFileSync('deploy/kubernetes/gateway/deployment.yaml', 'utf8');
  const args = /args: (\[.*\])/.exec(deployment);
  assert.ok(args);
  assert.deepEqual(cmd, JSON.parse(args[1]!));
  const config = parseConfigText(readFileSync('deploy/kubernetes/gateway/config.yaml', 'utf8'));
  const exposed = final.body.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.replace(/\/tcp$/, '')));
  assert.deepEqual(exposed.sort(), [...config.listeners.map((l) => l.listen.port), config.admin.listen.port].sort());
});

test('the ignore file sends exactly what the build copies from the context', () => {
  // BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the context root's.
  const patterns = readFileSync('deploy/Dockerfile.dockerignore', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(patterns[0], '*', 'an allow list');
  const allowed = patterns.slice(1).map((p) => {
    assert.ok(p.startsWith('!'), p);
    return p.slice(1);
  });
  const fromContext = stages.flatMap((s) => copies(s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
  assert.deepEqual([...new Set(allowed)].sort(), [...new Set(fromContext)].sort());
  for (const p of fromContext) assert.ok(existsSync(p), `${p} is in the repository`);
});

test('every package the built program loads is a production dependency', () => {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.js')) {
        const text = readFileSync(p, 'utf8');
        const specs = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
        // createRequire(import.meta.url)('pkg'): loaded lazily, still needed.
        for (const m of text.matchAll(/createRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
        for (const s of specs) {
          if (s.startsWith('.') || s.startsWith('node:') || builtinModules.includes(s)) continue;
          found.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
        }
      }
    }
  };
  walk('dist/src');
  assert.ok(found.has('zod') && found.has('hdr-histogram-js'), [...found].join(', '));
  const missing = [...found].filter((p) => PKG.dependencies[p] === undefined);
  assert.deepEqual(missing, [], 'imported by dist/src but pruned from the image (move them to dependencies)');
});

test('the parser joins continuation lines and substitutes ARG defaults in FROM', () => {
  const { stages: s } = parseDockerfile('# syntax=docker/dockerfile:1\nARG V=24\nFROM node:${V}-slim AS b\nRUN a \\\n  # note\n  && b\nFROM node:$V-slim\nUSER 1000\n');
  assert.deepEqual(
    s.map((x) => [x.name, x.image, x.body.map((i) => `${i.op} ${i.args}`)]),
    [
      ['b', 'node:24-slim', ['RUN a  && b']],
      [undefined, 'node:24-slim', ['USER 1000']],
    ],
  );
  assert.throws(() => parseDockerfile('FROM node:${NOPE}\n'), /NOPE has no default/);
});
