import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { vectorJsonRoom, writeVectorJson } from "../../core/vector-json.js";
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
 *
 * Embeddings are written with the nine significant digits that give a float32 back exactly, the
 * digits `docbatch export` prints (src/core/vector-json.ts).
 */
export class JsonlSink implements Sink {
  readonly uri: string;
  readonly takesFloat32 = true;
  private fd: number | null = null;
  private seq = 0;
  private buffer = Buffer.allocUnsafe(WRITE_BYTES);

  constructor(private readonly file: string) {
    this.uri = `jsonl:${path.resolve(file)}`;
  }

  async upsert(chunks: SinkChunk[]): Promise<void> {
    await this.append(chunks, (c) => ({
      fields: this.fields("upsert", c, { text: c.text, metadata: c.metadata }),
      embedding: c.embedding,
    }));
  }

  async delete(keys: SinkKey[]): Promise<void> {
    await this.append(keys, (k) => ({ fields: this.fields("delete", k) }));
  }

  /** A line's fields: its seq, the change and the chunk's key, then what an upsert holds. */
  private fields(op: "upsert" | "delete", k: SinkKey, content: object = {}): string {
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
  private async append<T>(items: T[], lineOf: (item: T) => Line): Promise<void> {
    if (items.length === 0) return;
    const fd = this.open();
    let used = 0;
    for (const item of items) {
      const line = lineOf(item);
      const room = lineRoom(line);
      if (used + room > this.buffer.length) {
        if (used > 0) await writeAll(fd, this.buffer.subarray(0, used));
        used = 0;
        if (room > this.buffer.length) this.buffer = Buffer.allocUnsafe(room);
      }
      used = writeLine(this.buffer, used, line);
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

/** `,"embedding":` replacing the closing brace of a line's other fields. */
const EMBEDDING_KEY = Buffer.from(',"embedding":', "latin1");

/** A line of the log: its fields as JSON, and the embedding that follows them on an upsert. */
interface Line {
  fields: string;
  /** Absent on a delete; null on a chunk without a vector. */
  embedding?: ArrayLike<number> | null;
}

/** Bytes a line may take (UTF-8 takes at most 3 bytes per UTF-16 unit), its newline included. */
function lineRoom(line: Line): number {
  const { embedding } = line;
  const vector =
    embedding === undefined ? 0 : EMBEDDING_KEY.length + (embedding ? vectorJsonRoom(embedding.length) : 4);
  return line.fields.length * 3 + vector + 1;
}

/** Writes the line and its newline at `at`; returns the offset after them. */
function writeLine(out: Buffer, at: number, line: Line): number {
  let p = at + out.write(line.fields, at);
  const { embedding } = line;
  if (embedding !== undefined) {
    p = p - 1 + EMBEDDING_KEY.copy(out, p - 1);
    p = embedding ? writeVectorJson(out, p, embedding) : p + out.write("null", p, "latin1");
    out[p++] = 0x7d;
  }
  out[p++] = 0x0a;
  return p;
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
