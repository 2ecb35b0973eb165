/**
 * A byte-level scanner for the two shapes of a JSON input, `{"documents": [...], ...}` and a bare
 * array, fed one read buffer at a time. It checks the structure (brackets, commas, colons, keys)
 * and finds where each element of the documents array starts and ends, so that an input of any
 * size is read as a stream: memory holds one read buffer and one element, never the file, and
 * each element is parsed on its own (by `JSON.parse`, which checks the rest of the grammar).
 */

/** A structural error at a byte offset of the input. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem);
    this.name = "JsonSyntaxError";
  }
}

export interface ScanHandlers {
  /** The documents array (or the bare array) opens; `offset` is just after its `[`. */
  arrayStart(offset: number, prefix: "documents" | ""): void;
  /** An element of that array, `[start, end)`; its bytes when the scanner captures elements. */
  element(start: number, end: number, bytes: Buffer | null): void;
  /**
   * A top-level member other than the documents array, or the whole input when it is not an
   * object or an array (key `null`). Its bytes, or null when larger than the capture limit.
   */
  member(key: string | null, bytes: Buffer | null, firstByte: number, start: number): void;
}

const TOP = 0;
const OBJ_FIRST = 1;
const OBJ_KEY = 2;
const COLON = 3;
const OBJ_VALUE = 4;
const OBJ_AFTER = 5;
const ARR_FIRST = 6;
const ARR_ELEM = 7;
const ARR_AFTER = 8;
const VALUE = 9;
const END = 10;

type Owner = "top" | "key" | "member" | "element";

/** Top-level members other than the documents are kept up to this size (e.g. `batch_id`). */
const MEMBER_CAPTURE_BYTES = 1 << 20;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function shown(b: number): string {
  return b >= 0x21 && b < 0x7f
    ? `\`${String.fromCharCode(b)}\``
    : `byte 0x${b.toString(16).padStart(2, "0")}`;
}

export class JsonScanner {
  private mode = TOP;
  private bare = false;
  private documentsSeen = false;
  private key = "";
  // The value being read.
  private owner: Owner = "top";
  private start = 0;
  private closers: number[] = [];
  private inString = false;
  private escaped = false;
  private scalar = false;
  private firstByte = 0;
  private capture = false;
  private captureLimit = 0;
  private pieces: Buffer[] = [];
  private captured = 0;
  private overflow = false;
  /** Offset in the current buffer of the next backslash (searched once per stretch, not per string). */
  private backslash = -1;

  /** `elements`: capture the bytes of each element (false for a pass that only checks). */
  constructor(
    private readonly handlers: ScanHandlers,
    private readonly elements: boolean,
  ) {}

  /** Continues after an element of the documents array (a plan resumed from its checkpoint). */
  resumeAfterElement(bare: boolean): void {
    this.bare = bare;
    this.documentsSeen = true;
    this.mode = ARR_AFTER;
  }

