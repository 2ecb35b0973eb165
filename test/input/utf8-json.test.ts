/**
 * Strict UTF-8 and the streamed JSON reader: invalid bytes are an input error with their line
 * (never replaced by U+FFFD), in .json and .jsonl inputs alike, and a .json input is read one
 * element at a time, from any element's offset, whatever the read boundaries.
 */
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DocbatchError } from "../../src/core/errors.js";
import { JsonScanner } from "../../src/input/json-scanner.js";
import { openInput } from "../../src/input/sources.js";
import { firstInvalidUtf8 } from "../../src/input/utf8.js";
import { validateInput } from "../../src/input/validate.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { expectCliError } from "../helpers/fixtures.js";
import { testSeed } from "../helpers/seed.js";

let dir = "";
let counter = 0;
beforeAll(() => {
  dir = tempDir("docbatch-utf8-");
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(ext: string, data: string | Buffer): string {
  counter += 1;
  const name = path.join(dir, `f${counter}${ext}`);
  fs.writeFileSync(name, data);
  return name;
}

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

async function records(input: string, from = 0, index = 0) {
  const source = await openInput(input);
  const out: { where: string; next: number; raw: unknown }[] = [];
  for await (const r of source.records(from, index)) out.push({ where: r.where, next: r.next, raw: r.raw });
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<DocbatchError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DocbatchError);
  return err as DocbatchError;
}

describe("firstInvalidUtf8", () => {
  it("agrees with a fatal TextDecoder on random bytes, and points at the first bad byte", () => {
    const seed = testSeed("utf8 validator");
    const decoder = new TextDecoder("utf-8", { fatal: true });
    const validPrefix = (b: Uint8Array, at: number) => {
      decoder.decode(b.subarray(0, at));
      return true;
    };
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 255 }),
            fc.constantFrom(0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0xf4, 0x90),
          ),
          { maxLength: 40 },
        ),
        (list) => {
          const b = Uint8Array.from(list);
          let valid = true;
          try {
            decoder.decode(b);
          } catch {
            valid = false;
          }
          const at = firstInvalidUtf8(b);
          expect(at === -1).toBe(valid);
          if (at !== -1) expect(validPrefix(b, at)).toBe(true);
        },
      ),
      { seed, numRuns: 3_000 },
    );
  });
});

describe("JSON Lines with invalid UTF-8", () => {
  it("is INVALID_INPUT with the line and column of each bad line; other lines are still checked", async () => {
    const input = file(
      ".jsonl",
      bytes(
        '{"id":"a","content":"fine"}\n',
        '{"id":"b","content":"caf',
        [0xe9],
        '"}\n',
        '{"id":"c"}\n',
        '{"id":"d',
        [0xff],
        '","content":"x"}\r\n',
      ),
    );
    const error = await rejection(openInput(input).then((s) => validateInput(s)));
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.details).toEqual([
      expect.objectContaining({
        path: "line 2",
        line: 2,
        column: 25,
        problem: expect.stringMatching(/0xe9/),
      }),
      expect.objectContaining({ path: "line 3.content", line: 3 }),
      expect.objectContaining({ path: "line 4", line: 4, column: 9, problem: expect.stringMatching(/0xff/) }),
    ]);
    expect(error.hints.join(" ")).toMatch(/UTF-8/);
  });

  it("ids that differ only in invalid bytes are rejected, not collapsed into one document", async () => {
    const input = file(
      ".jsonl",
      bytes('{"id":"x', [0xfe], '","content":"one"}\n{"id":"x', [0xff], '","content":"two"}\n'),
    );
    const error = await rejection(openInput(input).then((s) => validateInput(s)));
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.details.map((d) => d.line)).toEqual([1, 2]);
  });

  it("a multi-byte character split by the 1 MiB read is not a problem", async () => {
    const long = "é".repeat(700_000); // 1.4 MB: the read boundary falls inside the line
    const input = file(
      ".jsonl",
      `${JSON.stringify({ id: "long", content: long })}\n{"id":"b","content":"ü"}\n`,
    );
    const got = await records(input);
    expect(got.map((r) => (r.raw as { content: string }).content.length)).toEqual([700_000, 1]);
  });
});

