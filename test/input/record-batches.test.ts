import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InputRecord, type InputSource, openInput } from "../../src/input/sources.js";
import { tempDir } from "../helpers/cli.js";
import { BOM, writeFile } from "../helpers/fixtures.js";

const MIB = 1 << 20;

let dir = "";

beforeAll(() => {
  dir = tempDir("docbatch-record-batches-");
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function oneByOne(source: InputSource, from: number, index?: number): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const record of source.records(from, index)) out.push(record);
  return out;
}

async function inBatches(source: InputSource, from: number, index?: number): Promise<InputRecord[][]> {
  const out: InputRecord[][] = [];
  for await (const batch of source.recordBatches(from, index)) out.push(batch);
  return out;
}

/** Batches hold exactly the records, in order, from the start and from every record's offset. */
async function expectSameRecords(source: InputSource): Promise<InputRecord[]> {
  const all = await oneByOne(source, 0);
  const batches = await inBatches(source, 0);
  expect(batches.every((batch) => batch.length > 0)).toBe(true);
  expect(batches.flat()).toEqual(all);
  for (const [i, record] of all.entries()) {
    if (i % 7 !== 0) continue;
    expect((await inBatches(source, record.next, i + 1)).flat()).toEqual(
      await oneByOne(source, record.next, i + 1),
    );
  }
  return all;
}

describe("recordBatches", () => {
  it("gives a JSON Lines file's records as `records` does: blank lines, CRLF, a BOM, bad UTF-8, bad JSON", async () => {
    const lines = [
      '{"id":"a","content":"one"}',
      "",
      '{"id":"b","content":"two"}\r',
      "   ",
      "not json",
      Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]).toString("latin1"),
      '{"id":"c","content":"three"}',
    ];
    const body = Buffer.concat([
      BOM,
      ...lines.map((line, i) => Buffer.from(`${line}\n`, i === 5 ? "latin1" : "utf8")),
    ]);
    const source = await openInput(writeFile(dir, "mixed.jsonl", body));
    const records = await expectSameRecords(source);
    expect(records.map((r) => r.where)).toEqual(["line 1", "line 3", "line 5", "line 6", "line 7"]);
    expect(records[3]!.encodingError).toBe(true);
    expect(records[2]!.parseError).toBeDefined();
  });

  it("keeps lines that run across reads whole, and one longer than a read", async () => {
    const long = "x".repeat(MIB + 123);
    const lines = Array.from({ length: 3_000 }, (_, i) =>
      JSON.stringify({ id: `d${i}`, content: i === 1_500 ? long : `document ${i} ${"y".repeat(i % 700)}` }),
    );
    // No newline after the last line: it ends at the end of the file.
    const source = await openInput(writeFile(dir, "long.jsonl", lines.join("\n")));
    const records = await expectSameRecords(source);
    expect(records).toHaveLength(3_000);
    expect((records[1_500]!.raw as { content: string }).content).toBe(long);
    expect(records.at(-1)!.next).toBe(fs.statSync(path.join(dir, "long.jsonl")).size);
    expect((await inBatches(source, 0)).length).toBeGreaterThan(1);
  });

  it("gives a JSON file's documents and a folder's files as `records` does", async () => {
    const documents = Array.from({ length: 600 }, (_, i) => ({ id: `j${i}`, content: `text ${i}` }));
    await expectSameRecords(await openInput(writeFile(dir, "docs.json", JSON.stringify({ documents }))));
    const folder = path.join(dir, "folder");
    for (let i = 0; i < 300; i++)
      writeFile(folder, `sub${i % 3}/f${i}.${i % 50 === 0 ? "png" : "md"}`, `# ${i}`);
    const records = await expectSameRecords(await openInput(folder));
    expect(records).toHaveLength(300);
    expect(records.filter((r) => r.skipped)).toHaveLength(6);
  });
});
