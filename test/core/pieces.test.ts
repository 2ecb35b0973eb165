import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentHash, normalizeContent } from "../../src/core/keys.js";
import { pieces } from "../../src/core/pieces.js";
import { cleanText } from "../../src/pipeline/clean.js";

// Text made of what the passes act on: spaces of every kind, line endings, invisible and combining
// characters, surrogate pairs, next to the plain characters that piece boundaries sit between.
const atoms = fc.constantFrom(
  ..."ab Z9\n\n\r\n\r\t\u00a0\u3000\u200b\ufeff\u0301\u0308e\u00e9\u4e2d\u6587\u0000\u0085\u2028\f"
    .split("")
    .concat(["\ud83d\ude00", "  ", "\n\n\n", " \n", "e\u0301", "\u1100\u1161"]),
);
const text = fc.array(atoms, { maxLength: 200 }).map((parts) => parts.join(""));

describe("whole-text passes run piece by piece", () => {
  it("cut the text only between plain characters, or after a line feed", () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 16 }), (t, length) => {
        const parts = pieces(t, length);
        expect(parts.join("")).toBe(t);
        for (const part of parts.slice(1)) expect(part).toMatch(/^[0-9A-Za-z\u4e00-\u9fff]/);
      }),
    );
  });

  it("clean and normalize exactly as one pass over the whole text", () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 16 }), (t, length) => {
        expect(cleanText(t, length)).toBe(cleanText(t, Number.MAX_SAFE_INTEGER));
        expect(normalizeContent(t, length)).toBe(normalizeContent(t, Number.MAX_SAFE_INTEGER));
      }),
      { numRuns: 2_000 },
    );
  });

  it("hash a large content as the whole string would be hashed", () => {
    const content = `${"héllo wörld 😀 ".repeat(200_000)}\nend`;
    const whole = createHash("sha256");
    for (const part of ["text", "{}", content]) whole.update(`${part.length}:`).update(part);
    expect(contentHash("text", {}, content)).toBe(whole.digest("hex"));
  });
});
