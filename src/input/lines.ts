import fs from "node:fs";

export interface Line {
  text: string;
  /** 1-based line number, counted from `startOffset`'s line (1 when reading from the start). */
  number: number;
  /** Byte offset just after this line's newline: where reading resumes. */
  next: number;
}

/**
 * The lines of a file from a byte offset, read as a stream: memory holds one read buffer (reused
 * from read to read, so reading a large file leaves no garbage buffers behind) and one line, never
 * the file. Byte offsets (unlike line counts) let a resumed plan seek straight to the first
 * unplanned line. A UTF-8 byte-order mark at the start and CR before LF are dropped.
 */
export async function* readLines(file: string, startOffset = 0): AsyncGenerator<Line> {
  const handle = await fs.promises.open(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(READ_SIZE);
    // The start of a line that continues in the next read, and its byte offset.
    let pieces: Buffer[] = [];
    let lineStart = startOffset;
    let number = 0;
    let position = startOffset;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      const chunkStart = position;
      position += bytesRead;
      let from = 0;
      if (chunkStart === 0 && bytesRead >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
        from = 3;
        lineStart = 3;
      }
      for (let nl = chunk.indexOf(10, from); nl !== -1 && nl < bytesRead; nl = chunk.indexOf(10, from)) {
        number += 1;
        let text: string;
        if (pieces.length > 0) {
          const line = Buffer.concat([...pieces, chunk.subarray(from, nl)]);
          pieces = [];
          text = line.toString(
            "utf8",
            0,
            line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length,
          );
        } else {
          text = chunk.toString("utf8", from, nl > from && chunk[nl - 1] === 13 ? nl - 1 : nl);
        }
        yield { text, number, next: chunkStart + nl + 1 };
        from = nl + 1;
        lineStart = chunkStart + from;
      }
      if (from < bytesRead) pieces.push(Buffer.from(chunk.subarray(from, bytesRead)));
    }
    if (pieces.length > 0) {
      const line = Buffer.concat(pieces);
      if (line.length > 0) {
        const end = line[line.length - 1] === 13 ? line.length - 1 : line.length;
        number += 1;
        yield { text: line.toString("utf8", 0, end), number, next: lineStart + line.length };
      }
    }
  } finally {
    await handle.close();
  }
}

const READ_SIZE = 1 << 20;
