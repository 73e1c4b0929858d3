/**
 * Endpoints from a YAML or JSON file: a list in the same forms as a service's
 * `endpoints` ("host:port" or { address, weight }). The file is watched, and
 * replacing it by rename (what editors, `mv` and Kubernetes ConfigMap volumes
 * do) is seen as well as writing it in place: the directory is watched, not
 * the file's inode, and a slow poll covers file systems without events. A
 * file that does not parse keeps the last good set; the error names the
 * path, the line and the reason.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { yaml } from '../config/yaml.js';
import { z } from 'zod';
import { endpointSchema } from '../config/index.js';
import { fromConfig } from './static-source.js';
import type { DiscoverySink, DiscoverySource } from './types.js';

const fileSchema = z.array(endpointSchema);

/** Rewrites in place come as several events: read once they settle. */
const SETTLE_MS = 50;
/** The safety net for file systems that send no events (some network and overlay mounts). */
const POLL_MS = 2_000;

export class FileSource implements DiscoverySource {
  readonly kind = 'file';
  readonly description: string;
  private readonly path: string;
  private watcher: FSWatcher | undefined = undefined;
  private settle: NodeJS.Timeout | undefined = undefined;
  private poll: NodeJS.Timeout | undefined = undefined;
  private sink: DiscoverySink | undefined = undefined;
  private stopped = false;
  private reading = false;
  private again = false;
  /** The text last read (parsed or not): an unchanged file is not parsed again. */
  private lastText: string | undefined = undefined;

  constructor(path: string, private readonly options: { pollInterval?: number } = {}) {
    this.path = resolve(path);
    this.description = `file ${path}`;
  }

  start(sink: DiscoverySink): void {
    this.sink = sink;
    this.watchDirectory();
    this.poll = setInterval(() => {
      if (this.watcher === undefined) this.watchDirectory();
      void this.read();
    }, this.options.pollInterval ?? POLL_MS);
    this.poll.unref();
    void this.read();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.settle !== undefined) clearTimeout(this.settle);
    if (this.poll !== undefined) clearInterval(this.poll);
  }

  private watchDirectory(): void {
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Kubernetes ConfigMap volumes swap a `..data` symlink: any change in the directory may be ours.
        if (file !== null && file !== name && !String(file).startsWith('..')) return;
        if (this.settle !== undefined) clearTimeout(this.settle);
        this.settle = setTimeout(() => {
          this.settle = undefined;
          void this.read();
        }, SETTLE_MS);
        this.settle.unref();
      });
      this.watcher.on('error', () => {
        // The directory went away: the poll watches again once it is back.
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined;
    }
  }

  private async read(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      let text: string;
      try {
        text = await readFile(this.path, 'utf8');
      } catch (err) {
        if (this.stopped) return;
        const code = (err as { code?: string }).code;
        const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
        this.lastText = undefined;
        this.sink?.error(`${this.description}: cannot read: ${why}`);
        return;
      }
      if (this.stopped || text === this.lastText) return;
      this.lastText = text;
      const parsed = parseEndpointFile(text, this.path);
      if (typeof parsed === 'string') this.sink?.error(parsed);
      else this.sink?.update(parsed.map((e) => fromConfig(e)));
    } finally {
      this.reading = false;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.read();
      }
    }
  }
}

/**
 * The endpoints of a discovery file, or an error naming the path, the line
 * and the reason: `file /etc/web.yaml line 3: [1].address: invalid address …`.
 * An empty file is an error (a writer caught half-way must not empty the
 * service); an explicit `[]` is an empty set.
 */
export function parseEndpointFile(text: string, path: string): z.output<typeof fileSchema> | string {
  if (text.trim() === '') return `file ${path}: the file is empty (write [] for no endpoints)`;
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
    return `file ${path} line ${line}: ${e.message.split('\n')[0]}`;
  }
  const value: unknown = doc.toJS();
  const r = fileSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  // The deepest node on the issue's path (a "host:port" string stands for { address }).
  let node: { range?: [number, number, number] } | undefined;
  for (let n = issue.path.length; n >= 0 && node?.range === undefined; n--) {
    node = doc.getIn(issue.path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
  }
  const where = node?.range !== undefined ? ` line ${lines.linePos(node.range[0]).line}` : '';
  const at = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
  return `file ${path}${where}: ${at === '' ? '' : `${at}: `}${issue.message}`;
}
