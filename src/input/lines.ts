import fs from "node:fs";

export interface Line {
  text: string;
  /** 1-based line number, counted from `startOffset`'s line (1 when reading from the start). */
  number: number;
  /** Byte offset just after this line's newline: where reading resumes. */
  next: number;
}

/**
 * The lines of a file from a byte offset, read as a stream: memory holds one read buffer and one
 * line, never the file. Byte offsets (unlike line counts) let a resumed plan seek straight to the
 * first unplanned line. A UTF-8 byte-order mark at the start and CR before LF are dropped.
 */
export async function* readLines(file: string, startOffset = 0): AsyncGenerator<Line> {
  const stream = fs.createReadStream(file, { start: startOffset, highWaterMark: 1 << 20 });
  let carry: Buffer | null = null;
  let carryStart = startOffset;
  let number = 0;
  let position = startOffset;
  for await (const part of stream as AsyncIterable<Buffer>) {
    let buffer: Buffer = carry ? Buffer.concat([carry, part]) : part;
    let bufferStart = carry ? carryStart : position;
    position += part.length;
    if (bufferStart === 0 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) {
      buffer = buffer.subarray(3);
      bufferStart = 3;
    }
    let from = 0;
    for (let nl = buffer.indexOf(10, from); nl !== -1; nl = buffer.indexOf(10, from)) {
      const end = nl > from && buffer[nl - 1] === 13 ? nl - 1 : nl;
      number += 1;
      yield { text: buffer.toString("utf8", from, end), number, next: bufferStart + nl + 1 };
      from = nl + 1;
    }
    carry = from < buffer.length ? Buffer.from(buffer.subarray(from)) : null;
    carryStart = bufferStart + from;
  }
  if (carry && carry.length > 0) {
    const end = carry[carry.length - 1] === 13 ? carry.length - 1 : carry.length;
    number += 1;
    yield { text: carry.toString("utf8", 0, end), number, next: carryStart + carry.length };
  }
}
