import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ChunkOptions,
  chunkSpans,
  chunkText,
  DEFAULT_CHUNK_OPTIONS,
  isWhitespaceCode,
  type Span,
  validateChunkOptions,
} from "../../src/pipeline/chunk.js";
import { growthRatio } from "../helpers/growth.js";
import { testSeed } from "../helpers/seed.js";

/** Pieces of text the chunker must cope with, joined in any order. */
const tokens = [
  fc.constantFrom(" ", "  ", "\n", "\n\n", "\n\n\n", "\t", "\r\n", "\u3000", "\u00a0", "\u2028"),
  fc.constantFrom("# ", "## ", "###### ", "####### ", "\n# Title\n", "\n## Sub section\n", "#\n"),
  fc.constantFrom(". ", "! ", "? ", ".", '." ', "。", "！", "？", "；", "…", "」", "\n- item"),
  fc.string({ unit: "grapheme-ascii", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.constantFrom("第一句。第二句！第三句？", "これは日本語の文です。", "😀", "👨‍👩‍👧", "e\u0301", "𝒜𝒷𝒸"),
  // Long runs without any whitespace, in ASCII and in surrogate pairs.
  fc.integer({ min: 1, max: 300 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 1, max: 100 }).map((n) => "😀".repeat(n)),
  fc.integer({ min: 1, max: 60 }).map((n) => "word ".repeat(n)),
];

const fences = fc.constantFrom("```", "\n```\n", "\n~~~js\n", "\n```\n# not a heading\n\n");

/** Any code unit, lone surrogates included. */
const codeUnits = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  maxLength: 6,
});

/** Well-formed UTF-16 (no lone surrogates): text, markdown, CJK, emoji, long runs, code fences. */
const wellFormedText = fc.array(fc.oneof(...tokens, fences), { maxLength: 60 }).map((p) => p.join(""));

/** Like `wellFormedText`, plus lone surrogates and arbitrary control characters. */
const anyText = fc.array(fc.oneof(...tokens, fences, codeUnits), { maxLength: 60 }).map((p) => p.join(""));

/** Markdown-ish text without code fences, where every heading line must start a chunk. */
const fencelessText = fc
  .array(fc.oneof(...tokens), { maxLength: 60 })
  .map((p) => p.join(""))
  .filter((t) => !t.includes("```") && !t.includes("~~~"));

const chunkOptions: fc.Arbitrary<ChunkOptions> = fc.integer({ min: 16, max: 120 }).chain((size) =>
  fc.record({
    size: fc.constant(size),
    overlap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Math.ceil(size / 2) - 1 })),
  }),
);

const whitespaceOnly = fc
  .array(fc.constantFrom(" ", "\n", "\t", "\r", "\u3000", "\u00a0", "\ufeff", "\u2028", "\v", "\f"), {
    maxLength: 40,
  })
  .map((p) => p.join(""));

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** Whether a cut at `offset` would separate the two halves of a surrogate pair. */
function splitsPair(text: string, offset: number): boolean {
  return (
    offset > 0 &&
    offset < text.length &&
    isHigh(text.charCodeAt(offset - 1)) &&
    isLow(text.charCodeAt(offset))
  );
}

const hasLoneSurrogate = (s: string): boolean => /\p{Cs}/u.test(s);

const RUNS = { numRuns: 400, seed: testSeed("chunk.test") };
const at = (size: number, overlap = 0): ChunkOptions => ({ size, overlap });

/** The guarantees every result of chunkSpans must hold, whatever the input. */
function checkSpans(text: string, spans: Span[], { size, overlap }: ChunkOptions): void {
  const covered = new Uint8Array(text.length);
  spans.forEach((span, i) => {
    expect(span.end - span.start, `span ${i} length`).toBeGreaterThan(0);
    expect(span.end - span.start, `span ${i} length`).toBeLessThanOrEqual(size);
    expect(span.start).toBeGreaterThanOrEqual(0);
    expect(span.end).toBeLessThanOrEqual(text.length);
    expect(splitsPair(text, span.start), `span ${i} start splits a surrogate pair`).toBe(false);
    expect(splitsPair(text, span.end), `span ${i} end splits a surrogate pair`).toBe(false);
    const slice = text.slice(span.start, span.end);
    expect(slice.trim(), `span ${i} has whitespace at an end`).toBe(slice);
    covered.fill(1, span.start, span.end);
    const prev = spans[i - 1];
    if (prev) {
      expect(span.start, `span ${i} start order`).toBeGreaterThan(prev.start);
      expect(span.end, `span ${i} end order`).toBeGreaterThan(prev.end);
      expect(span.start, `span ${i} overlaps too much`).toBeGreaterThanOrEqual(prev.end - overlap);
    }
  });
  for (let i = 0; i < text.length; i++) {
    if (!covered[i] && !/\s/.test(text[i]!)) {
      expect.fail(`non-whitespace ${JSON.stringify(text[i])} at ${i} is in no chunk`);
    }
  }
}

