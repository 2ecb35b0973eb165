import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DocumentFormat } from "../../src/core/types.js";
import type { ChunkOptions } from "../../src/pipeline/chunk.js";
import { cleanText } from "../../src/pipeline/clean.js";
import { fallbackClean, fixedChunks } from "../../src/pipeline/fallback.js";
import { growthRatio } from "../helpers/growth.js";

const FORMATS: DocumentFormat[] = ["text", "markdown", "html", "json"];

const text = fc
  .array(
    fc.oneof(
      fc.string({ unit: "grapheme-ascii", maxLength: 12 }),
      fc.string({ unit: "binary", maxLength: 8 }),
      fc.constantFrom(" ", "\n\n", "\t", "\u3000", "第一句。第二句！", "😀😀😀", "👨‍👩‍👧"),
      fc.integer({ min: 1, max: 300 }).map((n) => "x".repeat(n)),
      fc.integer({ min: 1, max: 100 }).map((n) => "😀".repeat(n)),
    ),
    { maxLength: 50 },
  )
  .map((parts) => parts.join(""));

const withLoneSurrogates = fc
  .tuple(
    text,
    fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) }),
  )
  .map(([t, s]) => t + s + t);

const options: fc.Arbitrary<ChunkOptions> = fc.record({
  size: fc.integer({ min: 16, max: 120 }),
  overlap: fc.constant(0),
});

const nonWhitespace = (s: string): string => s.replace(/\s/g, "");
const hasLoneSurrogate = (s: string): boolean => /\p{Cs}/u.test(s);

describe("fallbackClean", () => {
  it("strips markup, comments, scripts and styles from html", () => {
    const page = `<html><head><title>T</title><style>p{}</style></head><body><!-- note -->
      <SCRIPT type="x">if (a < b) alert("<p>")</SCRIPT><p>Hello <b>bold</b> &amp; &#233;&#x1F600;</p>
      <div>a < b</div><br/>end</body></html>`;
    expect(fallbackClean(page, "html")).toBe("T\n\nHello bold & é😀\n\na < b\n\nend");
  });

  it("drops an unterminated comment or script but keeps text before it", () => {
    expect(fallbackClean("kept <!-- never closed <p>x</p>", "html")).toBe("kept");
    expect(fallbackClean("kept<script>var x = 1;", "html")).toBe("kept");
    expect(fallbackClean("keep &bogus; &#0; &#99999999; <", "html")).toBe("keep &bogus; &#0; &#99999999; <");
  });

  it("leaves markup alone in other formats", () => {
    for (const format of ["text", "markdown", "json"] as const) {
      expect(fallbackClean("  <b>bold</b>\r\n&amp;  ", format)).toBe("<b>bold</b>\n&amp;");
    }
  });

  it("never throws and always returns clean text", () => {
    fc.assert(
      fc.property(fc.oneof(text, withLoneSurrogates), fc.constantFrom(...FORMATS), (content, format) => {
        const out = fallbackClean(content, format);
        expect(cleanText(out)).toBe(out);
      }),
      { numRuns: 300 },
    );
  });

  it("is linear on pathological html: 8 times the input, well under 64 times the time", () => {
    const pages: [string, (n: number) => string][] = [
      ["<a", (n) => "<a".repeat(n)],
      ["<a ... >", (n) => `${"<a".repeat(n)}>`],
      ["<script>", (n) => "<script>".repeat(n)],
      ["<!--", (n) => "<!--".repeat(n)],
      ["<p>", (n) => "<p>".repeat(n)],
    ];
    for (const [name, page] of pages) {
      expect(fallbackClean(page(1_000), "html").length, name).toBeLessThanOrEqual(page(1_000).length);
      const ratio = growthRatio((n) => fallbackClean(page(n), "html"), 50_000);
      // Linear work grows about 8 times (up to 18 measured, when the larger input's strings go to
      // the old generation), quadratic work about 64 times.
      expect(ratio, `${name}: ${ratio.toFixed(1)} times slower on 8 times the input`).toBeLessThan(32);
    }
  });
});

describe("fixedChunks", () => {
  it("cuts consecutive slices of at most size", () => {
    expect(fixedChunks("abcdefghij".repeat(4), { size: 16, overlap: 0 })).toEqual([
      "abcdefghijabcdef",
      "ghijabcdefghijab",
      "cdefghij",
    ]);
    expect(fixedChunks("  \n ", { size: 16, overlap: 0 })).toEqual([]);
    expect(fixedChunks("😀".repeat(10), { size: 17, overlap: 0 })).toEqual(["😀".repeat(8), "😀".repeat(2)]);
    expect(() => fixedChunks("x", { size: 4, overlap: 0 })).toThrow(RangeError);
  });

  it("gives non-empty trimmed chunks within size and loses no text", () => {
    fc.assert(
      fc.property(fc.oneof(text, withLoneSurrogates), options, (content, opts) => {
        const chunks = fixedChunks(content, opts);
        for (const chunk of chunks) {
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(opts.size);
          expect(chunk).toBe(chunk.trim());
        }
        expect(nonWhitespace(chunks.join(""))).toBe(nonWhitespace(content));
      }),
      { numRuns: 400 },
    );
  });

  it("never splits a surrogate pair", () => {
    fc.assert(
      fc.property(text, options, (content, opts) => {
        for (const chunk of fixedChunks(content, opts)) expect(hasLoneSurrogate(chunk)).toBe(false);
      }),
      { numRuns: 400 },
    );
  });
});
