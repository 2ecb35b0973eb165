import crypto, { createHash } from "node:crypto";
import { mapPieces, PIECE_LENGTH, pieces } from "./pieces.js";
import type { DocumentFormat, JsonObject } from "./types.js";

/**
 * Idempotency keys.
 *
 * Two inputs that differ only in Unicode normalization, in whitespace around the id, or in CRLF vs
 * LF line endings are the same document, so normalization happens before anything is hashed:
 *
 * - id: Unicode NFC, surrounding whitespace removed.
 * - content: leading byte-order marks removed, CRLF and lone CR turned into LF, Unicode NFC.
 *
 * `content_hash = sha256(format, canonical metadata, normalized content)`: everything that shapes
 * the output of a document is in it, so a change of format or metadata is a change of content.
 * `idempotency_key = sha256(source, normalized id, content_hash, layer)`, where the layer names the
 * processing version and every option that shapes the output. A chunk's key is the document's key
 * followed by `:` and the chunk index, so a downstream vector store can upsert by it.
 */

export function normalizeId(id: string): string {
  return id.normalize("NFC").trim();
}

/** Piece by piece (see mapPieces): a large document costs one copy, not several. */
export function normalizeContent(
  content: string,
  /** @internal tests only */ pieceLength = PIECE_LENGTH,
): string {
  const text = content.charCodeAt(0) === 0xfeff ? content.replace(/^\uFEFF+/, "") : content;
  return mapPieces(
    text,
    (piece) => (piece.includes("\r") ? piece.replace(/\r\n?/g, "\n") : piece).normalize("NFC"),
    pieceLength,
  );
}

/** JSON with object keys sorted at every level, so equal values always serialize equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as JsonObject;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** `crypto.hash` where this Node has it (20.12 and later), one call instead of a `Hash` object. */
const hashOnce = (crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash;

/** sha256 of a string's UTF-8 bytes, in hex: a third of the cost of a `Hash` object for short ones. */
function sha256Hex(text: string): string {
  return hashOnce ? hashOnce("sha256", text, "hex") : createHash("sha256").update(text, "utf8").digest("hex");
}

/** Inputs up to this length are hashed in one call (joined, they are copied once). */
const ONE_SHOT_MAX = 64 * 1024;

/** Each part is length-prefixed, so no choice of parts can run into another ("a\0b"+"c" vs "a"+"b\0c"). */
function sha256(parts: readonly string[]): string {
  if (parts.reduce((n, part) => n + part.length, 0) <= ONE_SHOT_MAX) {
    // The same bytes as below: a prefix ends in ':' and starts with a digit, so no two parts'
    // characters meet (a surrogate pair is never formed across them).
    let joined = "";
    for (const part of parts) joined += `${part.length}:${part}`;
    return sha256Hex(joined);
  }
  const hash = createHash("sha256");
  for (const part of parts) {
    hash.update(`${part.length}:`);
    // In pieces: hashing a string converts it to UTF-8 first, a copy as large as the content.
    for (const piece of pieces(part)) hash.update(piece);
  }
  return hash.digest("hex");
}

export function contentHash(format: DocumentFormat, metadata: JsonObject, normalizedContent: string): string {
  return sha256([format, canonicalJson(metadata), normalizedContent]);
}

/** The hash of a document whose content could not be loaded: it changes when the reason changes. */
export function missingContentHash(reason: string): string {
  return sha256(["<missing>", reason]);
}

export function idempotencyKey(source: string, docId: string, hash: string, layer: string): string {
  return sha256([source, docId, hash, layer]);
}

/**
 * What a document's chunk texts depend on: its content hash and the parse and chunk layers. A
 * document whose key changed with this key unchanged (only the embedding layer moved) keeps its
 * committed chunk texts and is embedded again without being parsed.
 */
export function preparedTextKey(hash: string, parseLayer: string, chunkLayer: string): string {
  return sha256([hash, parseLayer, chunkLayer]);
}

export function chunkKey(documentKey: string, chunkIndex: number): string {
  return `${documentKey}:${chunkIndex}`;
}

/**
 * The embedding cache's key of a chunk text: sha256 of its UTF-8 bytes, in hex. Equal texts have
 * equal hashes whatever document, batch or chunker they came from, so each is embedded once per
 * embedding layer.
 */
export function chunkTextHash(text: string): string {
  return sha256Hex(text);
}

/** A short stable digest, e.g. for default batch ids and input fingerprints. */
export function shortDigest(text: string, length = 12): string {
  return sha256Hex(text).slice(0, length);
}
