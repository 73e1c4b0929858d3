/**
 * node:http2 and node:http requests that report how they ended, whatever
 * happened: a complete response, a reset stream, a cut connection. Tests of
 * failure paths need the outcome, not a rejected promise.
 */
import http from 'node:http';
import http2 from 'node:http2';

export interface Outcome {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The response ended normally (node also emits 'end' for a stream cut by a closing session, with an rstCode). */
  complete: boolean;
  /** HTTP/2: the RST_STREAM code (0 for a normal close). */
  rstCode: number;
  /** The error code or message, '' when none. */
  error: string;
  /** performance.now() when the request was sent and when it closed. */
  startedAt: number;
  at: number;
}

/**
 * One HTTP/2 request; `outcome` resolves when the stream closes. With `body`,
 * that much is written now and the stream stays open for the test to write
 * more and end it (`req.end()`).
 */
export function track(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string | Buffer,
): { outcome: Promise<Outcome>; req: http2.ClientHttp2Stream } {
  const startedAt = performance.now();
  const req = session.request(headers, { endStream: body === undefined });
  const outcome = new Promise<Outcome>((resolve) => {
    let status = 0;
    let resHeaders: Outcome['headers'] = {};
    let ended = false;
    let error = '';
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      resHeaders = h;
    });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => (ended = true));
    req.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    req.on('close', () => {
      const rstCode = req.rstCode ?? 0;
      resolve({
        status, headers: resHeaders, body: Buffer.concat(chunks), complete: ended && rstCode === 0 && error === '',
        rstCode, error, startedAt, at: performance.now(),
      });
    });
  });
  if (body !== undefined) req.write(body);
  return { outcome, req };
}

/**
 * One HTTP/1.1 request on a fresh connection; `outcome` resolves when the
 * response ended or the request failed. With `body`, that much is written and
 * the request stays open for the test to finish (`req.end()`) or cut.
 */
export function trackH1(
  port: number,
  options: http.RequestOptions,
  body?: Buffer | string,
): { outcome: Promise<Outcome>; req: http.ClientRequest } {
  const startedAt = performance.now();
  const req = http.request({ host: '127.0.0.1', port, agent: false, ...options });
  const outcome = new Promise<Outcome>((resolve) => {
    let status = 0;
    let resHeaders: Outcome['headers'] = {};
    let error = '';
    let complete = false;
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), complete, rstCode: 0, error, startedAt, at: performance.now() });
    };
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      resHeaders = res.headers;
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        complete = res.complete;
        done();
      });
      res.on('aborted', () => (error ||= 'aborted'));
      res.on('error', (e: NodeJS.ErrnoException) => (error ||= e.code ?? e.message));
      res.on('close', done);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      error ||= e.code ?? e.message;
      done();
    });
  });
  if (body !== undefined) req.write(body);
  else req.end();
  return { outcome, req };
}