  /** Scans `bytes`, the input from byte offset `base` on. */
  feed(bytes: Buffer, base: number): void {
    let i = 0;
    this.backslash = -1;
    const length = bytes.length;
    if (base === 0 && this.mode === TOP && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
    let pieceFrom = this.mode === VALUE ? 0 : -1;
    while (i < length) {
      if (this.mode === VALUE) {
        const end = this.valueEnd(bytes, i, base);
        if (end === -1) break;
        const close = this.scalar ? end : end + 1;
        this.endValue(bytes, pieceFrom, close, base);
        pieceFrom = -1;
        i = close;
        continue;
      }
      const b = bytes[i]!;
      if (isSpace(b)) {
        i += 1;
        continue;
      }
      const at = base + i;
      if (this.structural(b, at)) {
        i += 1;
        continue;
      }
      // A value starts here.
      this.beginValue(b, at);
      pieceFrom = i;
      i += this.scalar ? 0 : 1;
    }
    if (this.mode === VALUE && this.capture && pieceFrom !== -1) this.keep(bytes.subarray(pieceFrom, length));
  }

  /** The input ended at `offset`. */
  finish(offset: number): void {
    if (this.mode === VALUE && this.scalar && this.owner === "top") {
      this.endValue(Buffer.alloc(0), 0, 0, offset);
    }
    if (this.mode !== END) throw new JsonSyntaxError(offset, "Unexpected end of JSON input");
  }

  /** Handles a byte between values; false when the byte starts a value. */
  private structural(b: number, at: number): boolean {
    switch (this.mode) {
      case TOP:
        if (b === 0x7b) this.mode = OBJ_FIRST;
        else if (b === 0x5b) {
          this.bare = true;
          this.documentsSeen = true;
          this.handlers.arrayStart(at + 1, "");
          this.mode = ARR_FIRST;
        } else return this.expectValue(b, at, "top");
        return true;
      case OBJ_FIRST:
      case OBJ_KEY:
        if (b === 0x7d && this.mode === OBJ_FIRST) this.mode = END;
        else if (b === QUOTE) return this.expectValue(b, at, "key");
        else throw new JsonSyntaxError(at, `expected a property name in double quotes, got ${shown(b)}`);
        return true;
      case COLON:
        if (b !== 0x3a)
          throw new JsonSyntaxError(at, `expected \`:\` after a property name, got ${shown(b)}`);
        this.mode = OBJ_VALUE;
        return true;
      case OBJ_VALUE:
        if (this.key === "documents" && b === 0x5b && !this.documentsSeen) {
          this.documentsSeen = true;
          this.handlers.arrayStart(at + 1, "documents");
          this.mode = ARR_FIRST;
          return true;
        }
        return this.expectValue(b, at, "member");
      case OBJ_AFTER:
        if (b === 0x2c) this.mode = OBJ_KEY;
        else if (b === 0x7d) this.mode = END;
        else throw new JsonSyntaxError(at, `expected \`,\` or \`}\` after a property value, got ${shown(b)}`);
        return true;
      case ARR_FIRST:
      case ARR_ELEM:
        if (b === 0x5d && this.mode === ARR_FIRST) this.mode = this.bare ? END : OBJ_AFTER;
        else return this.expectValue(b, at, "element");
        return true;
      case ARR_AFTER:
        if (b === 0x2c) this.mode = ARR_ELEM;
        else if (b === 0x5d) this.mode = this.bare ? END : OBJ_AFTER;
        else throw new JsonSyntaxError(at, `expected \`,\` or \`]\` after an array element, got ${shown(b)}`);
        return true;
      default:
        throw new JsonSyntaxError(at, `unexpected ${shown(b)} after the end of the JSON value`);
    }
  }

  private expectValue(b: number, at: number, owner: Owner): false {
    const scalar = b === 0x2d || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e;
    if (!scalar && b !== QUOTE && b !== 0x7b && b !== 0x5b) {
      throw new JsonSyntaxError(at, `expected a JSON value, got ${shown(b)}`);
    }
    this.owner = owner;
    return false;
  }

  private beginValue(b: number, at: number): void {
    this.mode = VALUE;
    this.start = at;
    this.firstByte = b;
    this.closers = [];
    this.escaped = false;
    this.inString = b === QUOTE;
    this.scalar = !this.inString && b !== 0x7b && b !== 0x5b;
    if (b === 0x7b) this.closers.push(0x7d);
    if (b === 0x5b) this.closers.push(0x5d);
    this.capture = this.owner === "element" ? this.elements : true;
    this.captureLimit = this.owner === "member" ? MEMBER_CAPTURE_BYTES : Number.POSITIVE_INFINITY;
    this.pieces = [];
    this.captured = 0;
    this.overflow = false;
  }

  /**
   * Index of the value's last byte (for a scalar: of the byte after it) in `bytes` from `i`, or -1
   * when the value continues in the next buffer. The opening byte was consumed already.
   */
  private valueEnd(bytes: Buffer, i: number, base: number): number {
    const length = bytes.length;
    for (; i < length; i++) {
      if (this.inString) {
        const quote = this.stringEnd(bytes, i);
        if (quote === -1) return -1;
        i = quote;
        this.inString = false;
        if (this.closers.length === 0) return i;
        continue;
      }
      const b = bytes[i]!;
      if (this.scalar) {
        if (isSpace(b) || b === 0x2c || b === 0x5d || b === 0x7d) return i;
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === 0x7b) this.closers.push(0x7d);
      else if (b === 0x5b) this.closers.push(0x5d);
      else if (b === 0x7d || b === 0x5d) {
        const expected = this.closers.pop();
        if (expected !== b) {
          throw new JsonSyntaxError(
            base + i,
            `expected ${expected === 0x7d ? "`}`" : "`]`"}, got ${shown(b)}`,
          );
        }
        if (this.closers.length === 0) return i;
      }
    }
    return -1;
  }

  /**
   * Index of the quote that closes the string the scan is in, from `i`, or -1 when the string
   * continues in the next buffer. Strings are most of an input (the contents): they are crossed
   * with native searches for the next quote and the next backslash, not byte by byte.
   */
  private stringEnd(bytes: Buffer, i: number): number {
    const length = bytes.length;
    if (this.escaped) {
      if (i >= length) return -1;
      this.escaped = false;
      i += 1;
    }
    for (;;) {
      if (i >= length) return -1;
      const quote = bytes.indexOf(QUOTE, i);
      if (this.backslash < i) {
        const found = bytes.indexOf(BACKSLASH, i);
        this.backslash = found === -1 ? Number.POSITIVE_INFINITY : found;
      }
      const end = quote === -1 ? length : quote;
      if (this.backslash >= end) return quote;
      // An escape: the byte after the backslash never closes the string.
      if (this.backslash + 1 >= length) {
        this.escaped = true;
        return -1;
      }
      i = this.backslash + 2;
    }
  }

  private endValue(bytes: Buffer, pieceFrom: number, close: number, base: number): void {
    const end = base + close;
    let value: Buffer | null = null;
    if (this.capture) {
      if (pieceFrom !== -1) this.keep(bytes.subarray(pieceFrom, close));
      value = this.overflow ? null : this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
      this.pieces = [];
    }
    switch (this.owner) {
      case "element":
        this.mode = ARR_AFTER;
        this.handlers.element(this.start, end, value);
        return;
      case "key":
        this.mode = COLON;
        this.key = JSON.parse(value!.toString("utf8")) as string;
        return;
      case "member":
        this.mode = OBJ_AFTER;
        this.handlers.member(this.key, value, this.firstByte, this.start);
        return;
      default:
        this.mode = END;
        this.handlers.member(null, value, this.firstByte, this.start);
    }
  }

  /** Keeps a piece of the value; the read buffer is reused, so pieces that span reads are copied. */
  private keep(piece: Buffer): void {
    if (this.overflow) return;
    this.captured += piece.length;
    if (this.captured > this.captureLimit) {
      this.overflow = true;
      this.pieces = [];
      return;
    }
    this.pieces.push(Buffer.from(piece));
  }
}
