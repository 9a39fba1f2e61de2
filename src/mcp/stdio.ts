/**
 * The stdio transport: the SDK's own, behind a check of every line (malformed.ts). Left to itself, the SDK drops a
 * line that is not a JSON-RPC message it can parse (not JSON, a list, an object of another shape, `params` that is
 * not an object) and reports only the error, so the client never hears back and waits until its own timeout. Here
 * each line is read first: one the SDK would drop is answered with the JSON-RPC error it calls for, after the
 * refusal is on record (`onrefused`), and the others go on to the SDK unchanged. The session goes on either way.
 */
import { PassThrough, type Readable, type Writable } from "node:stream";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { checkMessage, errorResponse, notJson, tooLarge, type Refusal } from "./malformed.js";

/**
 * The longest line read, its newline included: the SDK's own limit for a message. A longer line is refused once
 * it is this long (its rest is skipped), where the SDK would have closed the session.
 */
export const MAX_LINE_BYTES = 10 * 1024 * 1024;

const NEWLINE = 0x0a;

export class CheckedStdioServerTransport extends StdioServerTransport {
  /** Puts a refused line on record; its answer is written once this settles. */
  onrefused?: (refusal: Refusal) => Promise<void>;

  private readonly input: Readable;
  /** What the SDK's transport reads: the lines that passed, one write each. */
  private readonly passed: PassThrough;
  private readonly maxLineBytes: number;
  /** The start of a line whose newline has not come yet. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The rest of a line refused as too long, up to its newline, is not read. */
  private skipping = false;
  /** Refusals whose record is being written (their answers follow at once). */
  private readonly refusing = new Set<Promise<void>>();

  constructor(stdin: Readable = process.stdin, stdout: Writable = process.stdout, maxLineBytes = MAX_LINE_BYTES) {
    const passed = new PassThrough();
    super(passed, stdout, { maxBufferSize: maxLineBytes });
    this.input = stdin;
    this.passed = passed;
    this.maxLineBytes = maxLineBytes;
  }

  override async start(): Promise<void> {
    await super.start();
    this.input.on("data", this.read);
    this.input.on("error", this.failed);
  }

  override async close(): Promise<void> {
    this.input.off("data", this.read);
    this.input.off("error", this.failed);
    // As the SDK does with stdin: paused unless someone else reads it too.
    if (this.input.listenerCount("data") === 0) this.input.pause();
    this.partial = [];
    this.partialBytes = 0;
    this.skipping = false;
    await super.close();
  }

  /** Resolves once every line refused so far is on record and its answer written. */
  async refusalsAnswered(): Promise<void> {
    await Promise.all(this.refusing);
  }

  private readonly failed = (error: Error): void => this.onerror?.(error);

  private readonly read = (chunk: Buffer): void => {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      this.complete(chunk.subarray(start, end));
      start = end + 1;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
  };

  private hold(part: Buffer): void {
    if (this.skipping) return;
    this.partial.push(part);
    this.partialBytes += part.length;
    if (this.partialBytes + 1 > this.maxLineBytes) {
      this.partial = [];
      this.partialBytes = 0;
      this.skipping = true;
      this.refuse(tooLarge("the message", this.maxLineBytes));
    }
  }

  /** A line's last part has come (`end`, without its newline). */
  private complete(end: Buffer): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const line = this.partial.length === 0 ? end : Buffer.concat([...this.partial, end]);
    this.partial = [];
    this.partialBytes = 0;
    if (line.length + 1 > this.maxLineBytes) return this.refuse(tooLarge("the message", this.maxLineBytes));
    const text = line.toString("utf8").replace(/\r$/, "");
    // A blank line carries nothing to answer.
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.refuse(notJson("the line"));
    }
    const refusal = checkMessage(value, false);
    if (refusal) return this.refuse(refusal);
    this.passed.write(`${text}\n`);
  }

  private refuse(refusal: Refusal): void {
    const recorded = (this.onrefused?.(refusal) ?? Promise.resolve()).catch(() => undefined);
    const answered = recorded.then(() => {
      // Written now; the promise send returns waits for a client that reads slowly, which nothing here needs.
      if (refusal.answer) void this.send(errorResponse(refusal));
    });
    this.refusing.add(answered);
    void answered.finally(() => this.refusing.delete(answered));
  }
}
