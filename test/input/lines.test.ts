import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Line, readLines } from "../../src/input/lines.js";
import { tempDir } from "../helpers/cli.js";
import { BOM, writeFile } from "../helpers/fixtures.js";

const MIB = 1 << 20;

let dir = "";
let counter = 0;

beforeAll(() => {
  dir = tempDir("docbatch-lines-");
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(data: string | Buffer): string {
  counter += 1;
  return writeFile(dir, `f${counter}.txt`, data);
}

async function read(name: string, from = 0): Promise<Line[]> {
  const out: Line[] = [];
  for await (const line of readLines(name, from)) out.push(line);
  return out;
}

/** Byte offset just after each newline of `bytes` (and the end, when the last line has none). */
function expectedNext(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) out.push(i + 1);
  if (bytes.length > 0 && bytes[bytes.length - 1] !== 10) out.push(bytes.length);
  return out;
}

/** Every returned offset resumes to exactly the remaining lines, numbered from 1 again. */
async function expectResumable(name: string, all: Line[]): Promise<void> {
  for (let i = 0; i < all.length; i++) {
    const rest = await read(name, all[i]!.next);
    expect(rest.map((l) => l.text)).toEqual(all.slice(i + 1).map((l) => l.text));
    expect(rest.map((l) => l.next)).toEqual(all.slice(i + 1).map((l) => l.next));
    expect(rest.map((l) => l.number)).toEqual(rest.map((_, k) => k + 1));
  }
}

describe("readLines", () => {
  it("yields each line with its 1-based number and the byte offset after its newline", async () => {
    const lines = await read(file("a\nbb\nccc\n"));
    expect(lines).toEqual([
      { text: "a", number: 1, next: 2 },
      { text: "bb", number: 2, next: 5 },
      { text: "ccc", number: 3, next: 9 },
    ]);
  });

  it("yields a last line without a trailing newline, ending at the file size", async () => {
    const lines = await read(file("a\nlast"));
    expect(lines).toEqual([
      { text: "a", number: 1, next: 2 },
      { text: "last", number: 2, next: 6 },
    ]);
  });

  it("yields blank lines (skipping them is the caller's business), counting them", async () => {
    const lines = await read(file("a\n\n  \nb\n"));
    expect(lines.map((l) => [l.text, l.number])).toEqual([
      ["a", 1],
      ["", 2],
      ["  ", 3],
      ["b", 4],
    ]);
  });

  it("drops the CR of CRLF, keeps offsets in bytes, and drops a CR at the very end", async () => {
    const lines = await read(file("a\r\nbb\r\n\r\nc\r"));
    expect(lines).toEqual([
      { text: "a", number: 1, next: 3 },
      { text: "bb", number: 2, next: 7 },
      { text: "", number: 3, next: 9 },
      { text: "c", number: 4, next: 11 },
    ]);
  });

  it("keeps a lone CR inside a line (only LF ends a line)", async () => {
    const lines = await read(file("a\rb\nc\r\r\n"));
    expect(lines.map((l) => l.text)).toEqual(["a\rb", "c\r"]);
  });

  it("strips a UTF-8 BOM at the start, counting its bytes in the offsets", async () => {
    const name = file(Buffer.concat([BOM, Buffer.from("a\nb\n")]));
    const lines = await read(name);
    expect(lines).toEqual([
      { text: "a", number: 1, next: 5 },
      { text: "b", number: 2, next: 7 },
    ]);
    expect(await read(name, 3)).toEqual(lines);
    await expectResumable(name, lines);
  });

  it("keeps a U+FEFF that is not at the start of the file", async () => {
    const lines = await read(file("a\n\ufeffb\n"));
    expect(lines.map((l) => l.text)).toEqual(["a", "\ufeffb"]);
  });

  it("yields nothing for an empty file or a file holding only a BOM", async () => {
    expect(await read(file(""))).toEqual([]);
    expect(await read(file(BOM))).toEqual([]);
    expect(await read(file(Buffer.concat([BOM, Buffer.from("\n")])))).toEqual([
      { text: "", number: 1, next: 4 },
    ]);
    expect(await read(file("\n"))).toEqual([{ text: "", number: 1, next: 1 }]);
  });

  it("resumes from every returned offset with exactly the remaining lines", async () => {
    const bytes = Buffer.concat([
      BOM,
      Buffer.from('{"id":"é"}\r\n\r\n中文 line\n😀\r\n  \nlast without newline'),
    ]);
    const name = file(bytes);
    const lines = await read(name);
    expect(lines.map((l) => l.text)).toEqual([
      '{"id":"é"}',
      "",
      "中文 line",
      "😀",
      "  ",
      "last without newline",
    ]);
    expect(lines.map((l) => l.next)).toEqual(expectedNext(bytes));
    await expectResumable(name, lines);
    expect(await read(name, bytes.length)).toEqual([]);
  });

  it("reads multi-byte UTF-8 split across the 1 MiB read buffer (file > 2 MiB of Chinese)", async () => {
    const texts: string[] = [];
    let size = 0;
    for (let i = 0; size < 2.5 * MIB; i++) {
      const text = `第${i}行：${"中文文本，汉字。".repeat(1 + ((i * 37) % 400))}`;
      texts.push(text);
      size += Buffer.byteLength(text) + 1;
    }
    // One line longer than the read buffer, so a line spans whole buffers.
    texts.push("长".repeat(Math.ceil((1.2 * MIB) / 3)));
    texts.push("end");
    const bytes = Buffer.from(texts.join("\n"));
    expect(bytes.length).toBeGreaterThan(3 * MIB);
    const name = file(bytes);
    const lines = await read(name);
    expect(lines.length).toBe(texts.length);
    for (let i = 0; i < texts.length; i++) {
      if (lines[i]!.text !== texts[i])
        expect({ line: i + 1, text: lines[i]!.text }).toEqual({ line: i + 1, text: texts[i] });
    }
    expect(lines.some((l) => l.text.includes("\ufffd"))).toBe(false);
    expect(lines.map((l) => l.next)).toEqual(expectedNext(bytes));
    expect(lines.map((l) => l.number)).toEqual(texts.map((_, i) => i + 1));
    // Resume around the buffer boundaries: the buffers are aligned differently from there.
    const picks = [
      lines.findIndex((l) => l.next > MIB) - 1,
      lines.findIndex((l) => l.next > MIB),
      lines.findIndex((l) => l.next > 2 * MIB),
      lines.length - 3,
    ];
    for (const i of picks) {
      const rest = await read(name, lines[i]!.next);
      expect(rest.map((l) => l.text)).toEqual(texts.slice(i + 1));
      expect(rest.map((l) => l.next)).toEqual(lines.slice(i + 1).map((l) => l.next));
    }
  });

  it("handles a CRLF and a 4-byte character split by the 1 MiB read buffer", async () => {
    const crlf = Buffer.from(`${"x".repeat(MIB - 1)}\r\nnext\r\n`);
    expect(crlf[MIB - 1]).toBe(13);
    expect(crlf[MIB]).toBe(10);
    const crlfLines = await read(file(crlf));
    expect(crlfLines.map((l) => l.text.length)).toEqual([MIB - 1, 4]);
    expect(crlfLines[0]!.text.endsWith("\r")).toBe(false);
    expect(crlfLines.map((l) => l.next)).toEqual([MIB + 1, MIB + 7]);

    const emoji = Buffer.from(`${"y".repeat(MIB - 2)}😀tail\n中`);
    const emojiLines = await read(file(emoji));
    expect(emojiLines.map((l) => l.text)).toEqual([`${"y".repeat(MIB - 2)}😀tail`, "中"]);
    expect(emojiLines.map((l) => l.next)).toEqual([MIB + 7, MIB + 10]);
  });

  it("reads back any lines written with LF or CRLF, with or without BOM and final newline (property)", async () => {
    const lineText = fc
      .array(
        fc.oneof(
          fc.string({ unit: "grapheme", maxLength: 6 }),
          fc.constantFrom("中文", "😀", "é", " ", "\t", "{}"),
        ),
        {
          maxLength: 6,
        },
      )
      .map((parts) => parts.join("").replace(/[\r\n\ufeff]/g, ""));
    const input = fc.record({
      lines: fc.array(fc.tuple(lineText, fc.constantFrom("\n", "\r\n")), { minLength: 0, maxLength: 12 }),
      bom: fc.boolean(),
      finalNewline: fc.boolean(),
    });
    const name = path.join(dir, "property.txt");
    await fc.assert(
      fc.asyncProperty(input, async ({ lines, bom, finalNewline }) => {
        let text = lines.map(([t, eol]) => t + eol).join("");
        let expected = lines.map(([t]) => t);
        if (!finalNewline && lines.length > 0) {
          const [last, eol] = lines[lines.length - 1]!;
          text = text.slice(0, text.length - eol.length);
          if (last === "") expected = expected.slice(0, -1);
        }
        const bytes = bom ? Buffer.concat([BOM, Buffer.from(text)]) : Buffer.from(text);
        fs.writeFileSync(name, bytes);
        const got = await read(name);
        expect(got.map((l) => l.text)).toEqual(expected);
        expect(got.map((l) => l.next)).toEqual(expectedNext(bytes).slice(0, expected.length));
        if (got.length > 0) {
          const pick = got[Math.floor(got.length / 2)]!;
          const rest = await read(name, pick.next);
          expect(rest.map((l) => l.text)).toEqual(expected.slice(pick.number));
        }
      }),
      { numRuns: 150 },
    );
  });
});
