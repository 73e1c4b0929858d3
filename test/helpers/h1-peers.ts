/**
 * HTTP/1.1 peers for end-to-end tests: node:http backends and clients that
 * can send `Expect: 100-continue`, real curl, and nginx started in a private
 * temporary prefix. Everything listens on 127.0.0.1 with ephemeral ports.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findExecutable, freePort } from '../../bench/lib/processes.js';

export interface H1Backend {
  port: number;
  server: http.Server;
  /** Requests received. */
  requests: number;
  close(): Promise<void>;
}

/** A node:http backend on 127.0.0.1 running `handler`. */
export async function startH1Backend(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<H1Backend> {
  const server = http.createServer();
  const b: H1Backend = {
    port: 0,
    server,
    requests: 0,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  server.on('request', (req, res) => {
    b.requests++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as net.AddressInfo).port;
  return b;
}

export interface H1Result {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** A `100 Continue` arrived before the final response. */
  continued: boolean;
}

export interface H1RequestOptions {
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer;
  /** Send `Expect: 100-continue` and the body only after a `100 Continue`. */
  expectContinue?: boolean;
  agent?: http.Agent | false;
}

/**
 * One request with node's HTTP/1.1 client. Resolves with the final response
 * once its body has ended; an error writing the request body after the
 * response has arrived (the server answered early and closed) is not a failure.
 */
export function h1Request(port: number, o: H1RequestOptions = {}): Promise<H1Result> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...o.headers };
    if (o.body !== undefined) headers['content-length'] = o.body.length;
    if (o.expectContinue) headers.expect = '100-continue';
    let continued = false;
    let responded = false;
    const req = http.request(
      { host: '127.0.0.1', port, method: o.method ?? (o.body ? 'POST' : 'GET'), path: o.path ?? '/', headers, agent: o.agent ?? false },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), continued }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => {
      if (!responded) reject(e);
    });
    if (o.expectContinue) {
      req.on('continue', () => {
        continued = true;
        req.end(o.body);
      });
      req.flushHeaders();
    } else {
      req.end(o.body);
    }
  });
}

export interface CurlResult {
  status: number;
  body: Buffer;
  stderr: string;
}

/** Runs curl with `args` (the URL among them); the status comes from `-w %{http_code}`. */
export function curl(args: readonly string[]): Promise<CurlResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'swy-curl-'));
  const out = path.join(dir, 'body');
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '20', '-o', out, '-w', '%{http_code}', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      let body = Buffer.alloc(0);
      try {
        body = readFileSync(out);
      } catch {
        // no body written
      }
      rmSync(dir, { recursive: true, force: true });
      if (err && stdout === '') return reject(new Error(`curl failed: ${stderr || err.message}`));
      resolve({ status: Number(stdout), body, stderr });
    });
  });
}

/** A temporary file of `size` pseudo-random bytes; removed with `cleanup()`. */
export function tempFile(size: number): { file: string; data: Buffer; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'swy-upload-'));
  const file = path.join(dir, 'upload.bin');
  const data = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  writeFileSync(file, data);
  return { file, data, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export { findExecutable, freePort };

export interface Nginx {
  port: number;
  stop(): Promise<void>;
}

/**
 * nginx as an HTTP/1.1 backend in a private prefix (one process, foreground).
 * `serverBlock` is the body of the `server {}` block, without `listen`.
 */
export function startNginx(bin: string, serverBlock: string): Promise<Nginx> {
  return startNginxServer(bin, 'swy-nginx-', '', serverBlock);
}

/**
 * nginx in a private prefix (one process, foreground) with one server on a
 * free loopback port: `listenParams` follow the address on its `listen` line
 * (e.g. "ssl http2"), `serverBody` is the rest of the `server {}` block.
 * Resolves once the port accepts connections.
 */
export async function startNginxServer(bin: string, prefix: string, listenParams: string, serverBody: string): Promise<Nginx> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const port = await freePort();
  const conf = `daemon off;
master_process off;
worker_processes 1;
error_log stderr error;
pid ${path.join(dir, 'nginx.pid')};
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${path.join(dir, 'body')};
    proxy_temp_path ${path.join(dir, 'proxy')};
    fastcgi_temp_path ${path.join(dir, 'fastcgi')};
    uwsgi_temp_path ${path.join(dir, 'uwsgi')};
    scgi_temp_path ${path.join(dir, 'scgi')};
    server {
        listen 127.0.0.1:${port}${listenParams === '' ? '' : ` ${listenParams}`};
${serverBody}
    }
}
`;
  const confPath = path.join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child: ChildProcess = spawn(bin, ['-e', 'stderr', '-p', dir + '/', '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => stderr);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, stop };
}

/** Polls (bounded: 10 s) until 127.0.0.1:port accepts a connection; fails early if `owner` exits. */
async function waitForPort(port: number, owner: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (owner.exitCode !== null) throw new Error(`nginx exited (${owner.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${output()}`);
}

/** Rejects if `promise` has not settled within `ms` (a wedged connection would hang a test for good). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface HoldingBackend {
  port: number;
  /** Requests whose head arrived and that wait for answer(). */
  readonly waiting: number;
  /** Answers every waiting upload with 413 (its body still unread). */
  answer(): void;
  close(): Promise<void>;
}

/**
 * A raw HTTP/1.1 backend (keep-alive) that reads no request body before it is
 * told to answer: POST /upload reads the head only, then stops reading and
 * waits for answer() (413); POST /sink reads the whole body (content-length)
 * and answers 200 "ok"; anything else gets 200 "ok" at once.
 */
export async function startHoldingBackend(): Promise<HoldingBackend> {
  const sockets = new Set<net.Socket>();
  const waiting: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    let buf = Buffer.alloc(0);
    let bodyLeft = -1;
    s.on('data', (d: Buffer) => {
      if (bodyLeft >= 0) {
        bodyLeft -= d.length;
        if (bodyLeft <= 0) {
          bodyLeft = -1;
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
        return;
      }
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const rest = buf.length - end - 4;
      buf = Buffer.alloc(0);
      if (head.startsWith('POST /upload')) {
        s.pause();
        waiting.push(s);
      } else if (head.startsWith('POST /sink')) {
        const m = /content-length: *(\d+)/i.exec(head);
        bodyLeft = Number(m?.[1] ?? 0) - rest;
        if (bodyLeft <= 0) {
          bodyLeft = -1;
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      } else {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    get waiting() {
      return waiting.length;
    },
    answer() {
      for (const s of waiting.splice(0)) s.write('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\n\r\ntoo large');
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
