import { createHash } from "node:crypto";

/**
 * How vectors travel to pgvector: as binary parameters in its receive format, so that neither
 * side formats or parses text (a float32 in text takes about nine digits and a parse).
 */

/** The `vector` type holds up to 16,000 dimensions. */
const VECTOR_MAX_DIMS = 16_000;

/** Whether pgvector can hold the vector: 1 to 16,000 finite values. */
export function vectorIndexable(vector: Float32Array): boolean {
  return vector.length >= 1 && vector.length <= VECTOR_MAX_DIMS && vector.every(Number.isFinite);
}

/** 64 bits of a hash of the vector's bytes, as a BIGINT parameter. */
export function vectorHash(vector: Float32Array): string {
  const bytes = new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
  return createHash("sha1").update(bytes).digest().readBigInt64BE(0).toString();
}

/** One vector as a binary parameter typed `vector`. */
export function vectorParam(vector: Float32Array): Buffer {
  const out = Buffer.alloc(4 + 4 * vector.length);
  writeVector(out, 0, vector);
  return out;
}

/**
 * A binary parameter typed `vector[]` (Postgres' array format, which names the element type by
 * its oid). Vectors pgvector cannot hold go as NULL elements.
 */
export function vectorArray(vectorOid: number, vectors: Float32Array[]): Buffer {
  const held = vectors.map(vectorIndexable);
  const size = vectors.reduce((n, v, i) => n + 4 + (held[i] ? 4 + 4 * v.length : 0), 20);
  const out = Buffer.alloc(size);
  out.writeInt32BE(1, 0); // dimensions of the array
  out.writeInt32BE(held.includes(false) ? 1 : 0, 4); // has NULLs
  out.writeUInt32BE(vectorOid, 8);
  out.writeInt32BE(vectors.length, 12);
  out.writeInt32BE(1, 16); // lower bound
  let at = 20;
  vectors.forEach((v, i) => {
    if (!held[i]) {
      out.writeInt32BE(-1, at);
      at += 4;
      return;
    }
    out.writeInt32BE(4 + 4 * v.length, at);
    at = writeVector(out, at + 4, v);
  });
  return out;
}

/** pgvector's receive format of one vector: dimension count, a reserved 0, floats in network order. */
function writeVector(out: Buffer, at: number, vector: Float32Array): number {
  out.writeUInt16BE(vector.length, at);
  out.writeUInt16BE(0, at + 2);
  let p = at + 4;
  for (const x of vector) {
    out.writeFloatBE(x, p);
    p += 4;
  }
  return p;
}
