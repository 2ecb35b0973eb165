/**
 * How the chunker measures text: in UTF-16 code units, or in tokens of a tokenizer. Embedding
 * models limit their input in tokens, so `tokens` gives chunks that fit a model exactly; the
 * tokenizers ship inside the `gpt-tokenizer` package (nothing is downloaded).
 */

export type ChunkUnit = "chars" | "tokens";
export type TokenizerName = "o200k_base" | "cl100k_base";

export const CHUNK_UNITS: readonly ChunkUnit[] = ["chars", "tokens"];
export const TOKENIZERS: readonly TokenizerName[] = ["o200k_base", "cl100k_base"];

export interface Measure {
  /** Length of `text[start, end)` in the unit. */
  length(text: string, start: number, end: number): number;
  /**
   * The largest `e` in `(start, end]` with `length(text, start, e) <= limit`, never less than
   * `start + 1`. The caller moves it to a word or code point boundary.
   */
  reach(text: string, start: number, end: number, limit: number): number;
  /** The smallest `s` in `[from, end)` with `length(text, s, end) <= limit` (`end` if none). */
  back(text: string, from: number, end: number, limit: number): number;
}

export const CHARS: Measure = {
  length: (_text, start, end) => end - start,
  reach: (_text, start, end, limit) => Math.min(end, start + Math.max(1, limit)),
  back: (_text, from, end, limit) => Math.max(from, end - limit),
};

type Counter = (text: string) => number;

const counters = new Map<TokenizerName, Counter>();

// Special-token strings such as "<|endoftext|>" in a document are text like any other.
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Loads a tokenizer once per thread (its tables are large, so only when tokens are used). */
export async function loadTokenizer(name: TokenizerName): Promise<Counter> {
  const loaded = counters.get(name);
  if (loaded) return loaded;
  const module =
    name === "o200k_base"
      ? await import("gpt-tokenizer/encoding/o200k_base")
      : await import("gpt-tokenizer/encoding/cl100k_base");
  const counter: Counter = (text) => (text === "" ? 0 : module.countTokens(text, AS_TEXT));
  counters.set(name, counter);
  return counter;
}

/** A token measure; `count` comes from `loadTokenizer`. */
export function tokenMeasure(count: Counter): Measure {
  const length = (text: string, start: number, end: number): number =>
    end <= start ? 0 : count(text.slice(start, end));
  return {
    length,
    reach(text, start, end, limit) {
      if (length(text, start, end) <= limit) return end;
      // Widen a window until it holds more than `limit` tokens, then bisect inside it: the cost
      // stays proportional to one chunk, not to the rest of the text.
      let lo = start + 1;
      let hi = Math.min(end, start + Math.max(16, limit * 4));
      while (hi < end && length(text, start, hi) <= limit) {
        lo = hi;
        hi = Math.min(end, start + (hi - start) * 2);
      }
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (length(text, start, mid) <= limit) lo = mid;
        else hi = mid - 1;
      }
      return Math.max(start + 1, lo);
    },
    back(text, from, end, limit) {
      if (limit <= 0) return end;
      let lo = Math.max(from, end - Math.max(16, limit * 4));
      while (lo > from && length(text, lo, end) <= limit) lo = Math.max(from, end - (end - lo) * 2);
      let hi = end;
      // Invariant: length(hi, end) <= limit; find the smallest such start.
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (length(text, mid, end) <= limit) hi = mid;
        else lo = mid + 1;
      }
      return hi;
    },
  };
}
