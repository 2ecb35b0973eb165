import fc from "fast-check";
import { countTokens as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { describe, expect, it } from "vitest";
import { type ChunkOptions, chunkSpans, chunkText } from "../../src/pipeline/chunk.js";
import { loadTokenizer, tokenMeasure } from "../../src/pipeline/chunk-measure.js";
import { prepareChunks } from "../../src/pipeline/prepare.js";
import { testSeed } from "../helpers/seed.js";

const SEED = testSeed("chunk-tokens.test");
const RUNS = { numRuns: 150, seed: SEED };
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Words, markdown, code, CJK, emoji, numbers and special-token look-alikes, in any order. */
const piece = fc.oneof(
  fc.constantFrom(
    " ",
    "\n",
    "\n\n",
    "\t",
    ". ",
    "! ",
    "? ",
    "。",
    "\n# Heading\n",
    "\n## Sub\n",
    "\n- item ",
  ),
  fc.constantFrom(
    "tokenization",
    "internationalization",
    "the",
    "a",
    "123456789",
    "3.14159",
    "<|endoftext|>",
  ),
  fc.constantFrom("第一句。第二句！", "これは日本語の文です。", "😀👨‍👩‍👧", "e\u0301", "Ünïcödé"),
  fc.constantFrom("\n```js\nconst  x = { a: 1 };\n```\n", "function f(a, b) { return a + b; }"),
  fc.string({ unit: "grapheme-ascii", maxLength: 16 }),
  fc.integer({ min: 1, max: 200 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 1, max: 40 }).map((n) => "word ".repeat(n)),
);
const text = fc.array(piece, { maxLength: 50 }).map((p) => p.join(""));

const options: fc.Arbitrary<ChunkOptions> = fc.integer({ min: 16, max: 96 }).chain((size) =>
  fc.record({
    size: fc.constant(size),
    overlap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Math.ceil(size / 2) - 1 })),
    unit: fc.constant("tokens" as const),
    tokenizer: fc.constantFrom("o200k_base" as const, "cl100k_base" as const),
  }),
);

const counters = {
  o200k_base: (t: string) => o200k(t, AS_TEXT),
  cl100k_base: (t: string) => cl100k(t, AS_TEXT),
};

describe("token-sized chunks", () => {
  it("never exceed the size, lose no text, keep order and honour the overlap (fast-check)", async () => {
    const measures = {
      o200k_base: tokenMeasure(await loadTokenizer("o200k_base")),
      cl100k_base: tokenMeasure(await loadTokenizer("cl100k_base")),
    };
    fc.assert(
      fc.property(text, options, (t, opts) => {
        const tokenizer = opts.tokenizer!;
        const count = counters[tokenizer];
        const spans = chunkSpans(t, opts, measures[tokenizer]);
        const covered = new Uint8Array(t.length);
        spans.forEach((span, i) => {
          const chunk = t.slice(span.start, span.end);
          expect(chunk.length).toBeGreaterThan(0);
          expect(count(chunk), `chunk ${i} tokens`).toBeLessThanOrEqual(opts.size);
          covered.fill(1, span.start, span.end);
          const prev = spans[i - 1];
          if (!prev) return;
          expect(span.start).toBeGreaterThan(prev.start);
          expect(span.end).toBeGreaterThan(prev.end);
          if (span.start < prev.end) {
            expect(count(t.slice(span.start, prev.end)), `overlap of chunk ${i}`).toBeLessThanOrEqual(
              opts.overlap,
            );
          }
        });
        for (let i = 0; i < t.length; i++) {
          if (!covered[i] && !/\s/.test(t[i]!)) expect.fail(`${JSON.stringify(t[i])} at ${i} is in no chunk`);
        }
        expect(chunkText(t, opts, measures[tokenizer])).toEqual(spans.map((s) => t.slice(s.start, s.end)));
      }),
      RUNS,
    );
  });

  it("cuts a document into chunks of at most 64 tokens through the pipeline", async () => {
    const doc = `# Guide\n\n${"Retrieval works best with chunks a model can read whole. ".repeat(40)}\n\n## Code\n\n\`\`\`ts\nconst  answer = 42;\n\`\`\``;
    const { texts, metadata } = await prepareChunks(
      doc,
      "markdown",
      { size: 64, overlap: 8, unit: "tokens" },
      "g",
      {},
    );
    expect(texts.length).toBeGreaterThan(5);
    for (const t of texts) expect(o200k(t, AS_TEXT)).toBeLessThanOrEqual(64);
    expect(texts.at(-1)).toContain("const  answer = 42;");
    expect(metadata.at(-1)!.headings).toEqual(["Guide", "Code"]);
  });

  it("splits a chunk longer than --embed-max-tokens instead of truncating it", async () => {
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ");
    const { texts } = await prepareChunks(words, "text", { size: 4000, overlap: 0, maxTokens: 50 }, "t", {});
    expect(texts.length).toBeGreaterThan(1);
    for (const t of texts) expect(o200k(t, AS_TEXT)).toBeLessThanOrEqual(50);
    expect(texts.join(" ").split(" ")).toEqual(words.split(" "));
  });
});
