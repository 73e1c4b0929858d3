/**
 * The proxy under soak: the real program (`node dist/src/cli/main.js run
 * --config FILE`, with the V8 flags its launcher passes) in a process of its
 * own, configured with port 0 everywhere. The ports come from its log lines
 * ("listening" per listener, "admin listening"); metrics from its admin
 * server; memory from /proc.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { switchyardCli, switchyardNodeFlags } from '../../bench/lib/switchyard.js';
import { spawnChild, type Child } from './child.js';

export interface ProxyProcess {
  readonly pid: number;
  readonly child: Child;
  readonly adminPort: number;
  /** Port of each listener, by name. */
  readonly ports: ReadonlyMap<string, number>;
  metricsText(): Promise<string>;
  /** Resident set size (VmRSS) in bytes. */
  rssBytes(): number;
  /** SIGTERM (graceful drain), then the exit status. */
  stop(graceMs?: number): Promise<number | string>;
}

interface LogRecord {
  msg?: string;
  listener?: string;
  address?: string;
  level?: number;
}

export async function startProxyProcess(yaml: string, listenerNames: readonly string[], readyTimeoutMs = 20_000): Promise<ProxyProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-soak-'));
  const file = path.join(dir, 'switchyard.yaml');
  writeFileSync(file, yaml);
  const child = spawnChild('switchyard', process.execPath, [...switchyardNodeFlags(), switchyardCli, 'run', '--config', file]);
  const ports = new Map<string, number>();
  let adminPort = 0;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the proxy did not log its ports within ${readyTimeoutMs} ms:\n${child.tail()}`)), readyTimeoutMs);
    void child.exited.then((s) => {
      clearTimeout(timer);
      reject(new Error(`the proxy exited (${s}) before listening:\n${child.tail()}`));
    });
    child.onLine((line) => {
      let rec: LogRecord;
      try {
        rec = JSON.parse(line) as LogRecord;
      } catch {
        return;
      }
      const port = Number(rec.address?.split(':').pop());
      if (rec.msg === 'admin listening') adminPort = port;
      if (rec.msg === 'listening' && rec.listener !== undefined) ports.set(rec.listener, port);
      if (adminPort > 0 && listenerNames.every((n) => ports.has(n))) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    await ready;
  } catch (e) {
    await child.stop(1_000);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    pid: child.pid,
    child,
    adminPort,
    ports,
    metricsText: () => httpGetText(adminPort, '/metrics'),
    rssBytes: () => rssOf(child.pid),
    async stop(graceMs = 15_000) {
      const s = await child.stop(graceMs);
      rmSync(dir, { recursive: true, force: true });
      return s;
    },
  };
}

export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export function httpGetText(port: number, urlPath: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`GET ${urlPath}: ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
