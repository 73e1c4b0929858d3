/** Runs h2spec (the HTTP/2 conformance suite, 146 cases) against a port. */
import { execFile } from 'node:child_process';
import path from 'node:path';

/** h2spec, the HTTP/2 conformance suite: H2SPEC, or the copy kept beside the repository. */
export const H2SPEC = process.env.H2SPEC ?? path.resolve('..', 'shared', 'tools', 'h2spec', 'h2spec');

export interface H2specResult {
  total: number;
  passed: number;
  skipped: number;
  failed: number;
  output: string;
}

/** `tls`: connect with TLS and ALPN h2 (`-t`), without verifying the certificate (`-k`). */
export function runH2spec(port: number, options: { tls?: boolean } = {}): Promise<H2specResult> {
  return new Promise((resolve, reject) => {
    execFile(H2SPEC, ['-h', '127.0.0.1', '-p', String(port), '-o', '3', ...(options.tls === true ? ['-t', '-k'] : [])], { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout) => {
      const out = String(stdout);
      const m = /(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed/.exec(out);
      if (m === null) {
        reject(err ?? new Error(`unexpected h2spec output:\n${out.slice(-2000)}`));
        return;
      }
      resolve({ total: +m[1]!, passed: +m[2]!, skipped: +m[3]!, failed: +m[4]!, output: out });
    });
  });
}

export function failures(r: H2specResult): string {
  const i = r.output.indexOf('Failures:');
  return i < 0 ? '' : r.output.slice(i, i + 4000);
}

