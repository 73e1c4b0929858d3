/**
 * One request as a client sees it, over node:http2 or node:http: uploads a
 * deterministic body (optionally stopping part way and cancelling), reads the
 * response with a running digest (optionally pausing, or cancelling part
 * way), and always resolves with what happened instead of throwing, so the
 * scenario can say whether that was the expected outcome.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { Digest } from './payload.js';
import { writeBody } from './streams.js';

const { NGHTTP2_CANCEL } = http2.constants;

export interface CallSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** Request body (seed, size); `stopAt` sends only that many bytes, then cancels. */
  upload?: { seed: number; size: number; stopAt?: number; chunk?: number };
  /** Cancel once this many response body bytes have arrived. */
  cancelDownAt?: number;
  /** A slow reader: pause `pauseMs` after every `everyBytes`, at most `maxPauses` times. */
  slow?: { everyBytes: number; pauseMs: number; maxPauses: number };
  /** Keep the first `keep` bytes of the response body (to check a cut-off body's prefix). */
  keep?: number;
}

export interface CallResult {
  status?: number;
  headers: Record<string, unknown>;
  bytes: number;
  sha256: string;
  kept: Buffer;
  /** The response ended normally (END_STREAM / complete HTTP/1.1 message). */
  ended: boolean;
  /** This client cancelled the request. */
  cancelled: boolean;
  /** RST_STREAM code that closed the stream (HTTP/2 only). */
  rstCode?: number;
  /** Error code (err.code or message) seen on the request or response. */
  error?: string;
}

/** Reads a response body: digest, kept prefix, slow-reader pauses, cancelling part way. */
class ResponseReader {
  readonly result: CallResult = { headers: {}, bytes: 0, sha256: '', kept: Buffer.alloc(0), ended: false, cancelled: false };
  private readonly digest = new Digest();
  private readonly kept: Buffer[] = [];
  private pauses = 0;
  private nextPauseAt: number;

  constructor(private readonly spec: CallSpec) {
    this.nextPauseAt = spec.slow?.everyBytes ?? Infinity;
  }

  onData(chunk: Buffer, pause: () => void, resume: () => void, cancel: () => void): void {
    const res = this.result;
    this.digest.update(chunk);
    res.bytes = this.digest.bytes;
    if (res.kept.length < (this.spec.keep ?? 0)) {
      this.kept.push(chunk);
      res.kept = Buffer.concat(this.kept);
    }
    if (this.spec.cancelDownAt !== undefined && res.bytes >= this.spec.cancelDownAt && !res.cancelled) {
      cancel();
      return;
    }
    const slow = this.spec.slow;
    if (slow !== undefined && res.bytes >= this.nextPauseAt && this.pauses < slow.maxPauses) {
      this.pauses++;
      this.nextPauseAt = res.bytes + slow.everyBytes;
      pause();
      setTimeout(resume, slow.pauseMs);
    }
  }

  /** Called once, when nothing more can arrive. */
  finish(): CallResult {
    this.result.sha256 = this.digest.hex();
    return this.result;
  }
}

