import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cleanText, collapseSpaces } from "../../src/pipeline/clean.js";
import { itGives } from "../helpers/examples.js";

const messy = fc
  .array(
    fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 10 }),
      fc.constantFrom(
        " ",
        "  ",
        "\t",
        "\r\n",
        "\r",
        "\n",
        "\n\n\n\n",
        " \n ",
        "\v",
        "\f",
        "\u0000",
        "\u001b",
      ),
      fc.constantFrom(
        "\u007f",
        "\u0085",
        "\u009f",
        "\u00a0",
        "\u3000",
        "\u2003",
        "\u2028",
        "\u200b",
        "\u200d",
      ),
      fc.constantFrom("\ufeff", "e\u0301", "\u0301", "A\u030a", "👨‍👩‍👧", "第一句。"),
      fc.string({
        unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
        maxLength: 5,
      }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(""));

const REMOVED = /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u200b-\u200d\ufeff]/g;
// NEL (U+0085) is a line ending to cleanText but not whitespace to \s.
const visible = (s: string): string =>
  s
    .replace(REMOVED, "")
    .replace(/[\s\u0085]/g, "")
    .normalize("NFD");

describe("cleanText", () => {
  itGives(cleanText, [
    [
      "normalizes line endings and whitespace",
      [
        ["  a\r\nb\rc \t d  \n\n\n\n e  \n", "a\nb\nc d\n\n e"],
        ["line\u2028next\fpage", "line\nnext\npage"],
        ["no\u00a0break\u3000ideo", "no break ideo"],
      ],
    ],
    [
      "removes controls and zero-width characters",
      [
        ["\ufeffa\u0000b\u001bc\u007fd\u200be\u200cf\u200dg\u0090h", "abcdefgh"],
        ["tab\there", "tab here"],
      ],
    ],
    [
      "composes to NFC, also across removed characters",
      [
        ["Cafe\u0301", "Café"],
        ["e\u200b\u0301", "\u00e9"],
      ],
    ],
    [
      "gives an empty string for blank text",
      [
        ["", ""],
        [" \n\t\r\n\u200b\u3000", ""],
      ],
    ],
  ]);

  it("collapses every run of tabs and Unicode spaces to one space, touching nothing else", () => {
    const spacey = fc
      .array(fc.constantFrom("a", "b", " ", "\t", "\u00a0", "\u3000", "\u2003", "\u202f", "\n", "é"), {
        maxLength: 30,
      })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(spacey, (text) => {
        expect(collapseSpaces(text)).toBe(text.replace(/[\t\p{Zs}]+/gu, " "));
      }),
      { numRuns: 2_000 },
    );
    const prose = "One space between words, as prose has.";
    expect(collapseSpaces(prose)).toBe(prose);
  });

  it("produces clean text from anything, keeping every visible character", () => {
    fc.assert(
      fc.property(messy, (text) => {
        const out = cleanText(text);
        expect(out).toBe(out.trim());
        expect(out).toBe(out.normalize("NFC"));
        expect(out).not.toMatch(/[\r\t\v\f\u2028\u2029]| {2}| \n|\n{3}/);
        expect(out).not.toMatch(REMOVED);
        expect(out).not.toMatch(/[^\S \n]/);
        expect(visible(out)).toBe(visible(text));
      }),
      { numRuns: 500 },
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(messy, (text) => {
        const once = cleanText(text);
        expect(cleanText(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });
});
