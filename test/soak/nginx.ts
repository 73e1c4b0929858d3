/**
 * nginx as an h2c (prior knowledge) backend for the soak, in the foreground
 * (one process, no master) with its own temporary prefix:
 *
 *   GET  /nginx/f/NAME   static files of deterministic bodies (see payload.ts)
 *   POST /nginx/limit    client_max_body_size 1k: a request announcing a
 *                        larger content-length gets 413 before nginx reads
 *                        any of its body
 *   POST /nginx/sink     204 at once; the body is read and thrown away
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findExecutable, freePort, waitForPort } from '../../bench/lib/processes.js';
import { spawnChild, type Child } from './child.js';
import { bodyBytes, bodyDigest } from './payload.js';

export interface StaticFile {
  path: string;
  seed: number;
  size: number;
  sha256: string;
}

export interface SoakNginx {
  readonly port: number;
  readonly files: readonly StaticFile[];
  readonly child: Child;
  stop(): Promise<void>;
}

export function nginxBinary(): string | undefined {
  return findExecutable('nginx');
}

/** Sizes around the frame (16 KiB), window (64 KiB) and buffer boundaries, up to 8 MiB. */
const FILE_SIZES = [0, 1, 16_384, 16_385, 65_535, 65_536, 200_000, 1 << 20, (1 << 20) + 1, 3_000_017, 8 << 20];

export async function startSoakNginx(opts: { maxFileBytes?: number } = {}): Promise<SoakNginx> {
  const bin = nginxBinary();
  if (bin === undefined) throw new Error('nginx not found in PATH or /usr/sbin (Debian/Ubuntu package: nginx-light)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-soak-nginx-'));
  const www = path.join(dir, 'www');
  mkdirSync(www);
  const files: StaticFile[] = [];
  for (const [i, size] of FILE_SIZES.entries()) {
    if (size > (opts.maxFileBytes ?? Infinity)) continue;
    const seed = 7000 + i;
    const name = `f${i}-${size}`;
    writeFileSync(path.join(www, name), bodyBytes(seed, size));
    files.push({ path: `/nginx/f/${name}`, seed, size, sha256: bodyDigest(seed, size) });
  }
  const port = await freePort();
  const conf = `daemon off;
master_process off;
worker_processes 1;
error_log stderr error;
pid ${path.join(dir, 'nginx.pid')};
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${path.join(dir, 'client_body')};
    proxy_temp_path ${path.join(dir, 'proxy')};
    fastcgi_temp_path ${path.join(dir, 'fastcgi')};
    uwsgi_temp_path ${path.join(dir, 'uwsgi')};
    scgi_temp_path ${path.join(dir, 'scgi')};
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    http2_max_concurrent_streams 1000;
    server_tokens off;
    server {
        listen 127.0.0.1:${port} http2;
        location /nginx/f/ {
            alias ${www}/;
            default_type application/octet-stream;
        }
        location = /nginx/limit {
            client_max_body_size 1k;
            return 200 "small enough";
        }
        location = /nginx/sink {
            client_max_body_size 64m;
            return 204;
        }
    }
}
`;
  const confPath = path.join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child = spawnChild('nginx', bin, ['-e', 'stderr', '-p', `${dir}/`, '-c', confPath]);
  const stop = async (): Promise<void> => {
    await child.stop(3_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort('127.0.0.1', port, 10_000);
    if (child.hasExited()) throw new Error(`nginx exited: ${child.tail()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, files, child, stop };
}