/** One request on an open node:http2 client session. `abort` destroys the stream (a hang). */
export function h2Call(session: http2.ClientHttp2Session, spec: CallSpec, abort: AbortSignal): Promise<CallResult> {
  return new Promise((resolve) => {
    const r = new ResponseReader(spec);
    const res = r.result;
    const headers: http2.OutgoingHttpHeaders = { ':method': spec.method, ':path': spec.path, ...spec.headers };
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request(headers, { endStream: spec.upload === undefined });
    } catch (e) {
      res.error = (e as NodeJS.ErrnoException).code ?? String(e);
      resolve(r.finish());
      return;
    }
    const cancel = (): void => {
      res.cancelled = true;
      req.close(NGHTTP2_CANCEL);
    };
    const onAbort = (): void => {
      req.destroy(new Error('soak watchdog'));
    };
    abort.addEventListener('abort', onAbort, { once: true });
    req.on('response', (h) => {
      res.status = Number(h[':status']);
      res.headers = h;
    });
    req.on('data', (d: Buffer) => r.onData(d, () => req.pause(), () => req.resume(), cancel));
    req.on('end', () => {
      if (!res.cancelled) res.ended = true;
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      res.error ??= e.code ?? e.message;
    });
    req.on('close', () => {
      abort.removeEventListener('abort', onAbort);
      if (req.rstCode !== undefined && req.rstCode !== 0) res.rstCode = req.rstCode;
      resolve(r.finish());
    });
    if (spec.upload !== undefined) {
      const u = spec.upload;
      void writeBody(req, u.seed, u.size, { stopAt: u.stopAt, end: u.stopAt === undefined, chunk: u.chunk }).then((done) => {
        if (done && u.stopAt !== undefined && !req.closed) cancel();
      });
    }
  });
}

/** One request over HTTP/1.1 (`agent` false: a connection of its own). `abort` destroys it. */
export function h1Call(port: number, agent: http.Agent | false, spec: CallSpec, abort: AbortSignal): Promise<CallResult> {
  return new Promise((resolve) => {
    const r = new ResponseReader(spec);
    const res = r.result;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      abort.removeEventListener('abort', onAbort);
      resolve(r.finish());
    };
    const headers: http.OutgoingHttpHeaders = { ...spec.headers };
    if (spec.upload !== undefined && spec.upload.stopAt === undefined) headers['content-length'] = String(spec.upload.size);
    const req = http.request({ host: '127.0.0.1', port, method: spec.method, path: spec.path, headers, agent });
    const cancel = (): void => {
      res.cancelled = true;
      req.destroy();
    };
    const onAbort = (): void => {
      req.destroy(new Error('soak watchdog'));
    };
    abort.addEventListener('abort', onAbort, { once: true });
    req.on('response', (msg) => {
      res.status = msg.statusCode;
      res.headers = msg.headers;
      msg.on('data', (d: Buffer) => r.onData(d, () => msg.pause(), () => msg.resume(), cancel));
      msg.on('end', () => {
        if (msg.complete && !res.cancelled) res.ended = true;
      });
      // A response cut short is "aborted", whichever event and code this Node version reports it with.
      msg.on('aborted', () => {
        res.error ??= 'aborted';
      });
      msg.on('error', () => {
        res.error ??= 'aborted';
      });
      msg.on('close', settle);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      res.error ??= e.code ?? e.message;
      // With no response, the request's close is the end; with one, the response's.
      if (res.status === undefined) settle();
    });
    req.on('close', () => {
      if (res.status === undefined) settle();
    });
    if (spec.upload === undefined) req.end();
    else {
      const u = spec.upload;
      void writeBody(req, u.seed, u.size, { stopAt: u.stopAt, end: u.stopAt === undefined, chunk: u.chunk }).then((done) => {
        if (done && u.stopAt !== undefined) cancel();
      });
    }
  });
}

/** Opens an HTTP/2 connection with the given receive windows (stream: SETTINGS; connection: WINDOW_UPDATE). */
export function h2Connect(port: number, streamWindow: number, connectionWindow: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`, {
      settings: { initialWindowSize: streamWindow, enablePush: false },
      // node:http2 refuses new streams past this much buffered outgoing data per session.
      maxSessionMemory: 64,
    });
    const fail = (e: Error): void => reject(e);
    s.once('error', fail);
    s.once('connect', () => {
      s.off('error', fail);
      s.on('error', () => {});
      if (connectionWindow > 65_535) s.setLocalWindowSize(connectionWindow);
      resolve(s);
    });
  });
}

export function closeH2(s: http2.ClientHttp2Session): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => s.destroy(), 5_000);
    s.once('close', () => {
      clearTimeout(t);
      r();
    });
    s.close();
  });
}