describe("validateChunkOptions", () => {
  it("accepts the defaults and the bounds", () => {
    expect(DEFAULT_CHUNK_OPTIONS).toEqual({ size: 1000, overlap: 0 });
    expect(() => validateChunkOptions(DEFAULT_CHUNK_OPTIONS)).not.toThrow();
    expect(() => validateChunkOptions(at(16, 7))).not.toThrow();
    expect(() => validateChunkOptions(at(17, 8))).not.toThrow();
  });

  it("names the bad value", () => {
    expect(() => validateChunkOptions(at(3))).toThrow(
      new RangeError("Expected `size` to be an integer from 16 and up, got `3` (number)"),
    );
    expect(() => validateChunkOptions({ size: "1000", overlap: 0 } as unknown as ChunkOptions)).toThrow(
      'got `"1000"` (string)',
    );
    expect(() => validateChunkOptions(at(100.5))).toThrow(RangeError);
    expect(() => validateChunkOptions(at(Number.NaN))).toThrow("got `NaN` (number)");
    expect(() => validateChunkOptions(at(16, 8))).toThrow(
      /Expected `overlap` to be an integer from 0 to 7 .*got `8` \(number\)/,
    );
    expect(() => validateChunkOptions(at(100, -1))).toThrow("got `-1` (number)");
    expect(() => chunkSpans("text", at(15))).toThrow(RangeError);
  });
});

