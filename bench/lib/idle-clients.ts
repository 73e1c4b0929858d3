/**
 * Opens many idle HTTP/2 client connections (node:http2) to a server; each
 * completes one request first so the connection is fully established through
 * a proxy, then stays open and silent until closed.
 */
import http2 from "node:http2";

export interface IdleClients {
  readonly open: number;
  readonly failed: number;
  close(): Promise<void>;
}

function oneRequest(session: http2.ClientHttp2Session, pathName: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = session.request({ ":path": pathName });
    const timer = setTimeout(() => {
      req.close();
      resolve(false);
    }, timeoutMs);
    req.on("response", () => {});
    req.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    req.on("end", () => {
      clearTimeout(timer);
      resolve(true);
    });
    req.resume();
    req.end();
  });
}

export async function openIdleClients(
  host: string,
  port: number,
  count: number,
  opts: { concurrency?: number; timeoutMs?: number; path?: string } = {},
): Promise<IdleClients> {
  const sessions: http2.ClientHttp2Session[] = [];
  let failed = 0;
  const concurrency = opts.concurrency ?? 50;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const s = http2.connect(`http://${host}:${port}`);
      s.on("error", () => {});
      const ok = await oneRequest(s, opts.path ?? "/", timeoutMs);
      if (ok && !s.closed && !s.destroyed) sessions.push(s);
      else {
        failed++;
        s.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return {
    get open() {
      return sessions.filter((s) => !s.closed && !s.destroyed).length;
    },
    failed,
    close: async () => {
      for (const s of sessions) s.destroy();
      sessions.length = 0;
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}
