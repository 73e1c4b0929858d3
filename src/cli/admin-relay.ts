/**
 * Worker mode: admin routes the primary does not merge itself (any route a
 * worker's admin server has, now or later) are relayed to the workers' own
 * admin servers, which listen on private Unix sockets in a directory only
 * this user can open. A read goes to the first worker and streams back as
 * it answers; a change (POST, PUT, DELETE…) goes to every worker, and
 * succeeds only if every worker's answer does.
 */
import http from 'node:http';
import type { WorkerSlot } from './workers.js';

/** Fields that belong to one connection (RFC 9110 §7.6.1), not to the message relayed. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
const MAX_BODY = 1 << 20;
const MAX_ANSWER = 4 << 20;

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
  return out;
}

function text(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
}

/** Relays one admin request; `workers`: the serving workers, by index. */
export function relayAdmin(req: http.IncomingMessage, res: http.ServerResponse, workers: readonly WorkerSlot[], timeoutMs: number): void {
  const targets = workers.filter((w) => w.admin !== undefined);
  if (targets.length === 0) {
    text(res, 503, 'no worker serves yet\n');
    return;
  }
  if (req.method === 'GET' || req.method === 'HEAD') streamFromFirst(req, res, targets[0]!, timeoutMs);
  else void relayToEvery(req, res, targets, timeoutMs);
}

function streamFromFirst(req: http.IncomingMessage, res: http.ServerResponse, w: WorkerSlot, timeoutMs: number): void {
  const up = http.request({ socketPath: w.admin, method: req.method, path: req.url, headers: endToEnd(req.headers) });
  // Only the answer's start is timed: a stream (server-sent events) may then run as long as the client stays.
  const timer = setTimeout(() => {
    up.destroy();
    text(res, 504, `worker ${w.index} did not answer within ${timeoutMs} ms\n`, { 'x-switchyard-worker': String(w.index) });
  }, timeoutMs);
  up.once('response', (answer) => {
    clearTimeout(timer);
    res.writeHead(answer.statusCode ?? 502, { ...endToEnd(answer.headers), 'x-switchyard-worker': String(w.index) });
    answer.pipe(res);
  });
  up.once('error', (e) => {
    clearTimeout(timer);
    text(res, 502, `worker ${w.index}: ${e.message}\n`, { 'x-switchyard-worker': String(w.index) });
  });
  res.once('close', () => up.destroy());
  req.pipe(up);
}

interface Answer {
  worker: number;
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function ask(w: WorkerSlot, req: http.IncomingMessage, body: Buffer, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const failed = (status: number, why: string): void => resolve({ worker: w.index, status, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`worker ${w.index}: ${why}\n`) });
    const headers = endToEnd(req.headers);
    headers['content-length'] = body.length;
    const up = http.request({ socketPath: w.admin, method: req.method, path: req.url, headers });
    const timer = setTimeout(() => {
      up.destroy();
      failed(504, `no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    up.once('response', (answer) => {
      const chunks: Buffer[] = [];
      let size = 0;
      answer.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_ANSWER) chunks.push(c);
      });
      answer.once('end', () => {
        clearTimeout(timer);
        resolve({ worker: w.index, status: answer.statusCode ?? 502, headers: endToEnd(answer.headers), body: Buffer.concat(chunks) });
      });
      answer.once('error', (e) => {
        clearTimeout(timer);
        failed(502, e.message);
      });
    });
    up.once('error', (e) => {
      clearTimeout(timer);
      failed(502, e.message);
    });
    up.end(body);
  });
}

/**
 * Every worker gets the request; the answer is worker 0's when every worker
 * succeeded (2xx), otherwise the first failing worker's. Either way
 * x-switchyard-workers lists each worker's status and x-switchyard-worker
 * says whose body it is.
 */
async function relayToEvery(req: http.IncomingMessage, res: http.ServerResponse, targets: readonly WorkerSlot[], timeoutMs: number): Promise<void> {
  let body: Buffer | undefined;
  try {
    body = await readBody(req);
  } catch {
    return;
  }
  if (body === undefined) {
    text(res, 413, `request body over ${MAX_BODY} bytes\n`);
    return;
  }
  const answers = await Promise.all(targets.map((w) => ask(w, req, body, timeoutMs)));
  const chosen = answers.find((a) => a.status < 200 || a.status > 299) ?? answers[0]!;
  const headers: http.OutgoingHttpHeaders = {
    ...chosen.headers,
    'content-length': chosen.body.length,
    'x-switchyard-worker': String(chosen.worker),
    'x-switchyard-workers': answers.map((a) => `${a.worker}=${a.status}`).join(', '),
  };
  res.writeHead(chosen.status, headers);
  res.end(chosen.body);
}
