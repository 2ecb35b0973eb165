/**
 * Vectors as JSON text. docbatch keeps vectors as float32, so nine significant digits give every
 * component back exactly (a float32 needs at most nine: parsing the text and rounding to float32
 * yields the same bits), where `JSON.stringify` of the widened doubles prints up to seventeen.
 * The text is about 40% shorter, and writing the digits straight into bytes is several times
 * faster than formatting doubles: the change log, the export and their readers all gain. The
 * export and the `jsonl:` change log use the same digits, so replaying a log gives exactly the
 * numbers the export prints.
 */

/** Significant digits that bring any float32 back exactly. */
const DIGITS = 9;
const LOW = 10 ** (DIGITS - 1);
const HIGH = 10 ** DIGITS;
/** Correctly rounded powers of ten 10^-60 … 10^60 (float32 spans 10^-45 … 10^38). */
const POW10_OFFSET = 60;
const POW10 = Array.from({ length: 2 * POW10_OFFSET + 1 }, (_, i) => Number(`1e${i - POW10_OFFSET}`));
const ZERO = 0x30;
const NULL = Buffer.from("null", "latin1");
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/**
 * Writes `x` (a float32 value) as a JSON number at `at` and returns the offset after it; the
 * caller leaves room for 24 bytes. Not a number and the infinities are `null`, as in JSON.stringify.
 */
export function writeFloat32(out: Buffer, at: number, x: number): number {
  if (x === 0) {
    out[at] = ZERO;
    return at + 1;
  }
  if (!Number.isFinite(x)) return at + NULL.copy(out, at);
  let p = at;
  if (x < 0) {
    out[p++] = 0x2d;
    x = -x;
  }
  // The decimal exponent from the binary one (log10(2) ≈ 0.30103), corrected by one comparison.
  F64[0] = x;
  let exponent = Math.floor((((U32[1]! >>> 20) & 0x7ff) - 1023) * 0.30103);
  if (x >= POW10[exponent + 1 + POW10_OFFSET]!) exponent += 1;
  else if (x < POW10[exponent + POW10_OFFSET]!) exponent -= 1;
  let m = Math.round(x * POW10[DIGITS - 1 - exponent + POW10_OFFSET]!);
  // Rounding may carry into a tenth digit (9.999999995 → 10.0000000).
  if (m >= HIGH) {
    exponent += 1;
    m = LOW;
  }
  let digits = DIGITS;
  let q = (m / 10) | 0;
  while (m === q * 10) {
    m = q;
    q = (m / 10) | 0;
    digits -= 1;
  }
  if (exponent >= -6 && exponent < 21) return writePlain(out, p, m, digits, exponent);
  // 1.2345e-8, 1e+21: the forms JavaScript and JSON readers use for very small and large numbers.
  p = writeDigits(out, p, m, digits, 1);
  out[p++] = 0x65;
  out[p++] = exponent < 0 ? 0x2d : 0x2b;
  const e = String(Math.abs(exponent));
  return p + out.write(e, p, "latin1");
}

/** The digits of `m` as a decimal with the point after digit `exponent + 1` (0.00123, 12.5, 3000). */
function writePlain(out: Buffer, p: number, m: number, digits: number, exponent: number): number {
  if (exponent < 0) {
    out[p++] = ZERO;
    out[p++] = 0x2e;
    for (let i = -1; i > exponent; i--) out[p++] = ZERO;
    return writeDigits(out, p, m, digits, digits);
  }
  if (digits <= exponent + 1) {
    p = writeDigits(out, p, m, digits, digits);
    for (let i = digits; i <= exponent; i++) out[p++] = ZERO;
    return p;
  }
  return writeDigits(out, p, m, digits, exponent + 1);
}

/** The `digits` digits of `m`, with a decimal point after the first `point` of them (none when all). */
function writeDigits(out: Buffer, p: number, m: number, digits: number, point: number): number {
  const dot = point < digits ? 1 : 0;
  let end = p + digits + dot;
  const last = end;
  for (let i = digits - 1; i >= 0; i--) {
    if (dot && i === point - 1) out[--end] = 0x2e;
    const q = (m / 10) | 0;
    out[--end] = ZERO + m - q * 10;
    m = q;
  }
  return last;
}

/** Writes `[x0,x1,…]` at `at`; the caller leaves room for `vectorJsonRoom(vector.length)` bytes. */
export function writeVectorJson(out: Buffer, at: number, vector: ArrayLike<number>): number {
  let p = at;
  out[p++] = 0x5b;
  for (let i = 0; i < vector.length; i++) {
    if (i > 0) out[p++] = 0x2c;
    p = writeFloat32(out, p, vector[i]!);
  }
  out[p++] = 0x5d;
  return p;
}

/** Bytes a vector of `length` components may take as JSON. */
export function vectorJsonRoom(length: number): number {
  return 2 + length * 24;
}

let scratch = Buffer.allocUnsafe(vectorJsonRoom(1_024));

/** A vector as JSON text, in the digits the change log writes. */
export function vectorJson(vector: ArrayLike<number>): string {
  const room = vectorJsonRoom(vector.length);
  if (scratch.length < room) scratch = Buffer.allocUnsafe(room);
  return scratch.toString("latin1", 0, writeVectorJson(scratch, 0, vector));
}

/**
 * A JSON object with its `embedding` (the last key) written in the vector digits: the line format
 * of `export`. Objects without an embedding array are JSON.stringify'd as they are.
 */
export function jsonWithVector<T extends { embedding?: ArrayLike<number> | null }>(row: T): string {
  const { embedding } = row;
  if (!embedding) return JSON.stringify(row);
  const rest = JSON.stringify({ ...row, embedding: undefined });
  return `${rest.slice(0, -1)}${rest.length > 2 ? "," : ""}"embedding":${vectorJson(embedding)}}`;
}