describe("JSON with invalid UTF-8", () => {
  it("is INVALID_INPUT at open, with the element, line and column of each bad byte", async () => {
    const input = file(
      ".json",
      bytes(
        '{"documents": [\n  {"id": "a", "content": "x"},\n  {"id": "b", "content": "',
        [0xc0, 0xaf],
        '"}\n]}',
      ),
    );
    const error = await rejection(openInput(input));
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toMatch(/line 3, column 27/);
    expect(error.details).toEqual([
      expect.objectContaining({
        path: "documents[1]",
        line: 3,
        column: 27,
        problem: expect.stringMatching(/0xc0 0xaf/),
      }),
    ]);
  });

  it("a truncated sequence at the very end of the file is found too", async () => {
    const error = await rejection(
      openInput(file(".json", bytes('[{"id":"a","content":"x"}]', [0xe2, 0x82]))),
    );
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.details[0]).toMatchObject({ path: "$", line: 1, column: 27 });
  });

  it("through the CLI: exit 2, the body on stderr, nothing written", async () => {
    const db = path.join(dir, "cli.db");
    const input = file(".json", bytes('[{"id":"a","content":"ok"},\n{"id":"b","content":"', [0xff], '"}]'));
    const result = await runCli(["run", input, "--db", db, "--json", "--no-progress"]);
    const error = expectCliError(result, "INVALID_INPUT");
    expect(error.details[0]).toMatchObject({ path: "[1]", line: 2 });
    expect(fs.existsSync(db)).toBe(false);
    const jsonl = file(".jsonl", bytes('{"id":"a","content":"ok"}\n{"id":"b","content":"', [0xff], '"}\n'));
    const lines = expectCliError(await runCli(["run", jsonl, "--db", db, "--no-progress"]), "INVALID_INPUT");
    expect(lines.details[0]).toMatchObject({ line: 2 });
  });
});

describe("the JSON scanner, fed in pieces of any size", () => {
  it("finds exactly the elements JSON.parse finds, and rejects what JSON.parse rejects at the top level", () => {
    const seed = testSeed("json scanner pieces");
    const spaces = fc.constantFrom("", " ", "\n", "\r\n\t ");
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 8 }),
        fc.boolean(),
        spaces,
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 6 }),
        (elements, bare, space, cuts) => {
          const items = elements.map((e) => JSON.stringify(e, null, space.includes("\n") ? 1 : 0));
          const array = `[${space}${items.join(`${space},${space}`)}${space}]`;
          const text = bare ? array : `{${space}"batch_id":"b",${space}"documents":${space}${array}${space}}`;
          const found: unknown[] = [];
          const scanner = new JsonScanner(
            {
              arrayStart() {},
              element(_start, _end, bytes) {
                found.push(JSON.parse(bytes!.toString("utf8")));
              },
              member() {},
            },
            true,
          );
          const bytes = Buffer.from(text);
          let at = 0;
          for (let k = 0; at < bytes.length; k++) {
            const next = Math.min(bytes.length, at + cuts[k % cuts.length]!);
            scanner.feed(Buffer.from(bytes.subarray(at, next)), at);
            at = next;
          }
          scanner.finish(bytes.length);
          expect(found).toEqual(JSON.parse(text).documents ?? JSON.parse(text));
        },
      ),
      { seed, numRuns: 1_500 },
    );
  });
});

describe("the streamed JSON reader", () => {
  it("yields every element with its path, from the start or from any element's offset", async () => {
    const seed = testSeed("json reader offsets");
    const docs = Array.from({ length: 40 }, (_, i) => ({
      id: `d${i}`,
      content: i % 7 === 0 ? "x".repeat(300_000) : `text ${i} ] } [ { "quoted" \\ é`,
      metadata: { n: i, nested: [{ a: [1, 2, { b: "]" }] }] },
    }));
    const input = file(
      ".json",
      `{"meta": {"a": [1, {"b": 2}]}, "documents": ${JSON.stringify(docs, null, 1)}, "batch_id": "late"}`,
    );
    const source = await openInput(input);
    expect(source.batchId).toBe("late");
    const all = await records(input);
    expect(all.map((r) => r.raw)).toEqual(docs);
    expect(all.map((r) => r.where)).toEqual(docs.map((_, i) => `documents[${i}]`));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: docs.length - 1 }), async (k) => {
        const tail = await records(input, all[k]!.next, k + 1);
        expect(tail.map((r) => r.raw)).toEqual(docs.slice(k + 1));
        expect(tail[0]?.where ?? `documents[${docs.length}]`).toBe(`documents[${k + 1}]`);
      }),
      { seed, numRuns: 15 },
    );
  });

  it("a multi-byte character split by the 1 MiB read is not a problem", async () => {
    for (const shift of [0, 1, 2, 3]) {
      const docs = [
        { id: "long", content: `${"a".repeat(shift)}${"€".repeat(500_000)}` },
        { id: "b", content: "ü" },
      ];
      expect((await records(file(".json", JSON.stringify(docs)))).map((r) => r.raw)).toEqual(docs);
    }
  });

  it("locates syntax errors inside an element and in the structure (INVALID_JSON, path $)", async () => {
    const inside = await rejection(
      records(
        file(".json", '{"documents": [\n {"id": "a", "content": "x"},\n {"id": "b" "content": "y"}\n]}'),
      ),
    );
    expect(inside.code).toBe("INVALID_JSON");
    expect(inside.details[0]).toMatchObject({ path: "$", line: 3 });
    const trailing = await rejection(openInput(file(".json", '[{"id": "a", "content": "x"}] [')));
    expect(trailing.details[0]).toMatchObject({ path: "$", line: 1, column: 31 });
    const mismatched = await rejection(openInput(file(".json", '[{"id": "a", "content": ["x"}]')));
    expect(mismatched.code).toBe("INVALID_JSON");
    expect(mismatched.message).not.toMatch(/\/|\\/); // the message names the input, not a folder
  });
});
