import { isUtf8 } from "node:buffer";
import fs from "node:fs";

/**
 * Strict UTF-8 for inputs. Decoding with replacement would turn every invalid byte into U+FFFD,
 * so two ids that differ only in invalid bytes would collapse into one document and content would
 * change silently: an input with invalid UTF-8 is rejected instead, with the line of each problem.
 */

/**
 * Offset of the first byte of `bytes[from, to)` that does not start or continue a valid UTF-8
 * sequence, or -1. A sequence cut off by `to` counts as invalid: callers pass whole lines or
 * whole chunks ending on a sequence boundary (see `completeUpTo`).
 */
export function firstInvalidUtf8(bytes: Uint8Array, from = 0, to = bytes.length): number {
  // The native check is far faster; the byte walk below runs only to locate a problem.
  if (isUtf8(bytes.subarray(from, to))) return -1;
  let i = from;
  while (i < to) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    const [need, lo, hi] = sequenceOf(b);
    // An unknown lead byte, or a sequence that runs past the end.
    if (need === 0 || i + need >= to) return i;
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** Continuation bytes a lead byte needs, and the range of its first continuation byte. */
function sequenceOf(b: number): [number, number, number] {
  if (b >= 0xc2 && b <= 0xdf) return [1, 0x80, 0xbf];
  if (b === 0xe0) return [2, 0xa0, 0xbf]; // no overlong forms
  if (b === 0xed) return [2, 0x80, 0x9f]; // no surrogates
  if (b >= 0xe1 && b <= 0xef) return [2, 0x80, 0xbf];
  if (b === 0xf0) return [3, 0x90, 0xbf];
  if (b >= 0xf1 && b <= 0xf3) return [3, 0x80, 0xbf];
  if (b === 0xf4) return [3, 0x80, 0x8f]; // nothing above U+10FFFF
  return [0, 0, 0];
}

/**
 * The end of `bytes[0, end)` without a multi-byte sequence that the next read completes: at most
 * three bytes are left for the next chunk, so a character split by a read is never reported.
 */
export function completeUpTo(bytes: Uint8Array, end: number): number {
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const b = bytes[end - k]!;
    if (b < 0x80) return end;
    if (b >= 0xc0) return (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) > k ? end - k : end;
  }
  return end;
}

/** The invalid byte (with the continuation bytes after it) as the problem of an error detail. */
export function describeInvalid(bytes: Uint8Array, at: number): string {
  let end = at + 1;
  while (end < bytes.length && end < at + 4 && (bytes[end]! & 0xc0) === 0x80) end += 1;
  const shown = Array.from(bytes.subarray(at, end))
    .map((b) => `0x${b.toString(16).padStart(2, "0")}`)
    .join(" ");
  return `invalid UTF-8: ${end - at > 1 ? "bytes" : "byte"} ${shown} (never replaced)`;
}

export interface TextPosition {
  /** 1-based line. */
  line: number;
  /** 1-based column, in characters. */
  column: number;
}

/**
 * Lines and columns of byte offsets of a file, in one pass (used only to report errors, so the
 * normal path never counts lines). Offsets past the end are placed at the end.
 */
export async function positionsOf(file: string, offsets: number[]): Promise<TextPosition[]> {
  const order = offsets.map((offset, index) => ({ offset, index })).sort((a, b) => a.offset - b.offset);
  const out: TextPosition[] = new Array(offsets.length);
  const handle = await fs.promises.open(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let line = 1;
    // Characters (bytes that are not continuation bytes) since the start of the current line.
    let column = 0;
    let position = 0;
    let next = 0;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      const end = position + bytesRead;
      let from = 0;
      while (next < order.length && order[next]!.offset < end) {
        const target = order[next]!.offset - position;
        ({ line, column } = advance(chunk, from, target, line, column));
        from = target;
        out[order[next]!.index] = { line, column: column + 1 };
        next += 1;
      }
      if (bytesRead === 0 || next === order.length) break;
      ({ line, column } = advance(chunk, from, bytesRead, line, column));
      position = end;
    }
    for (; next < order.length; next++) out[order[next]!.index] = { line, column: column + 1 };
  } finally {
    await handle.close();
  }
  return out;
}

function advance(bytes: Buffer, from: number, to: number, line: number, column: number) {
  let start = from;
  for (let nl = bytes.indexOf(10, start); nl !== -1 && nl < to; nl = bytes.indexOf(10, start)) {
    line += 1;
    column = 0;
    start = nl + 1;
  }
  for (let i = start; i < to; i++) if ((bytes[i]! & 0xc0) !== 0x80) column += 1;
  return { line, column };
}