describe("chunkSpans / chunkText examples", () => {
  it("gives no chunk for empty or blank text", () => {
    expect(chunkSpans("", DEFAULT_CHUNK_OPTIONS)).toEqual([]);
    expect(chunkText(" \n\t\u3000\n", DEFAULT_CHUNK_OPTIONS)).toEqual([]);
  });

  it("keeps small text in one trimmed chunk", () => {
    expect(chunkSpans("  hello world\n", DEFAULT_CHUNK_OPTIONS)).toEqual([{ start: 2, end: 13 }]);
    expect(chunkText("  hello world\n", DEFAULT_CHUNK_OPTIONS)).toEqual(["hello world"]);
  });

  it("starts a chunk at every markdown heading, even with room left", () => {
    const text = "# Intro\n\nShort.\n\n## Details\n\nMore text.\n### Deep\nx";
    expect(chunkText(text, DEFAULT_CHUNK_OPTIONS)).toEqual([
      "# Intro\n\nShort.",
      "## Details\n\nMore text.",
      "### Deep\nx",
    ]);
  });

  it("never leaves a heading alone: it goes with the content under it", () => {
    // Headings in a row share the chunk of the first content after them.
    expect(chunkText("# A\n\n## B\n\ntext of B\n\n## C\n\ntext of C", DEFAULT_CHUNK_OPTIONS)).toEqual([
      "# A\n\n## B\n\ntext of B",
      "## C\n\ntext of C",
    ]);
    // A long paragraph after a heading is cut so that its start fits beside the heading.
    const long = "word ".repeat(20).trim();
    const chunks = chunkText(`## Sponsors\n\n${long}`, at(40));
    expect(chunks[0]!.startsWith("## Sponsors\n\nword")).toBe(true);
    expect(chunks.every((c) => c.length <= 40)).toBe(true);
    // A heading at the very end joins the chunk before it.
    expect(chunkText("# A\n\nsome text\n\n## License", DEFAULT_CHUNK_OPTIONS)).toEqual([
      "# A\n\nsome text\n\n## License",
    ]);
    expect(chunkText("#hashtag is not a heading\n####### nor this", DEFAULT_CHUNK_OPTIONS)).toHaveLength(1);
    // A heading too long to keep content beside it is cut like content, so that the heading
    // before it is not left alone.
    expect(chunkText("# \n## Sub section\n第一句。第二句！第三句？", at(16))).toEqual([
      "# \n## Sub",
      "section",
      "第一句。第二句！第三句？",
    ]);
  });

  it("packs paragraphs greedily and splits only between them when they fit", () => {
    const text = "aaaa bbbb.\n\ncccc dddd.\n\neeee ffff.";
    expect(chunkText(text, at(24))).toEqual(["aaaa bbbb.\n\ncccc dddd.", "eeee ffff."]);
  });

  it("splits an oversized paragraph into sentences", () => {
    const text = "One two three. Four five six! Seven eight nine? Ten.";
    expect(chunkText(text, at(32))).toEqual(["One two three. Four five six!", "Seven eight nine? Ten."]);
  });

  it("splits Chinese text after 。！？ without needing spaces", () => {
    const text = "这是第一个句子。这是第二个句子！这是第三个句子？";
    expect(chunkText(text, at(16))).toEqual(["这是第一个句子。这是第二个句子！", "这是第三个句子？"]);
    expect(chunkText("第一句。第二句！第三句？", at(16))).toEqual(["第一句。第二句！第三句？"]);
    const many = "第一句。第二句！第三句？".repeat(3);
    for (const chunk of chunkText(many, at(16))) expect(chunk).toMatch(/[。！？]$/);
  });

  it("keeps a fenced code block whole and ignores headings inside it", () => {
    const code = "```sh\n# install\n\nnpm ci\n```";
    const text = `Intro line.\n\n${code}\n\nAfter.`;
    expect(chunkText(text, at(30))).toEqual(["Intro line.", code, "After."]);
    expect(chunkText(text, DEFAULT_CHUNK_OPTIONS)).toEqual([text]);
  });

  it("hard-splits a long sentence at the last whitespace, else at the limit", () => {
    expect(chunkText("aaaaaaaaaa bbbbbbbbbb cccccccccc", at(16))).toEqual([
      "aaaaaaaaaa",
      "bbbbbbbbbb",
      "cccccccccc",
    ]);
    expect(chunkText("x".repeat(40), at(16))).toEqual(["x".repeat(16), "x".repeat(16), "x".repeat(8)]);
  });

  it("never cuts an emoji in half", () => {
    const chunks = chunkText("😀".repeat(20), at(17));
    expect(chunks.map((c) => c.length)).toEqual([16, 16, 8]);
    for (const chunk of chunks) expect(hasLoneSurrogate(chunk)).toBe(false);
  });

  it("repeats the end of a chunk at the start of the next, from a word boundary", () => {
    const text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu";
    const spans = chunkSpans(text, at(30, 12));
    expect(spans.length).toBeGreaterThan(2);
    for (let i = 1; i < spans.length; i++) {
      const { start } = spans[i]!;
      const repeated = text.slice(start, spans[i - 1]!.end);
      expect(repeated.length, `chunk ${i} repeats some text`).toBeGreaterThan(0);
      expect(repeated.length).toBeLessThanOrEqual(12);
      expect(text[start - 1], `chunk ${i} starts at a word`).toBe(" ");
    }
    // Not across a heading: the heading is the context of its section.
    expect(chunkText("# A\n\nfirst part text\n\n# B\n\nsecond", at(20, 9))).toEqual([
      "# A\n\nfirst part text",
      "# B\n\nsecond",
    ]);
  });

  it("is linear: 8 times the document, well under 64 times the time", () => {
    const documents: [string, (n: number) => string][] = [
      ["prose", (n) => "Lorem ipsum dolor sit amet, consectetur. ".repeat(n / 40)],
      ["one word", (n) => "x".repeat(n)],
      ["short lines", (n) => "line\n".repeat(n / 5)],
      ["paragraphs", (n) => "para one.\n\n".repeat(n / 11)],
      ["CJK sentences", (n) => "第一句。第二句！".repeat(n / 8)],
    ];
    for (const [name, document] of documents) {
      const text = document(40_000);
      checkSpans(text, chunkSpans(text, at(1000, 100)), at(1000, 100));
      const ratio = growthRatio((n) => chunkSpans(document(n), at(1000, 100)), 100_000);
      // Linear work grows about 8 times (up to 18 measured, when the larger input's strings go to
      // the old generation), quadratic work about 64 times.
      expect(ratio, `${name}: ${ratio.toFixed(1)} times slower on 8 times the input`).toBeLessThan(32);
    }
  });

  it("treats exactly the characters of \\s as whitespace", () => {
    const mismatches: string[] = [];
    for (let c = 0; c <= 0xffff; c++) {
      if (isWhitespaceCode(c) !== /\s/.test(String.fromCharCode(c))) mismatches.push(`U+${c.toString(16)}`);
    }
    expect(mismatches).toEqual([]);
  });
});

