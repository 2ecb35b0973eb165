import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileFilter } from "../../src/input/file-filter.js";
import { listFiles } from "../../src/input/folder-listing.js";
import { type InputRecord, openInput } from "../../src/input/sources.js";
import { validateInput } from "../../src/input/validate.js";
import { tempDir } from "../helpers/cli.js";
import { writeFile } from "../helpers/fixtures.js";

let dir = "";
let outside = "";

beforeAll(() => {
  dir = tempDir("docbatch-listing-");
  outside = tempDir("docbatch-listing-outside-");
  fs.writeFileSync(path.join(outside, "secret.txt"), "outside\n");
  // More files than one stat slice, in folders listed out of order by name.
  for (let i = 0; i < 1_200; i++) writeFile(dir, `many/f${i}.txt`, `file ${i}\n`);
  writeFile(dir, "b.md", "# b\n");
  writeFile(dir, "a.txt", "a\n");
  writeFile(dir, "A.txt", "upper\n");
  writeFile(dir, "z/deep/x.txt", "x\n");
  writeFile(dir, "z/.docbatchignore/inside.txt", "left out with its folder\n");
  writeFile(dir, ".git/HEAD", "ref\n");
  writeFile(dir, "z/.git", "gitdir: elsewhere\n");
  writeFile(dir, "store.db", "not a document\n");
  writeFile(dir, "store.db-wal", "not a document\n");
  fs.symlinkSync(path.join(dir, "a.txt"), path.join(dir, "link.txt"));
  fs.symlinkSync(path.join(dir, "missing.txt"), path.join(dir, "dangling.txt"));
  fs.symlinkSync(path.join(outside, "secret.txt"), path.join(dir, "escape.txt"));
  fs.symlinkSync(outside, path.join(dir, "outdir"));
  fs.symlinkSync(dir, path.join(dir, "z", "loop"));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe("folder listing", () => {
  it("lists regular files and symlinks to files, sorted, with their stat, and leaves the rest out", async () => {
    const files = await listFiles(
      dir,
      new Set([path.join(dir, "store.db"), path.join(dir, "store.db-wal")]),
      FileFilter.forFolder(dir),
    );
    const rels = files.map((f) => f.rel);
    const expected = [
      "A.txt",
      "a.txt",
      "b.md",
      "escape.txt",
      "link.txt",
      ...Array.from({ length: 1_200 }, (_, i) => `many/f${i}.txt`).sort(),
      "z/deep/x.txt",
    ];
    expect(rels).toEqual(expected);
    for (const file of files) {
      const stat = fs.statSync(path.join(dir, file.rel));
      expect({ size: file.size, mtimeMs: file.mtimeMs, ino: file.ino }).toEqual({
        size: stat.size,
        mtimeMs: stat.mtimeMs,
        ino: stat.ino,
      });
      expect(file.symlink).toBe(file.rel === "link.txt" || file.rel === "escape.txt");
    }
  });

  it("gives a folder's records in listing order, from any offset, with the escaping symlink refused", async () => {
    const source = await openInput(dir, { storeFiles: [path.join(dir, "store.db")] });
    const all: InputRecord[] = [];
    for await (const record of source.records(0)) all.push(record);
    const escaping = all.find((r) => r.where === "escape.txt");
    expect(escaping?.parseError).toMatch(/outside/);
    expect(all.filter((r) => r.parseError !== undefined).map((r) => r.where)).toEqual(["escape.txt"]);
    expect(all.map((r) => r.next)).toEqual(all.map((_, i) => i + 1));
    // Validation refuses the folder for that symlink, and for nothing else.
    const refused = await validateInput(source).then(
      () => null,
      (err: { code: string; details: { path: string }[] }) => err,
    );
    expect(refused?.code).toBe("INVALID_INPUT");
    expect(refused?.details.map((d) => d.path)).toEqual(["escape.txt"]);
    const rest: InputRecord[] = [];
    for await (const record of source.records(700)) rest.push(record);
    expect(rest.map((r) => r.where)).toEqual(all.slice(700).map((r) => r.where));
    // The same listing gives the same fingerprint; a touched file changes it.
    const again = await openInput(dir, { storeFiles: [path.join(dir, "store.db")] });
    expect(await again.fingerprint()).toBe(await source.fingerprint());
    fs.utimesSync(path.join(dir, "many/f7.txt"), new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    const touched = await openInput(dir, { storeFiles: [path.join(dir, "store.db")] });
    expect(await touched.fingerprint()).not.toBe(await source.fingerprint());
  });

  it("chooses files alike with no rules as with an ignore file of comments only", () => {
    const plain = tempDir("docbatch-filter-");
    const commented = tempDir("docbatch-filter-");
    fs.writeFileSync(path.join(commented, ".docbatchignore"), "# nothing left out\n\n");
    try {
      const none = FileFilter.forFolder(plain);
      const globbed = FileFilter.forFolder(commented);
      const part = fc.constantFrom(
        "a",
        "b.txt",
        ".docbatchignore",
        ".git",
        ".svn",
        ".docbatch",
        "x.md",
        ".hidden",
        "c d",
      );
      fc.assert(
        fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
          const rel = parts.join("/");
          expect(none.includes(rel)).toBe(globbed.includes(rel));
        }),
        { numRuns: 500 },
      );
    } finally {
      fs.rmSync(plain, { recursive: true, force: true });
      fs.rmSync(commented, { recursive: true, force: true });
    }
  });
});
