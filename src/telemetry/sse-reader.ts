/** One Server-Sent Events message: its event name and its data. */
export interface SseMessage {
  /** The `event:` field; "message" when absent. */
  event: string;
  /** The `data:` lines joined by "\n"; "" for a message without data (a comment or keep-alive). */
  data: string;
}

/**
 * Reassembles Server-Sent Events (the tap's wire format, WHATWG HTML
 * "Server-sent events") from text chunks: a message ends at a blank line.
 * Only the `event` and `data` fields are read; the tap sends no others.
 */
export class SseReader {
  private buffer = '';

  /** Adds a chunk of the stream and returns the messages it completed, in order. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      let data: string | undefined;
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data = data === undefined ? line.slice(6) : `${data}\n${line.slice(6)}`;
      }
      messages.push({ event, data: data ?? '' });
    }
    return messages;
  }
}
