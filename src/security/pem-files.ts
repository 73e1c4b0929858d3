/**
 * Certificate, key and CA files of a TLS setting: read, checked together,
 * and watched. A replacement (cert-manager, Kubernetes secret volumes and
 * `mv` all rename a new file into place; the directory is watched, not the
 * inode) is read again, checked, and only then handed on, so a half-written
 * or mismatched pair never replaces a working one: the old material stays
 * and the error says which file and why. Off the request path.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { basename, dirname, resolve } from 'node:path';
import { certificateIdentity } from './identity.js';

export interface PemPaths {
  cert?: string;
  key?: string;
  ca?: string;
}

/** What the files held, checked. */
export interface PemMaterial {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  /** Expiry of the leaf certificate (ms since the epoch), when there is a cert. */
  notAfter?: number;
  /** The leaf certificate's identity (SPIFFE ID or first DNS SAN), '' when none. */
  identity: string;
}

/** A file could not be used; the message names the setting, the file and the reason. */
export class PemError extends Error {
  override readonly name = 'PemError';
}

const SETTLE_MS = 100;
const POLL_MS = 2_000;

/**
 * Reads and checks the files now (throws PemError). `label` names the
 * setting in messages: `listeners[0].tls`.
 */
export function loadPem(paths: PemPaths, label: string): PemMaterial {
  const read = (key: keyof PemPaths): Buffer | undefined => {
    const p = paths[key];
    if (p === undefined) return undefined;
    try {
      return readFileSync(p);
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new PemError(`${label}.${key} ${p}: cannot read: ${why}`);
    }
  };
  const cert = read('cert');
  const key = read('key');
  const ca = read('ca');
  const m: PemMaterial = { cert, key, ca, identity: '' };
  if (cert !== undefined) {
    let x: X509Certificate;
    try {
      x = new X509Certificate(cert);
    } catch (err) {
      throw new PemError(`${label}.cert ${paths.cert}: not a PEM certificate (${(err as Error).message})`);
    }
    m.notAfter = Date.parse(x.validTo);
    const id = certificateIdentity(cert);
    if ('error' in id) throw new PemError(`${label}.cert ${paths.cert}: ${id.error}`);
    m.identity = id.identity;
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new PemError(`${label}.ca ${paths.ca}: not a PEM certificate (${(err as Error).message})`);
    }
  }
  try {
    // Node checks that the key belongs to the certificate here.
    createSecureContext({ cert, key, ca });
  } catch (err) {
    throw new PemError(`${label}: ${paths.cert ?? ''} and ${paths.key ?? ''} cannot be used together: ${(err as Error).message}`);
  }
  return m;
}

/** Loaded files that follow replacements on disk. */
export class PemFiles {
  current: PemMaterial;
  private readonly watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private closed = false;
  private lastError = '';

  /** Loads at once: throws PemError when the files cannot be used. */
  constructor(
    readonly paths: PemPaths,
    readonly label: string,
    private readonly onChange: (m: PemMaterial) => void,
    private readonly onError: (message: string) => void,
    options: { pollInterval?: number } = {},
  ) {
    this.current = loadPem(paths, label);
    const files = [paths.cert, paths.key, paths.ca].filter((p): p is string => p !== undefined).map((p) => resolve(p));
    const names = new Set(files.map((f) => basename(f)));
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, (_e, file) => {
          // Kubernetes secret volumes swap a `..data` symlink: any such change may be ours.
          if (file !== null && !names.has(String(file)) && !String(file).startsWith('..')) return;
          this.schedule();
        });
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch {
        // No events on this file system: the poll below still notices.
      }
    }
    this.poll = setInterval(() => this.reload(), options.pollInterval ?? POLL_MS);
    this.poll.unref();
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) w.close();
    if (this.poll !== undefined) clearInterval(this.poll);
    if (this.settle !== undefined) clearTimeout(this.settle);
  }

  private schedule(): void {
    if (this.settle !== undefined) clearTimeout(this.settle);
    this.settle = setTimeout(() => {
      this.settle = undefined;
      this.reload();
    }, SETTLE_MS);
    this.settle.unref();
  }

  /** Reads the files again; hands on new material only when it changed and is usable. */
  reload(): void {
    if (this.closed) return;
    let m: PemMaterial;
    try {
      m = loadPem(this.paths, this.label);
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastError) {
        this.lastError = message;
        this.onError(message);
      }
      return;
    }
    this.lastError = '';
    const c = this.current;
    if (same(c.cert, m.cert) && same(c.key, m.key) && same(c.ca, m.ca)) return;
    this.current = m;
    this.onChange(m);
  }
}

function same(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}
