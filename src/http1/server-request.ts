import { BodyKind, type ParsedHead } from './request-head.js';
import type { H1ServerConnection } from './server-connection.js';

/** What an HTTP/1.1 request tells its owner (the proxy's exchange). */
export interface H1RequestHandler {
  /** Request body bytes: a view of a socket read, kept by reference is fine (never reused). */
  onBodyData(req: H1ServerRequest, data: Buffer): void;
  /** The request body ended (also right after onRequest for a request without body). */
  onBodyEnd(req: H1ServerRequest): void;
  /** The connection closed before the response went out whole. */
  onAborted(req: H1ServerRequest): void;
  /** Bytes refused by write() (it returned false) have left for the socket. */
  onDrain(req: H1ServerRequest): void;
}

/**
 * One request on an HTTP/1.1 connection and its response: the parsed head,
 * body state, and the calls that write the answer. Plain fields, one object
 * per request; the connection does the framing and the writes.
 */
export class H1ServerRequest implements ParsedHead {
  method = '';
  target = '';
  minor = 1;
  fields: string[] = [];
  bodyKind = BodyKind.None;
  contentLength = 0;
  keepAlive = true;
  expectContinue = false;
  upgrade = '';
  host = '';
  handler: H1RequestHandler | null = null;
  /** The request body has been read whole. */
  complete = false;
  /** The response's head has been written. */
  headersSent = false;
  /** The response has been written whole. */
  finished = false;
  /** The connection closes after this response. */
  closeAfter = false;
  /** Response framing: chunked (else a length, none, or until close). */
  chunkedOut = false;
  /** The response has no content (HEAD, 204, 304): bytes given to write() are dropped. */
  noContent = false;
  /** Set once the connection stopped reading for this request (pause()). */
  paused = false;

  constructor(readonly conn: H1ServerConnection) {}

  get encrypted(): boolean {
    return this.conn.encrypted;
  }

  get remoteAddress(): string | undefined {
    return this.conn.socket.remoteAddress;
  }

  /**
   * Writes the response head. `fields` are end-to-end fields with lower-case
   * names; framing (content-length or chunked) and `connection` are added
   * here. `close`: the connection must not carry another request.
   */
  respond(status: number, fields: readonly string[], endStream: boolean, close = false): void {
    this.conn.respond(this, status, fields, endStream, close);
  }

  /** Response body bytes; false once the connection buffers more than its high-water mark (wait for onDrain). */
  write(data: Buffer): boolean {
    return this.conn.writeBody(this, data);
  }

  /** Ends the response; trailers go out in the chunked coding only (RFC 9112 §7.1.2). */
  end(trailers?: readonly string[]): void {
    this.conn.endResponse(this, trailers);
  }

  /** A 1xx response (RFC 9110 §15.2): 100 Continue, 102, 103 with its fields. */
  informational(status: number, fields?: readonly string[]): void {
    this.conn.informational(this, status, fields);
  }

  /** Stops / restarts reading the request body (back-pressure). */
  pause(): void {
    this.paused = true;
    this.conn.updateReading();
  }

  resume(): void {
    this.paused = false;
    this.conn.updateReading();
  }

  /** The response cannot be completed: what was written goes out, then the connection closes. */
  abort(): void {
    this.conn.closeAfterFlush();
  }
}
