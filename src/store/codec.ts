import type { ErrorInfo, JsonObject, StageName } from "../core/types.js";
import type { StageTimings } from "./store.js";

/** Encodings shared by every store, so both write exactly the same bytes. */

export function encodeVector(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function decodeVector(bytes: Uint8Array | null): Float32Array | null {
  if (bytes === null) return null;
  // Copy: the driver's buffer may be unaligned or reused.
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

export function encodeError(error: ErrorInfo | null | undefined): string | null {
  return error ? JSON.stringify({ code: error.code, message: error.message }) : null;
}

export function decodeError(text: string | null): ErrorInfo | null {
  if (text === null || text === "") return null;
  const parsed = JSON.parse(text) as ErrorInfo;
  return { code: parsed.code, message: parsed.message };
}

export function decodeObject(text: string | null): JsonObject {
  return text ? (JSON.parse(text) as JsonObject) : {};
}

export function decodeTimings(text: string | null): StageTimings | null {
  return text ? (JSON.parse(text) as StageTimings) : null;
}

export function decodeStage(text: string | null): StageName | null {
  return (text as StageName | null) ?? null;
}