describe("chunkSpans / chunkText properties", () => {
  it("holds every guarantee on arbitrary text", () => {
    fc.assert(
      fc.property(anyText, chunkOptions, (text, options) => {
        checkSpans(text, chunkSpans(text, options), options);
      }),
      RUNS,
    );
  });

  it("gives chunks that are the trimmed, non-empty text of the spans", () => {
    fc.assert(
      fc.property(anyText, chunkOptions, (text, options) => {
        const spans = chunkSpans(text, options);
        const chunks = chunkText(text, options);
        expect(chunks).toEqual(spans.map((s) => text.slice(s.start, s.end).trim()));
        for (const chunk of chunks) {
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(options.size);
        }
      }),
      RUNS,
    );
  });

  it("keeps well-formed text well-formed in every chunk", () => {
    fc.assert(
      fc.property(wellFormedText, chunkOptions, (text, options) => {
        for (const chunk of chunkText(text, options)) expect(hasLoneSurrogate(chunk)).toBe(false);
      }),
      RUNS,
    );
  });

  it("does not overlap chunks without overlap", () => {
    fc.assert(
      fc.property(anyText, chunkOptions, (text, options) => {
        const spans = chunkSpans(text, { ...options, overlap: 0 });
        for (let i = 1; i < spans.length; i++)
          expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
      }),
      RUNS,
    );
  });

  it("starts a chunk at every heading, unless only headings precede it there, and never leaves one alone", () => {
    fc.assert(
      fc.property(fencelessText, chunkOptions, (text, options) => {
        const spans = chunkSpans(text, options);
        const heading = /#{1,6}\s/y;
        const onlyHeadings = (from: number, to: number): boolean =>
          text
            .slice(from, to)
            .split("\n")
            .every((line) => line.trim() === "" || /^#{1,6}(\s|$)/.test(line));
        for (let h = 0; h < text.length; h++) {
          if (h > 0 && text[h - 1] !== "\n") continue;
          heading.lastIndex = h;
          if (!heading.test(text)) continue;
          const inside = spans.find((s) => s.start < h && s.end > h);
          if (!inside) continue;
          // Inside a chunk: only after headings of that chunk, or as a last heading joined to the chunk before it.
          const atEnd = inside === spans[spans.length - 1] && onlyHeadings(h, text.length);
          expect(onlyHeadings(inside.start, h) || atEnd, `heading at ${h} inside a chunk`).toBe(true);
        }
        // Lines of a chunk, judged on the whole line of the text: a fragment of a heading line
        // longer than a chunk is cut like any text, and is content.
        const shortHeading = (from: number): boolean => {
          const lineStart = text.lastIndexOf("\n", from - 1) + 1;
          const end = text.indexOf("\n", from);
          const lineEnd = end < 0 ? text.length : end;
          const line = text.slice(lineStart, lineEnd);
          return line.trim() === "" || (/^#{1,6}(\s|$)/.test(line) && line.length <= options.size - 3);
        };
        spans.forEach((span, i) => {
          for (
            let p = span.start;
            p < span.end;
            p = text.indexOf("\n", p) < 0 ? span.end : text.indexOf("\n", p) + 1
          ) {
            if (!shortHeading(p)) return;
          }
          // A chunk of headings alone: nothing but headings follow, or no content fits beside it.
          let next = span.end;
          while (next < text.length && (/\s/.test(text[next]!) || shortHeading(next))) next++;
          const last = onlyHeadings(span.end, text.length);
          expect(last || next + 2 - span.start > options.size, `chunk ${i} is a bare heading`).toBe(true);
        });
      }),
      RUNS,
    );
  });

  it("gives nothing for whitespace-only text", () => {
    fc.assert(
      fc.property(whitespaceOnly, chunkOptions, (text, options) => {
        expect(chunkSpans(text, options)).toEqual([]);
        expect(chunkText(text, options)).toEqual([]);
      }),
    );
  });
});
