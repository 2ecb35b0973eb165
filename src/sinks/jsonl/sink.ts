import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import type { Sink, SinkChunk, SinkKey, SinkRecord } from "../sink.js";

/**
 * A change log: one JSON object a line, appended in delivery order.
 *
 *   {"seq","op":"upsert","key","doc_id","source","chunk_index","text","metadata","embedding"}
 *   {"seq","op":"delete","key","doc_id","source","chunk_index"}
 *
 * Replaying it from the first line (an upsert sets `key`, a delete removes it) gives the chunks
 * `docbatch export` prints. `seq` is the log's own line counter: it grows with every line, also
 * across processes, because the log continues from its last line. A redelivery after a crash
 * appends the same changes again under new numbers, which replays to the same state.
 *
 * Every call ends with an fsync, so an acknowledged change survives a power loss. A line cut short
 * by a crash was never acknowledged: it is cut off when the log is opened again.
 */
export class JsonlSink implements Sink {
  readonly uri: string;
  private fd: number | null = null;
  private seq = 0;
  private buffer = Buffer.allocUnsafe(WRITE_BYTES);

  constructor(private readonly file: string) {
    this.uri = `jsonl:${path.resolve(file)}`;
  }

  async upsert(chunks: SinkChunk[]): Promise<void> {
    await this.append(chunks, (c) =>
      this.line("upsert", c, { text: c.text, metadata: c.metadata, embedding: c.embedding }),
    );
  }

  async delete(keys: SinkKey[]): Promise<void> {
    await this.append(keys, (k) => this.line("delete", k));
  }

  /** One line of the log: its seq, the change and the chunk's key, then what an upsert holds. */
  private line(op: "upsert" | "delete", k: SinkKey, content: object = {}): string {
    return JSON.stringify({
      seq: this.next(),
      op,
      key: k.key,
      doc_id: k.doc_id,
      source: k.source,
      chunk_index: k.chunk_index,
      ...content,
    });
  }

  async *keys(): AsyncIterable<SinkRecord> {
    const state = await replayLog(this.file);
    for (const [key, line] of state) {
      yield {
        key,
        text: line.text,
        embedding: line.embedding,
        doc_id: line.doc_id,
        source: line.source,
        chunk_index: line.chunk_index,
      };
    }
  }

  async close(): Promise<void> {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private next(): number {
    this.open();
    this.seq += 1;
    return this.seq;
  }

  /**
   * Formats every line straight into one reusable buffer and writes it in large pieces, then syncs
   * once per call. Joining thousands of lines into one string first (and encoding that) cost
   * several times more than the formatting itself; each write is also a point where other work of
   * the thread (processing, when a sink runs on the main thread) gets its turn.
   */
  private async append<T>(items: T[], line: (item: T) => string): Promise<void> {
    if (items.length === 0) return;
    const fd = this.open();
    let used = 0;
    for (const item of items) {
      const text = line(item);
      // UTF-8 takes at most 3 bytes per UTF-16 unit, plus the newline.
      const room = text.length * 3 + 1;
      if (used + room > this.buffer.length) {
        if (used > 0) await writeAll(fd, this.buffer.subarray(0, used));
        used = 0;
        if (room > this.buffer.length) this.buffer = Buffer.allocUnsafe(room);
      }
      used += this.buffer.write(text, used);
      this.buffer[used++] = 0x0a;
    }
    await writeAll(fd, this.buffer.subarray(0, used));
    await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  /** Opens the log for appending, cutting off a torn last line, and finds the last seq. */
  private open(): number {
    if (this.fd !== null) return this.fd;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND);
    try {
      const size = fs.fstatSync(fd).size;
      const keep = completeLength(fd, size);
      if (keep < size) {
        fs.ftruncateSync(fd, keep);
        fs.fdatasyncSync(fd);
      }
      this.seq = lastSeq(fd, keep);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.fd = fd;
    return fd;
  }
}

export interface LogLine {
  seq: number;
  op: "upsert" | "delete";
  key: string;
  doc_id: string;
  source: string;
  chunk_index: number;
  text?: string;
  metadata?: Record<string, unknown>;
  embedding?: number[] | null;
}

/** The state a change log replays to: key → its last upsert. A torn last line is ignored. */
export async function replayLog(file: string): Promise<Map<string, LogLine>> {
  const state = new Map<string, LogLine>();
  if (!fs.existsSync(file)) return state;
  const lines = readline.createInterface({
    input: fs.createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const text of lines) {
    if (text.trim() === "") continue;
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      continue;
    }
    if (line.op === "upsert") state.set(line.key, line);
    else if (line.op === "delete") state.delete(line.key);
  }
  return state;
}

const TAIL_BYTES = 1 << 20;
/** Bytes formatted before they are written. */
const WRITE_BYTES = 4 << 20;

async function writeAll(fd: number, bytes: Buffer): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await new Promise<number>((resolve, reject) =>
      fs.write(fd, bytes, written, bytes.length - written, null, (err, n) =>
        err ? reject(err) : resolve(n),
      ),
    );
  }
}

/** Bytes up to and including the last newline: what complete lines the log holds. */
function completeLength(fd: number, size: number): number {
  for (let end = size; end > 0; ) {
    const length = Math.min(end, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, end - length);
    // Bytes, not characters: a line may hold any UTF-8 text.
    const newline = buffer.lastIndexOf(0x0a);
    if (newline >= 0) return end - length + newline + 1;
    end -= length;
  }
  return 0;
}

/** The seq of the last complete line before `end`, reading backwards in windows. */
function lastSeq(fd: number, end: number): number {
  let windowEnd = end;
  let carry = Buffer.alloc(0);
  while (windowEnd > 0) {
    const length = Math.min(windowEnd, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, windowEnd - length);
    windowEnd -= length;
    const text = Buffer.concat([buffer, carry]);
    const lines = text.toString("utf8").split("\n");
    // The first piece may be cut: keep it for the next window unless the file starts here.
    for (let i = lines.length - 1; i >= (windowEnd > 0 ? 1 : 0); i--) {
      const line = lines[i]!.trim();
      if (line === "") continue;
      try {
        const seq = (JSON.parse(line) as { seq?: unknown }).seq;
        if (typeof seq === "number") return seq;
      } catch {
        // Not a line of ours: keep looking further back.
      }
    }
    carry = Buffer.from(lines[0] ?? "", "utf8");
  }
  return 0;
}
